import {
  accessDeniedMessage,
  arnLike,
  evaluatePolicies,
  type PolicyDocument,
  UnsupportedPolicyCondition,
} from '../../../../local/runtime/iam-policy';

const TABLE = 'arn:aws:dynamodb:us-east-1:000000000000:table/Jobs';
const policy = (statement: PolicyDocument['Statement']): PolicyDocument => ({ Statement: statement });

describe('IAM policy evaluation', () => {
  const tableAccess = policy([
    {
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      Resource: [TABLE, `${TABLE}/index/*`],
    },
  ]);

  it('allows an action and resource a statement names', () => {
    expect(evaluatePolicies([tableAccess], { action: 'dynamodb:GetItem', resource: TABLE })).toBe('Allow');
  });

  it('matches actions case-insensitively and resources with wildcards', () => {
    expect(
      evaluatePolicies([tableAccess], { action: 'DynamoDB:getitem', resource: `${TABLE}/index/byStatus` }),
    ).toBe('Allow');
  });

  it('denies implicitly an action no statement allows', () => {
    expect(evaluatePolicies([tableAccess], { action: 'dynamodb:Query', resource: TABLE })).toBe(
      'ImplicitDeny',
    );
  });

  it('denies implicitly a resource no statement names (another table)', () => {
    expect(
      evaluatePolicies([tableAccess], {
        action: 'dynamodb:GetItem',
        resource: `${TABLE.replace('Jobs', 'Other')}`,
      }),
    ).toBe('ImplicitDeny');
  });

  it('lets an explicit Deny win over any Allow', () => {
    const deny = policy({ Effect: 'Deny', Action: 'dynamodb:*', Resource: '*' });
    expect(evaluatePolicies([tableAccess, deny], { action: 'dynamodb:GetItem', resource: TABLE })).toBe(
      'ExplicitDeny',
    );
  });

  it('honours NotAction and NotResource', () => {
    const allButDelete = policy({
      Effect: 'Allow',
      NotAction: 'dynamodb:DeleteItem',
      NotResource: `${TABLE}/index/*`,
    });
    expect(evaluatePolicies([allButDelete], { action: 'dynamodb:PutItem', resource: TABLE })).toBe('Allow');
    expect(evaluatePolicies([allButDelete], { action: 'dynamodb:DeleteItem', resource: TABLE })).toBe(
      'ImplicitDeny',
    );
    expect(evaluatePolicies([allButDelete], { action: 'dynamodb:Query', resource: `${TABLE}/index/x` })).toBe(
      'ImplicitDeny',
    );
  });

  it('evaluates StringEquals and ArnLike conditions against the request context', () => {
    const trust = policy({
      Effect: 'Allow',
      Action: 'sts:AssumeRole',
      Condition: {
        ArnLike: { 'aws:SourceArn': 'arn:aws:states:us-east-1:000000000000:stateMachine:*' },
        StringEquals: { 'aws:SourceAccount': '000000000000' },
      },
    });
    const request = (sourceArn: string, account = '000000000000') => ({
      action: 'sts:AssumeRole',
      resource: 'arn:aws:iam::000000000000:role/R',
      context: { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': account },
    });
    expect(
      evaluatePolicies([trust], request('arn:aws:states:us-east-1:000000000000:stateMachine:orchestrator')),
    ).toBe('Allow');
    expect(evaluatePolicies([trust], request('arn:aws:states:eu-west-1:000000000000:stateMachine:x'))).toBe(
      'ImplicitDeny',
    );
    expect(
      evaluatePolicies(
        [trust],
        request('arn:aws:states:us-east-1:000000000000:stateMachine:x', '111111111111'),
      ),
    ).toBe('ImplicitDeny');
    expect(evaluatePolicies([trust], { action: 'sts:AssumeRole', resource: '*' })).toBe('ImplicitDeny');
  });

  const conditioned = (condition: Record<string, Record<string, string | string[] | boolean>>) =>
    policy({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*', Condition: condition });
  const decrypt = (context?: Record<string, string>) => ({
    action: 'kms:Decrypt',
    resource: 'arn:aws:kms:us-east-1:000000000000:key/k',
    ...(context ? { context } : {}),
  });

  it('evaluates Null: true holds only when the key is absent, false only when it is present', () => {
    const absent = conditioned({ Null: { 'kms:ViaService': 'true' } });
    const present = conditioned({ Null: { 'kms:ViaService': 'false' } });
    const viaSecrets = { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' };

    expect(evaluatePolicies([absent], decrypt())).toBe('Allow');
    expect(evaluatePolicies([absent], decrypt(viaSecrets))).toBe('ImplicitDeny');
    expect(evaluatePolicies([present], decrypt(viaSecrets))).toBe('Allow');
    expect(evaluatePolicies([present], decrypt())).toBe('ImplicitDeny');
  });

  it('lets an IfExists operator hold when the key is absent, and test it when the key is present', () => {
    const viaSecretsIfAny = conditioned({
      StringEqualsIfExists: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' },
    });

    expect(evaluatePolicies([viaSecretsIfAny], decrypt())).toBe('Allow');
    expect(
      evaluatePolicies(
        [viaSecretsIfAny],
        decrypt({ 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' }),
      ),
    ).toBe('Allow');
    expect(
      evaluatePolicies([viaSecretsIfAny], decrypt({ 'kms:ViaService': 's3.us-east-1.amazonaws.com' })),
    ).toBe('ImplicitDeny');
  });

  it('lets a plain operator fail when the key is absent, and a negated one hold', () => {
    const equals = conditioned({
      StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' },
    });
    const notEquals = conditioned({ StringNotEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } });

    expect(evaluatePolicies([equals], decrypt())).toBe('ImplicitDeny');
    expect(evaluatePolicies([notEquals], decrypt())).toBe('Allow');
  });

  it('evaluates Bool against the key’s value, case-insensitively, and fails it when the key is absent', () => {
    const secureOnly = conditioned({ Bool: { 'aws:SecureTransport': true } });

    expect(evaluatePolicies([secureOnly], decrypt({ 'aws:SecureTransport': 'TRUE' }))).toBe('Allow');
    expect(evaluatePolicies([secureOnly], decrypt({ 'aws:SecureTransport': 'false' }))).toBe('ImplicitDeny');
    expect(evaluatePolicies([secureOnly], decrypt())).toBe('ImplicitDeny');
  });

  it('refuses loudly a condition operator it does not evaluate', () => {
    const numeric = policy({
      Effect: 'Allow',
      Action: '*',
      Resource: '*',
      Condition: { NumericLessThan: { 'x:y': '1' } },
    });
    expect(() =>
      evaluatePolicies([numeric], { action: 'a:b', resource: '*', context: { 'x:y': '0' } }),
    ).toThrow(UnsupportedPolicyCondition);
  });

  it('matches ARNs part by part in ArnLike', () => {
    expect(arnLike('arn:aws:states:*:*:stateMachine:*', 'arn:aws:states:us-east-1:0:stateMachine:a')).toBe(
      true,
    );
    expect(arnLike('arn:aws:states:*:*:stateMachine:*', 'arn:aws:lambda:us-east-1:0:function:a')).toBe(false);
  });

  it('words a denial as AWS does, naming the principal, the action and the resource', () => {
    expect(
      accessDeniedMessage(
        'arn:aws:sts::000000000000:assumed-role/Role/fn',
        { action: 'dynamodb:Query', resource: TABLE },
        'ImplicitDeny',
      ),
    ).toBe(
      `User: arn:aws:sts::000000000000:assumed-role/Role/fn is not authorized to perform: dynamodb:Query on resource: ${TABLE} because no identity-based policy allows the dynamodb:Query action`,
    );
  });
});
