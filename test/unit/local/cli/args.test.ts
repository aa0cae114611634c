import { parseCliArgs, UsageError } from '../../../../local/cli/args';
import { modelModeFromEnv, providerFromEnv } from '../../../../local/cli/model-mode';
import { formatProfiles } from '../../../../local/cli/start';
import { profileSummaries } from '../../../../lambdas/shared/domain/profiles';

describe('command-line arguments', () => {
  it('builds a job request from the task, context and profile', () => {
    expect(parseCliArgs(['Describe a bike lock', '--context', '{"audience":"commuters"}', '--json'])).toEqual(
      {
        kind: 'run',
        json: true,
        yes: false,
        request: { task: 'Describe a bike lock', context: { audience: 'commuters' }, profile: 'research' },
      },
    );
  });

  it('takes the approval policy and the budget', () => {
    expect(
      parseCliArgs([
        'task',
        '--approval',
        'required',
        '--max-cost-usd',
        '0.5',
        '--max-output-tokens',
        '20000',
        '--yes',
      ]),
    ).toMatchObject({
      yes: true,
      request: { approval: 'required', budget: { maxCostUsd: 0.5, maxOutputTokens: 20_000 } },
    });
    expect(parseCliArgs(['task', '--auto-approve-under', '0.1'])).toMatchObject({
      request: { approval: { autoApproveUnderUsd: 0.1 } },
    });
  });

  it.each([
    [['--approval', 'sometimes'], '--approval: must be none or required'],
    [['--approval', 'required', '--auto-approve-under', '1'], 'either --approval or --auto-approve-under'],
    [['--max-cost-usd', 'lots'], '--max-cost-usd: must be a number'],
    [['--max-cost-usd=0'], '--max-cost-usd: must be more than 0'],
    [['--max-output-tokens', '1.5'], '--max-output-tokens: must be a whole number'],
  ])('refuses %j, naming the flag', (flags, message) => {
    expect(() => parseCliArgs(['task', ...flags])).toThrow(UsageError);
    expect(() => parseCliArgs(['task', ...flags])).toThrow(message);
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
