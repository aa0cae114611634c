import * as path from 'node:path';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Match } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import aslValidator from 'asl-validator';
import { buildApp } from '../../../lib/app';
import { DEFAULT_MODELS, modelsForRole, parseConfig, profileModelProblems } from '../../../lib/config';
import { FUNCTION_RUNTIME } from '../../../lib/constructs/workflow-function';
import { PROFILES } from '../../../lambdas/shared/domain/profiles';
import { ERROR_POLICY, RETRY_TIMING, errorsOfClass } from '../../../lambdas/shared/domain/error-policy';
import { type AslDefinition, type AslState, synthesize } from '../../helpers/synth';

const { template, json, definition } = synthesize();

function state(machine: AslDefinition, name: string): AslState {
  const found = machine.States[name];
  if (!found) throw new Error(`No state ${name}`);
  return found;
}
/** The outer Map over waves, and the per-wave Map of subtasks inside it. */
const waveProcessor = (machine: AslDefinition) => state(machine, 'RunWaves').ItemProcessor as AslDefinition;
const runSubtasksOf = (machine: AslDefinition) => state(waveProcessor(machine), 'RunSubtasks');
const itemProcessor = (machine: AslDefinition) => runSubtasksOf(machine).ItemProcessor as AslDefinition;
const retryFor = (s: AslState, error: string) => s.Retry?.find((retry) => retry.ErrorEquals.includes(error));

/** The logical id of the function a Task state invokes. */
function functionOf(s: AslState): string {
  const name = String((s.Parameters as { FunctionName: string }).FunctionName);
  return name.split(':function:')[1] ?? '';
}

