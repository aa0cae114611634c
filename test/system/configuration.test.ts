import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { type SimulatedModel, startSimulatedModel } from '../../local/simulated-model';

const ROOT = path.join(__dirname, '..', '..');

function runStart(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--require', 'tsx/cjs', path.join(ROOT, 'local', 'cli', 'start.ts'), ...args],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ...env,
        },
        timeout: 120_000,
      },
      (error, _stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr }),
    );
  });
}

describe('local runs read the configuration cdk synth reads', () => {
  let dir: string;
  let model: SimulatedModel;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'config-test-'));
    model = await startSimulatedModel();
  });
  afterAll(async () => {
    await model.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uses WORKER_MODEL and the orchestrator context for the calls it makes, and says so', async () => {
    // Arrange: the context sets the worker and synthesis models; the environment overrides the worker.
    const contextFile = path.join(dir, 'cdk.json');
    writeFileSync(
      contextFile,
      JSON.stringify({
        context: {
          orchestrator: {
            maxConcurrency: 3,
            models: { worker: 'claude-from-context', synthesis: 'claude-opus-4-1' },
          },
        },
      }),
    );

    // Act: the model is this test's simulated one, reached as the Anthropic API, so its request log is here.
    const run = await runStart(['Write a tagline for a bike shop'], {
      LOCAL_DATA_DIR: path.join(dir, 'data'),
      CDK_CONTEXT_FILE: contextFile,
      WORKER_MODEL: 'claude-haiku-4-5',
      ANTHROPIC_API_KEY: 'test-key',
      ANTHROPIC_BASE_URL: model.url,
    });

    // Assert
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(
      'Models: orchestrator claude-sonnet-5-5 · workers claude-haiku-4-5 · synthesis claude-opus-4-1 · up to 3 workers at once',
    );
    const modelsByRole = (role: string) =>
      new Set(model.requests.filter((request) => request.role === role).map((request) => request.model));
    expect(modelsByRole('worker')).toEqual(new Set(['claude-haiku-4-5']));
    expect(modelsByRole('synthesis')).toEqual(new Set(['claude-opus-4-1']));
    expect(modelsByRole('plan')).toEqual(new Set(['claude-sonnet-5-5']));
  }, 120_000);

  it('refuses an invalid configuration in one line with exit 2, as cdk synth refuses it', async () => {
    // Act
    const run = await runStart(['Write a tagline for a bike shop'], {
      LOCAL_DATA_DIR: path.join(dir, 'data'),
      MODEL_PROVIDER: 'bedrock',
      WORKER_MODEL: 'claude-haiku-4-5',
    });

    // Assert
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^error: Invalid orchestrator configuration: models\.worker: "claude-haiku-4-5" is not a Bedrock model id/,
    );
  }, 60_000);
});
