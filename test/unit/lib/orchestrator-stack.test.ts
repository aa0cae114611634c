import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DEFAULT_MODELS } from '../../../lib/config';
import { FUNCTION_RUNTIME } from '../../../lib/constructs/workflow-function';
import { synthesize } from '../../helpers/synth';

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
