import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DEFAULT_MODELS, parseConfig } from '../../../lib/config';
import { FUNCTION_RUNTIME } from '../../../lib/constructs/workflow-function';
import { type AslDefinition, type AslState, synthesize } from '../../helpers/synth';
import { resolveIntrinsics } from '../../../local/runtime/synthesized-stack';

const { template } = synthesize();

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
    expect(Object.keys(functions)).toHaveLength(13);
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
    for (const description of ['Plans a job', 'Runs one subtask', 'Combines', 'Batch lane']) {
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
        // BatchWriteItem and Query: an output over 64 KiB is written and read back in chunks.
        'dynamodb:BatchWriteItem',
        'dynamodb:GetItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
      ],
    ],
    [
      'Combines',
      [
        'dynamodb:BatchWriteItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
      ],
    ],
    ['Records why', ['dynamodb:UpdateItem']],
    ['Records a job as FAILED', ['dynamodb:UpdateItem']],
    ["Checks a job's budget", ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem']],
    ['Keeps the AwaitApproval task token', ['dynamodb:UpdateItem']],
    [
      'Jobs API',
      [
        // DeleteItem: the subtasks a person takes out of a plan before it runs.
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        // Answering AwaitApproval's token (on the orchestrator state machine only; see below).
        'states:SendTaskFailure',
        'states:SendTaskSuccess',
        'states:StartExecution',
        'states:StartExecution',
        'states:StopExecution',
      ],
    ],
    ['Records a batch run', ['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']],
    [
      'Batch lane',
      [
        // What planJob, runSubtask and synthesizeJob do, plus the lane's own records; the key to call the API.
        'dynamodb:BatchWriteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
      ],
    ],
    [
      'Records jobs and batch runs whose execution',
      ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
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

describe('an existing API key secret', () => {
  const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:anthropic-AbCdEf';
  const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };
  const kmsStatements = (config: Parameters<typeof synthesize>[0]) =>
    Object.values(synthesize(config).template.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
      .filter((statement) => [statement.Action].flat().some((action) => action.startsWith('kms:Decrypt')))
      .filter((statement) => JSON.stringify(statement.Resource).includes(':key/'));

  it('encrypted with a customer key: the model functions (and the batch lane) may decrypt with that key, through Secrets Manager only', () => {
    const statements = kmsStatements({ apiKeySecretArn: secretArn, apiKeySecretKmsKeyArn: keyArn });
    expect(statements).toHaveLength(4);
    for (const statement of statements) {
      expect(statement.Resource).toBe(keyArn);
      expect(JSON.stringify(statement.Condition)).toContain('secretsmanager.');
    }
  });

  it('without a key named: no KMS grant', () => {
    expect(kmsStatements({ apiKeySecretArn: secretArn })).toEqual([]);
  });
});

describe('the model-call governor', () => {
  const limits = { 'claude-haiku-5-5': { maxInFlight: 50 }, 'claude-sonnet': { requestsPerMinute: 400 } };

  it('is absent without modelLimits: one table, no limits in any environment', () => {
    const { json } = synthesize();
    const tables = Object.values(json.Resources).filter((r) => r.Type === 'AWS::DynamoDB::Table');
    expect(tables).toHaveLength(1);
    expect(JSON.stringify(json)).not.toContain('MODEL_LIMITS');
  });

  it('gives the model-calling functions, and only them, the limits and GetItem/PutItem/UpdateItem on its own table', () => {
    const { json } = synthesize({ modelLimits: limits });
    const tableId = Object.entries(json.Resources).find(
      ([id, resource]) => resource.Type === 'AWS::DynamoDB::Table' && id.includes('ModelCapacity'),
    )?.[0];
    expect(tableId).toBeDefined();
    const withLimits = Object.values(json.Resources)
      .filter((resource) => resource.Type === 'AWS::Lambda::Function')
      .map(
        (resource) =>
          (resource.Properties?.Environment as { Variables?: Record<string, unknown> })?.Variables ?? {},
      )
      .filter((variables) => 'MODEL_LIMITS' in variables);
    expect(withLimits).toHaveLength(3);
    expect(JSON.parse(String(withLimits[0]?.MODEL_LIMITS))).toEqual(limits);

    type Statement = { Action: string | string[]; Resource: unknown };
    const onCapacity = Object.values(json.Resources)
      .filter((resource) => resource.Type === 'AWS::IAM::Policy')
      .flatMap((policy) => (policy.Properties?.PolicyDocument as { Statement: Statement[] }).Statement)
      .filter((statement) => JSON.stringify(statement.Resource).includes(tableId ?? '?'));
    expect(onCapacity).toHaveLength(3);
    for (const statement of onCapacity)
      expect([statement.Action].flat().sort()).toEqual([
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
      ]);
  });

  it('fails synth on a limit that matches none of the models the functions call', () => {
    expect(() => synthesize({ modelLimits: { 'claude-haiku-4': { maxInFlight: 5 } } })).toThrow(
      /modelLimits\.claude-haiku-4: matches none/,
    );
    expect(() => synthesize({ modelLimits: { 'claude-sonnet': {} } })).not.toThrow();
  });

  it('fails synth on a limit out of range, naming it', () => {
    expect(() => parseConfig({ modelLimits: { 'claude-haiku-5-5': { maxInFlight: 0 } } })).toThrow(
      /modelLimits\.claude-haiku-5-5\.maxInFlight/,
    );
    expect(() => parseConfig({ modelLimits: { 'claude-haiku-5-5': { inFlight: 5 } } })).toThrow(
      /modelLimits/,
    );
  });
});

describe('the state machines’ function steps', () => {
  const { json } = synthesize();
  const definitions = Object.values(json.Resources)
    .filter((resource) => resource.Type === 'AWS::StepFunctions::StateMachine')
    .map(
      (resource) =>
        JSON.parse(
          String(resolveIntrinsics(resource.Properties?.DefinitionString ?? null, json)),
        ) as AslDefinition,
    );

  /** Every Task state invoking a function, in Maps too. */
  function invokeSteps(machine: AslDefinition): [string, AslState][] {
    return Object.entries(machine.States).flatMap(([name, s]): [string, AslState][] => {
      const nested = (s.ItemProcessor ?? s.Iterator) as AslDefinition | undefined;
      if (nested) return invokeSteps(nested);
      return s.Type === 'Task' && String(s.Resource).includes(':lambda:invoke') ? [[name, s]] : [];
    });
  }

  it('include every function the state machines call (both machines walked)', () => {
    const names = definitions.flatMap(invokeSteps).map(([name]) => name);
    expect(names).toEqual(
      expect.arrayContaining([
        'Plan',
        'AwaitApproval',
        'RunSubtask',
        'MarkFailed',
        'StartBatchRun',
        'FinishBatchRun',
      ]),
    );
  });

  it('all wait out Lambda throttling with its own rule (2 s, ×2, 6 attempts) before any other rule matches it', () => {
    for (const [name, s] of definitions.flatMap(invokeSteps)) {
      const first = s.Retry?.find(
        (retry) =>
          retry.ErrorEquals.includes('Lambda.TooManyRequestsException') ||
          retry.ErrorEquals.includes('States.ALL'),
      );
      expect({ name, rule: first }).toEqual({
        name,
        rule: expect.objectContaining({
          ErrorEquals: expect.arrayContaining(['Lambda.TooManyRequestsException']),
          IntervalSeconds: 2,
          BackoffRate: 2,
          MaxAttempts: 6,
        }),
      });
    }
  });

  it('retry AwaitApproval only when its function could not be invoked, never on its own timeout', () => {
    const awaitApproval = invokeSteps(definitions.find((machine) => 'AwaitApproval' in machine.States)!).find(
      ([name]) => name === 'AwaitApproval',
    )?.[1];
    const retried = awaitApproval?.Retry?.flatMap((retry) => retry.ErrorEquals) ?? [];
    expect(retried).toEqual(
      expect.arrayContaining(['Lambda.TooManyRequestsException', 'Lambda.ServiceException']),
    );
    expect(retried).not.toContain('States.Timeout');
    expect(retried).not.toContain('States.ALL');
  });
});
