import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LocalOrchestrator } from '../../local/runtime/stack';

const ROOT = path.join(__dirname, '..', '..');
const BASE_ENV = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a CLI the way its npm script does (`node --require tsx/cjs …`). */
function runCli(script: string, args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--require', 'tsx/cjs', path.join(ROOT, script), ...args],
      { cwd: ROOT, env: { ...BASE_ENV, ...env }, timeout: 120_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

/** Starts `npm run serve` on free ports and resolves once it has printed its addresses. */
function startServe(env: Record<string, string>): Promise<{
  process: ChildProcess;
  sfnUrl: string;
  apiUrl: string;
  output: () => string;
}> {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(ROOT, 'local/server/cli.ts')], {
    cwd: ROOT,
    env: {
      ...BASE_ENV,
      API_PORT: '0',
      SFN_PORT: '0',
      DYNAMODB_PORT: '0',
      SIM_MODEL_PORT: '0',
      CONSOLE_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const sfn = /Step Functions\s+(http:\/\/\S+)/.exec(output);
      const api = /Jobs API\s+(http:\/\/\S+)/.exec(output);
      if (sfn?.[1] && api?.[1] && output.includes('Ctrl-C stops the server'))
        resolve({ process: child, sfnUrl: sfn[1], apiUrl: api[1], output: () => output });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`npm run serve exited ${code}: ${output}`)));
  });
}

async function sfn<T>(url: string, action: string, body: unknown): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'x-amz-target': `AWSStepFunctions.${action}`, 'content-type': 'application/x-amz-json-1.0' },
    body: JSON.stringify(body),
  });
  return (await response.json()) as T;
}

const jobIdOf = (run: CliRun) => /Job (\S+) started/.exec(run.stderr)?.[1];

describe('several local runs in one checkout', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'shared-data-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('runs four npm start at once beside npm run serve; every job is stored and seen by the others', async () => {
    // Arrange: a server on the folder (its console reads the executions), then four CLIs at once.
    const apiKey = 'shared-folder-test-key';
    const serve = await startServe({ LOCAL_DATA_DIR: dataDir, LOCAL_API_KEY: apiKey });
    try {
      // Act
      const runs = await Promise.all(
        ['a bike shop', 'a bakery', 'a bookshop', 'a barber'].map((shop) =>
          runCli('local/cli/start.ts', [`Write a tagline for ${shop}`], { LOCAL_DATA_DIR: dataDir }),
        ),
      );

      // Assert: each run succeeded, with no crash of the store.
      for (const run of runs) {
        expect(run.stderr).not.toMatch(/Database is (closed|not open)/);
        expect(run.code).toBe(0);
        expect(run.stderr).toMatch(/SUCCEEDED in/);
      }
      const jobIds = runs.map(jobIdOf);
      expect(jobIds.every(Boolean)).toBe(true);

      // The running server sees every job (jobs API) and every execution with its history (console's protocol).
      const { stateMachines } = await sfn<{ stateMachines: { stateMachineArn: string; name: string }[] }>(
        serve.sfnUrl,
        'ListStateMachines',
        {},
      );
      const orchestratorArn = stateMachines.find(
        (machine) => machine.name === 'orchestrator',
      )?.stateMachineArn;
      const { executions } = await sfn<{
        executions: { name: string; status: string; executionArn: string }[];
      }>(serve.sfnUrl, 'ListExecutions', { stateMachineArn: orchestratorArn });
      for (const jobId of jobIds) {
        const execution = executions.find((candidate) => candidate.name === jobId);
        expect(execution?.status).toBe('SUCCEEDED');
        const { events } = await sfn<{ events: { type: string }[] }>(serve.sfnUrl, 'GetExecutionHistory', {
          executionArn: execution?.executionArn,
        });
        expect(events[0]?.type).toBe('ExecutionStarted');
        expect(events.at(-1)?.type).toBe('ExecutionSucceeded');
        const job = await fetch(`${serve.apiUrl}/jobs/${jobId}`, { headers: { 'x-api-key': apiKey } });
        expect(((await job.json()) as { status: string }).status).toBe('SUCCEEDED');
      }
    } finally {
      serve.process.kill('SIGTERM');
      await new Promise((resolve) => serve.process.once('exit', resolve));
    }

    // And after every process has gone, a new one remembers them all: jobs and executions.
    const later = await LocalOrchestrator.start({ model: { kind: 'simulated' }, dataDir });
    try {
      const executions = await later.stepFunctions.findExecutions({ stateMachineArn: later.stateMachineArn });
      expect(executions.filter((execution) => execution.status === 'SUCCEEDED')).toHaveLength(4);
      for (const execution of executions) {
        expect((await later.getJobView(execution.name))?.status).toBe('SUCCEEDED');
        expect((await later.stepFunctions.executionHistory(execution.executionArn)).length).toBeGreaterThan(
          10,
        );
      }
    } finally {
      await later.close();
    }
  }, 180_000);

  it('runs npm run batch beside npm start in one folder', async () => {
    // Act
    const [batch, start] = await Promise.all([
      runCli('local/cli/batch.ts', ['batches/nightly-product-descriptions.json'], {
        LOCAL_DATA_DIR: dataDir,
      }),
      runCli('local/cli/start.ts', ['Write a tagline for a tea room'], { LOCAL_DATA_DIR: dataDir }),
    ]);

    // Assert
    // (code and stderr together, so that a failure shows what the CLI said)
    expect(`exit ${start.code}\n${start.stderr}`).toMatch(/^exit 0\n/);
    expect(batch.stderr).not.toMatch(/Database is (closed|not open)/);
    expect(`exit ${batch.code}\n${batch.stderr}`).toMatch(/^exit 0\n/);
  }, 180_000);

  it('says in one line, exit 2, when npm start cannot open the shared store (its DynamoDB port taken)', async () => {
    // Arrange: a fresh folder (so this process would own the store) and its fixed port already taken.
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const fresh = mkdtempSync(path.join(tmpdir(), 'ow-store-'));
    try {
      // Act
      const run = await runCli('local/cli/start.ts', ['Write a tagline for a ferry'], {
        LOCAL_DATA_DIR: fresh,
        DYNAMODB_PORT: String(port),
      });

      // Assert: one clear line, no stack trace.
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(
        `error: DynamoDB port ${port} is in use; set DYNAMODB_PORT to another port`,
      );
      expect(run.stderr).not.toMatch(/\n\s+at /);
    } finally {
      blocker.close();
      rmSync(fresh, { recursive: true, force: true });
    }
  }, 60_000);

  it('says in one line, exit 2, when a second npm run serve finds its fixed port taken', async () => {
    // Arrange: something already listens where the server wants its Step Functions endpoint.
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      // Act
      const second = await new Promise<CliRun>((resolve) => {
        execFile(
          process.execPath,
          ['--require', 'tsx/cjs', path.join(ROOT, 'local/server/cli.ts')],
          {
            cwd: ROOT,
            env: { ...BASE_ENV, LOCAL_DATA_DIR: dataDir, SFN_PORT: String(port) },
            timeout: 60_000,
          },
          (error, stdout, stderr) =>
            resolve({
              code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
              stdout,
              stderr,
            }),
        );
      });

      // Assert
      expect(second.code).toBe(2);
      expect(second.stderr.trim().split('\n')).toEqual([
        `error: port ${port} is in use (another npm run serve?); set SFN_PORT to another port`,
      ]);
    } finally {
      blocker.close();
    }
  }, 60_000);
});
