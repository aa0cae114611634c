import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseCliArgs, UsageError } from '../../local/cli/args';
import { formatProfiles, modelModeFromEnv, providerFromEnv } from '../../local/cli/start';
import { profileSummaries } from '../../lambdas/shared/domain/profiles';

describe('command-line arguments', () => {
  it('builds a job request from the task, context and profile', () => {
    expect(parseCliArgs(['Describe a bike lock', '--context', '{"audience":"commuters"}', '--json'])).toEqual(
      {
        kind: 'run',
        json: true,
        request: { task: 'Describe a bike lock', context: { audience: 'commuters' }, profile: 'research' },
      },
    );
  });

  it('reads the context from a file', () => {
    const command = parseCliArgs(['task', '--context-file', 'ctx.json'], () => '{"tone":"playful"}');
    expect(command).toMatchObject({ request: { context: { tone: 'playful' } } });
  });

  it.each([
    ['no task', [], /Missing the task/],
    ['two tasks', ['one', 'two'], /Expected one task argument but got 2/],
    ['a blank task', ['   '], /task: must not be empty/],
    ['an oversized task', ['x'.repeat(8_001)], /task: must be at most 8000 characters/],
    ['context that is not JSON', ['task', '--context', '{oops'], /--context: not valid JSON/],
    ['context that is not an object', ['task', '--context', '[1,2]'], /context: must be a JSON object/],
    [
      'both context flags',
      ['task', '--context', '{}', '--context-file', 'f.json'],
      /either --context or --context-file/,
    ],
    ['an unknown profile', ['task', '--profile', 'poetry'], /--profile: unknown profile "poetry"/],
    ['an unknown flag', ['task', '--verbose'], /Unknown option '--verbose'/],
    [
      'oversized context',
      ['task', '--context', JSON.stringify({ blob: 'x'.repeat(20_000) })],
      /context: must serialise to at most 16000 bytes/,
    ],
  ])('rejects %s with a message naming the problem', (_label, argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError);
    expect(() => parseCliArgs(argv)).toThrow(message);
  });

  it('lists the profiles', () => {
    expect(parseCliArgs(['--list-profiles'])).toEqual({ kind: 'list-profiles', json: false });
  });

  it('reads custom templates from a file and selects the custom profile', () => {
    const templates = { orchestrator: 'Plan {{task}}', worker: 'Write {{subtask.description}}' };
    const command = parseCliArgs(['Explain tides', '--templates-file', 't.json'], () =>
      JSON.stringify(templates),
    );
    expect(command).toMatchObject({ request: { profile: 'custom', templates } });
  });

  it('rejects custom templates with an unknown variable, naming it', () => {
    const templates = { orchestrator: 'Plan {{task}} {{mood}}', worker: 'Write {{subtask.description}}' };
    expect(() =>
      parseCliArgs(['Explain tides', '--templates-file', 't.json'], () => JSON.stringify(templates)),
    ).toThrow(/templates\.orchestrator: unknown variables \{\{mood\}\}/);
  });

  it('says which context file it could not read', () => {
    const missing = () => {
      throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    };
    expect(() => parseCliArgs(['task', '--context-file', 'missing.json'], missing)).toThrow(
      /cannot read missing.json \(ENOENT\)/,
    );
  });

  it('uses the Anthropic API when a key is set, honouring ANTHROPIC_BASE_URL', () => {
    expect(
      modelModeFromEnv({ ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9999' }),
    ).toEqual({
      kind: 'anthropic',
      apiKey: 'sk-test',
      baseUrl: 'http://127.0.0.1:9999',
    });
    expect(modelModeFromEnv({})).toMatchObject({ kind: 'simulated' });
  });

  it('prints every profile with its types and the custom template variables', () => {
    const text = formatProfiles(profileSummaries());
    expect(text).toContain('research (default):');
    expect(text).toContain('types: researcher, architect, developer, reviewer');
    expect(text).toContain('worker template: {{task}}, {{subtask.id}}');
  });

  it('runs the bedrock provider against the simulated model unless BEDROCK_LIVE=1, even with a key set', () => {
    expect(providerFromEnv({ MODEL_PROVIDER: 'bedrock' })).toBe('bedrock');
    expect(providerFromEnv({})).toBe('anthropic');
    expect(modelModeFromEnv({ MODEL_PROVIDER: 'bedrock', ANTHROPIC_API_KEY: 'sk-test' })).toMatchObject({
      kind: 'simulated',
    });
    expect(
      modelModeFromEnv({ MODEL_PROVIDER: 'bedrock', BEDROCK_LIVE: '1', AWS_REGION: 'eu-west-1' }),
    ).toEqual({
      kind: 'bedrock',
      region: 'eu-west-1',
    });
  });

  it('rejects an unknown MODEL_PROVIDER as a usage error', () => {
    expect(() => providerFromEnv({ MODEL_PROVIDER: 'vertex' })).toThrow(UsageError);
    expect(() => modelModeFromEnv({ MODEL_PROVIDER: 'vertex' })).toThrow(/MODEL_PROVIDER: must be one of/);
  });
});

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
});
