import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const root = path.join(__dirname, '..', '..');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'local', 'cli', 'start.ts'), ...args],
      {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
        timeout: 120_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

describe('npm start', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'cli-test-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('runs a job, prints progress on stderr and the result on stdout, and exits by outcome', async () => {
    const contextFile = path.join(dataDir, 'context.json');
    writeFileSync(contextFile, JSON.stringify({ targetAudience: 'hikers' }));
    const [succeeded, asJson, failed, badUsage] = await Promise.all([
      runCli(['Write a product description for a new eco-friendly water bottle'], {
        LOCAL_DATA_DIR: path.join(dataDir, 'a'),
      }),
      runCli(['Research the history of tea', '--json', '--context-file', contextFile], {
        LOCAL_DATA_DIR: path.join(dataDir, 'b'),
      }),
      runCli(['Research the history of tea'], {
        LOCAL_DATA_DIR: path.join(dataDir, 'c'),
        SIM_MODEL_FAULTS: 'malformed_plan=1',
      }),
      runCli(['--profile'], { LOCAL_DATA_DIR: path.join(dataDir, 'd') }),
    ]);

    expect(succeeded.code).toBe(0);
    expect(succeeded.stderr).toContain('Model: SIMULATED (a local test double, not real generation)');
    expect(succeeded.stderr).toMatch(/Plan: \d subtasks/);
    expect(succeeded.stderr).toMatch(/✓ [a-z-]+ done/);
    expect(succeeded.stderr).toMatch(/SUCCEEDED in [\d.]+s · \d\/\d subtasks succeeded/);
    expect(succeeded.stdout).toContain('eco-friendly water bottle');
    expect(succeeded.stdout).not.toContain('Planning');

    expect(asJson.code).toBe(0);
    const view = JSON.parse(asJson.stdout) as {
      status: string;
      context: unknown;
      subtasks: unknown[];
      synthesis: string;
    };
    expect(view).toMatchObject({ status: 'SUCCEEDED', context: { targetAudience: 'hikers' } });
    expect(view.subtasks.length).toBeGreaterThanOrEqual(3);

    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('Job failed: InvalidPlan');
    expect(failed.stdout).toBe('');

    expect(badUsage.code).toBe(2);
    expect(badUsage.stderr).toMatch(/error: .*--profile/);
    expect(badUsage.stderr).toContain('Usage: npm start');
  }, 180_000); // four CLI processes, each synthesizing the whole app, on a busy 2-core machine

  it('asks for approval only on a terminal: without one it exits 2 before starting, unless --yes approves', async () => {
    const [refused, approved] = await Promise.all([
      runCli(['Write a tagline for a bike shop', '--profile', 'marketing', '--approval', 'required'], {
        LOCAL_DATA_DIR: path.join(dataDir, 'e'),
      }),
      runCli(
        [
          'Write a tagline for a bike shop',
          '--profile',
          'marketing',
          '--approval',
          'required',
          '--yes',
          '--max-cost-usd',
          '2',
          '--json',
        ],
        { LOCAL_DATA_DIR: path.join(dataDir, 'f') },
      ),
    ]);

    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass --yes to approve the plan without asking');
    expect(refused.stderr).not.toContain('started');
    expect(approved.code).toBe(0);
    expect(approved.stderr).toMatch(/The plan of job \S+ waits for approval: \d subtasks/);
    expect(approved.stderr).toMatch(/Estimate \(an upper bound[^)]*\): at most \$\d+\.\d\d/);
    expect(approved.stderr).toContain('Approved (--yes)');
    const view = JSON.parse(approved.stdout) as {
      status: string;
      approval: { comment: string };
      budget: unknown;
    };
    expect(view).toMatchObject({
      status: 'SUCCEEDED',
      approval: { decision: 'approve', comment: 'Approved with --yes' },
      budget: { maxCostUsd: 2, maxOutputTokens: null },
    });
  }, 180_000);
});