describe('orchestrator state machine', () => {
  it('is a Standard state machine with tracing and full logging', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
  });

  it('passes the definition through asl-validator', () => {
    const result = aslValidator(definition as never);
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it('runs Plan, then the waves one after another, then Synthesize, then Done', () => {
    expect(definition.StartAt).toBe('Plan');
    expect(state(definition, 'Plan').Next).toBe('RunWaves');
    expect(state(definition, 'RunWaves')).toMatchObject({
      Type: 'Map',
      MaxConcurrency: 1,
      ItemsPath: '$.plan.waves',
      Next: 'Synthesize',
    });
    expect(waveProcessor(definition).StartAt).toBe('RunSubtasks');
    expect(state(definition, 'Synthesize').Next).toBe('Done');
    expect(state(definition, 'Done').Type).toBe('Succeed');
  });

  it('fans out over the subtask ids of a wave only, with MaxConcurrency 10 by default', () => {
    const map = runSubtasksOf(definition);
    expect(map).toMatchObject({
      Type: 'Map',
      MaxConcurrency: 10,
      ItemsPath: '$.subtaskIds',
      ItemSelector: { 'jobId.$': '$.jobId', 'subtaskId.$': '$$.Map.Item.Value' },
    });
    expect(itemProcessor(definition).StartAt).toBe('RunSubtask');
  });

  it('takes MaxConcurrency from the configuration', () => {
    const configured = synthesize({ maxConcurrency: 3 });
    expect(runSubtasksOf(configured.definition).MaxConcurrency).toBe(3);
  });

  it.each(['Plan', 'RunSubtask', 'Synthesize'])(
    'retries throttling in %s with exponential backoff and full jitter',
    (name) => {
      const s = name === 'RunSubtask' ? state(itemProcessor(definition), name) : state(definition, name);
      for (const error of ['ModelRateLimited', 'ModelOverloaded']) {
        expect(retryFor(s, error)).toEqual(
          expect.objectContaining({
            BackoffRate: 2,
            JitterStrategy: 'FULL',
            MaxDelaySeconds: 60,
            MaxAttempts: 6,
          }),
        );
      }
      for (const error of ['ModelUnavailable', 'ModelTimeout', ...errorsOfClass('lambda-service')]) {
        expect(retryFor(s, error)).toEqual(
          expect.objectContaining({ JitterStrategy: 'FULL', MaxDelaySeconds: expect.any(Number) }),
        );
      }
    },
  );

  it.each(['Plan', 'RunSubtask', 'Synthesize'])(
    'retries every error the policy retries in %s with the timing of its class',
    (name) => {
      const s = name === 'RunSubtask' ? state(itemProcessor(definition), name) : state(definition, name);
      const expected = Object.entries(ERROR_POLICY).map(([error, entry]) => {
        if (entry.class === 'final') return { error, rule: undefined };
        const timing = RETRY_TIMING[entry.class];
        return {
          error,
          rule: expect.objectContaining({
            IntervalSeconds: timing.intervalSeconds,
            BackoffRate: timing.backoffRate,
            MaxAttempts: timing.maxAttempts,
            MaxDelaySeconds: timing.maxDelaySeconds,
            JitterStrategy: 'FULL',
          }),
        };
      });
      expect(Object.keys(ERROR_POLICY).map((error) => ({ error, rule: retryFor(s, error) }))).toEqual(
        expected,
      );
    },
  );

  it.each(['Plan', 'RunSubtask', 'Synthesize'])(
    'waits out Lambda throttling in %s longer than other Lambda service errors (2 s, ×2, 6 attempts)',
    (name) => {
      const s = name === 'RunSubtask' ? state(itemProcessor(definition), name) : state(definition, name);
      expect(retryFor(s, 'Lambda.TooManyRequestsException')).toEqual(
        expect.objectContaining({ IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 6 }),
      );
      expect(retryFor(s, 'Lambda.TooManyRequestsException')).not.toEqual(
        retryFor(s, 'Lambda.ServiceException'),
      );
    },
  );

  it.each(['Plan', 'RunSubtask', 'Synthesize'])(
    'retries %s when the function runs out of time (middy ends it with TimeoutError just before the deadline)',
    (name) => {
      const s = name === 'RunSubtask' ? state(itemProcessor(definition), name) : state(definition, name);
      expect(retryFor(s, 'TimeoutError')).toEqual(retryFor(s, 'Sandbox.Timedout'));
      expect(retryFor(s, 'TimeoutError')).toEqual(expect.objectContaining({ MaxAttempts: 3 }));
    },
  );

  it.each(['Plan', 'RunSubtask', 'Synthesize'])(
    'retries a crash of the function in %s (it is idempotent), a few times with backoff',
    (name) => {
      const s = name === 'RunSubtask' ? state(itemProcessor(definition), name) : state(definition, name);
      for (const error of ['Runtime.ExitError', 'Runtime.Unknown', 'Lambda.Unknown']) {
        expect(retryFor(s, error)).toEqual(
          expect.objectContaining({ MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'FULL' }),
        );
      }
    },
  );

  it.each(['Plan', 'RunSubtask', 'Synthesize'])(
    'never retries rejected requests, refusals, empty answers or invalid plans in %s',
    (name) => {
      const s = name === 'RunSubtask' ? state(itemProcessor(definition), name) : state(definition, name);
      for (const error of [
        'ModelRequestRejected',
        'ModelRefused',
        'EmptyModelOutput',
        'InvalidPlan',
        'States.ALL',
      ])
        expect(retryFor(s, error)).toBeUndefined();
    },
  );

  it('catches any failure of one subtask into RecordSubtaskFailure, so the job goes on', () => {
    const worker = state(itemProcessor(definition), 'RunSubtask');
    expect(worker.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], Next: 'RecordSubtaskFailure', ResultPath: '$.error' },
    ]);
    expect(state(itemProcessor(definition), 'RecordSubtaskFailure').End).toBe(true);
  });

  it('sends any unhandled error of Plan, RunWaves or Synthesize to MarkFailed, then fails the execution', () => {
    for (const name of ['Plan', 'RunWaves', 'Synthesize']) {
      expect(state(definition, name).Catch).toEqual([
        { ErrorEquals: ['States.ALL'], Next: 'MarkFailed', ResultPath: '$.error' },
      ]);
    }
    expect(state(definition, 'MarkFailed').Next).toBe('JobFailed');
    expect(state(definition, 'JobFailed')).toMatchObject({
      Type: 'Fail',
      ErrorPath: '$.failure.error',
      CausePath: '$.failure.cause',
    });
  });

  it('sets an explicit timeout on every task, longer than its function timeout', () => {
    const tasks = [
      ...Object.entries(definition.States),
      ...Object.entries(itemProcessor(definition).States),
    ].filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBe(5);
    for (const [, s] of tasks) {
      const functionTimeout = Number(json.Resources[functionOf(s)]?.Properties?.Timeout);
      expect(s.TimeoutSeconds).toBeGreaterThan(functionTimeout);
    }
  });

  it('keeps model outputs out of the state: results are reduced to ids and statuses', () => {
    expect(state(definition, 'Plan').ResultSelector).toEqual({
      'waves.$': '$.Payload.waves',
      'planAttempts.$': '$.Payload.planAttempts',
    });
    expect(Object.keys(state(itemProcessor(definition), 'RunSubtask').ResultSelector as object)).toEqual([
      'subtaskId.$',
      'status.$',
      'attempts.$',
    ]);
  });
});

describe('jobs table', () => {
  it('is on demand, with point-in-time recovery, TTL and encryption', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true },
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    });
  });
});

describe('functions', () => {
  const functions = template.findResources('AWS::Lambda::Function');
  const byDescription = (text: string) => {
    const entry = Object.entries(functions).find(([, resource]) =>
      String(resource.Properties.Description).startsWith(text),
    );
    if (!entry) throw new Error(`No function described as ${text}`);
    return { logicalId: entry[0], properties: entry[1].Properties };
  };

  it('use the newest Node.js runtime CDK offers, on arm64, with tracing', () => {
    const newest = Object.values(lambda.Runtime)
      .filter((value): value is lambda.Runtime => value instanceof lambda.Runtime)
      .filter((runtime) => /^nodejs\d+\.x$/.test(runtime.name))
      .sort((a, b) => parseInt(b.name.slice(6), 10) - parseInt(a.name.slice(6), 10))[0];
    expect(FUNCTION_RUNTIME.name).toBe(newest?.name);
    expect(Object.keys(functions)).toHaveLength(9);
    for (const resource of Object.values(functions)) {
      expect(resource.Properties).toMatchObject({
        Runtime: FUNCTION_RUNTIME.name,
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
      });
    }
  });

  it('never carry the API key in their environment, only the secret ARN, and only where a model is called', () => {
    for (const resource of Object.values(functions)) {
      const variables = resource.Properties.Environment?.Variables ?? {};
      expect(variables).not.toHaveProperty('ANTHROPIC_API_KEY');
    }
    for (const description of ['Plans a job', 'Runs one subtask', 'Combines']) {
      expect(
        byDescription(description).properties.Environment.Variables.ANTHROPIC_API_KEY_SECRET_ARN,
      ).toEqual({ Ref: expect.stringMatching(/^AnthropicApiKey/) });
    }
    for (const description of ['Records why', 'Records a job as FAILED']) {
      expect(byDescription(description).properties.Environment.Variables).not.toHaveProperty(
        'ANTHROPIC_API_KEY_SECRET_ARN',
      );
    }
  });

  it('get the per-role models', () => {
    expect(byDescription('Plans a job').properties.Environment.Variables.MODEL).toBe(
      DEFAULT_MODELS.orchestrator,
    );
    expect(byDescription('Runs one subtask').properties.Environment.Variables.MODEL).toBe(
      DEFAULT_MODELS.worker,
    );
    expect(byDescription('Combines').properties.Environment.Variables.MODEL).toBe(DEFAULT_MODELS.synthesis);
  });

  /** Every action each function's role may perform, across all its policies. */
  function actionsOf(logicalId: string): string[] {
    const roleId = (functions[logicalId]?.Properties.Role as { 'Fn::GetAtt': [string, string] })[
      'Fn::GetAtt'
    ][0];
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
      (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId),
    );
    return policies
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as { Action: string | string[] }[])
      .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]))
      .sort();
  }

  it.each([
    [
      'Plans a job',
      [
        'dynamodb:BatchWriteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
      ],
    ],
    [
      'Runs one subtask',
      [
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
      ],
    ],
    [
      'Combines',
      [
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
      ],
    ],
    ['Records why', ['dynamodb:UpdateItem']],
    ['Records a job as FAILED', ['dynamodb:UpdateItem']],
    [
      'Jobs API',
      [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        'states:StartExecution',
        'states:StartExecution',
        'states:StopExecution',
      ],
    ],
  ])('"%s…" may do exactly what its code does', (description, expected) => {
    const actions = actionsOf(byDescription(description).logicalId).filter(
      (action) => !action.startsWith('xray:') && !action.startsWith('logs:'),
    );
    expect(actions).toEqual(expected);
  });

  it('scope table access to the jobs table alone', () => {
    type Statement = { Action: string | string[]; Resource: unknown };
    const tableStatements = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
      .filter((statement) => [statement.Action].flat().some((action) => action.startsWith('dynamodb:')));

    expect(tableStatements.length).toBeGreaterThanOrEqual(5);
    for (const statement of tableStatements) {
      expect(JSON.stringify(statement.Resource)).toMatch(/JobsTable/);
      expect(JSON.stringify(statement.Resource)).not.toContain('"*"');
    }
  });
});

describe('configuration', () => {
  it('defaults to models that are not in the SDK deprecated list', () => {
    const sdkDir = path.dirname(require.resolve('@anthropic-ai/sdk'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DEPRECATED_MODELS } = require(path.join(sdkDir, 'internal', 'data', 'deprecated-models.js')) as {
      DEPRECATED_MODELS: Record<string, string>;
    };
    expect(Object.keys(DEPRECATED_MODELS).length).toBeGreaterThan(0);
    for (const model of Object.values(DEFAULT_MODELS)) expect(DEPRECATED_MODELS).not.toHaveProperty(model);
  });

  it('fails with the field named when a value is out of range', () => {
    expect(() => parseConfig({ maxConcurrency: 0 })).toThrow(/maxConcurrency/);
    expect(() => parseConfig({ maxSubtasks: 0 })).toThrow(/maxSubtasks/);
    expect(() => parseConfig({ maxConcurency: 5 })).toThrow(/Unrecognized key/);
  });
});

describe('bundling for deployment', () => {
  it.each(['anthropic', 'bedrock'] as const)(
    'bundles every function with esbuild, without Docker, for provider %s',
    (provider) => {
      const outdir = mkdtempSync(path.join(tmpdir(), 'cdk-out-'));
      try {
        const { app } = buildApp({ config: parseConfig({ provider }), outdir });
        app.synth();
        const assets = readdirSync(outdir).filter((name) => name.startsWith('asset.'));
        expect(assets).toHaveLength(9);
        const errorModuleCopies: number[] = [];
        let modelFunctions = 0;
        for (const asset of assets) {
          const bundle = path.join(outdir, asset, 'index.js');
          expect(statSync(bundle).size).toBeGreaterThan(10_000);
          // One copy of the SDK's error classes (the message is unique to APIConnectionTimeoutError): with
          // two (its CJS and ESM builds), errors thrown by the Bedrock client would fail `instanceof` in
          // classifyModelError and escape unnamed.
          const code = readFileSync(bundle, 'utf8');
          const copies = code.match(/["']Request timed out\.["']/g)?.length ?? 0;
          errorModuleCopies.push(copies);
          if (copies > 0) modelFunctions++;
          // The runtime's AWS SDK is required, not bundled: every function talks to DynamoDB.
          expect(code).toContain('require("@aws-sdk/client-dynamodb")');
          expect(code).toContain('require("@aws-sdk/lib-dynamodb")');
          expect(code).not.toContain('DynamoDB_20120810');
          // `import * as z`: zod's locales (e.g. the Indonesian error messages) stay out of the bundle.
          expect(code).not.toContain('Input tidak valid');
          // The Bedrock SDK (SigV4 signing and its AWS dependencies) only in bedrock deployments.
          expect(code.includes('AWS4-HMAC-SHA256')).toBe(provider === 'bedrock' && copies > 0);
          expect(statSync(bundle).size).toBeLessThan(provider === 'anthropic' ? 1_000_000 : 1_048_576);
        }
        expect(modelFunctions).toBe(3);
        expect(Math.max(...errorModuleCopies)).toBe(1);
      } finally {
        rmSync(outdir, { recursive: true, force: true });
      }
    },
  );
});

describe('models a role may call', () => {
  const withWorkerModel = (model: string) => [{ ...PROFILES[1]!, models: { worker: model } }];

  it('are the deployment model plus any a profile sets for that role', () => {
    const config = parseConfig({ provider: 'bedrock' });
    expect(modelsForRole(config, 'worker', withWorkerModel('us.anthropic.claude-opus-5-5'))).toEqual([
      config.models.worker,
      'us.anthropic.claude-opus-5-5',
    ]);
    expect(modelsForRole(config, 'orchestrator', withWorkerModel('us.anthropic.claude-opus-5-5'))).toEqual([
      config.models.orchestrator,
    ]);
  });

  it('refuse a profile model id of the other provider, naming the profile', () => {
    expect(profileModelProblems('bedrock', withWorkerModel('claude-opus-5-5'))).toEqual([
      'profile marketing: models.worker "claude-opus-5-5" is not a Bedrock model id (provider is "bedrock")',
    ]);
    expect(profileModelProblems('anthropic', withWorkerModel('us.anthropic.claude-opus-5-5'))).toEqual([
      'profile marketing: models.worker "us.anthropic.claude-opus-5-5" is a Bedrock model id (provider is "anthropic")',
    ]);
    expect(profileModelProblems('anthropic', withWorkerModel('claude-opus-5-5'))).toEqual([]);
  });
});

describe('function roles', () => {
  it('carry no managed policy and may write logs only to their own log group', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    const roles = template.findResources('AWS::IAM::Role');
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    expect(Object.keys(functions).length).toBeGreaterThanOrEqual(6);
    for (const fn of Object.values(functions)) {
      const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const logGroupId = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(roles[roleId]?.Properties.ManagedPolicyArns).toBeUndefined();
      const logStatements = policies
        .filter((policy) =>
          (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId),
        )
        .flatMap(
          (policy) =>
            policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
        )
        .filter((statement) => [statement.Action].flat().some((action) => action.startsWith('logs:')));
      expect(logStatements).toHaveLength(1);
      expect(JSON.stringify(logStatements[0]?.Resource)).toContain(logGroupId);
    }
  });
});
