import {
  bedrockRequests,
  dynamodbRequests,
  secretsManagerRequests,
  stepFunctionsRequests,
  UnknownOperation,
} from '../../../../local/runtime/aws-requests';

const TABLE = 'arn:aws:dynamodb:us-east-1:000000000000:table/Jobs';
const OTHER_TABLE = 'arn:aws:dynamodb:us-east-1:000000000000:table/Capacity';
const MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:orchestrator';
const EXECUTION = 'arn:aws:states:us-east-1:000000000000:execution:orchestrator:job-1';

describe('what IAM checks for a DynamoDB request', () => {
  it.each(['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'DescribeTable'])(
    'checks %s on the table it names',
    (operation) => {
      expect(dynamodbRequests(operation, { TableName: 'Jobs' })).toEqual([
        { action: `dynamodb:${operation}`, resource: TABLE },
      ]);
    },
  );

  it('takes a table named by its ARN as it is', () => {
    expect(dynamodbRequests('GetItem', { TableName: OTHER_TABLE })).toEqual([
      { action: 'dynamodb:GetItem', resource: OTHER_TABLE },
    ]);
  });

  it('checks a Query or Scan of an index on the index’s ARN, and of the table on the table’s', () => {
    expect(dynamodbRequests('Query', { TableName: 'Jobs', IndexName: 'byStatus' })).toEqual([
      { action: 'dynamodb:Query', resource: `${TABLE}/index/byStatus` },
    ]);
    expect(dynamodbRequests('Scan', { TableName: 'Jobs' })).toEqual([
      { action: 'dynamodb:Scan', resource: TABLE },
    ]);
  });

  it('checks a batch request once per table it touches', () => {
    expect(dynamodbRequests('BatchWriteItem', { RequestItems: { Jobs: [], Capacity: [] } })).toEqual([
      { action: 'dynamodb:BatchWriteItem', resource: TABLE },
      { action: 'dynamodb:BatchWriteItem', resource: OTHER_TABLE },
    ]);
    expect(dynamodbRequests('BatchGetItem', { RequestItems: { Capacity: {} } })).toEqual([
      { action: 'dynamodb:BatchGetItem', resource: OTHER_TABLE },
    ]);
  });

  it('checks each item of a TransactWriteItems with its own action on its own table', () => {
    const checks = dynamodbRequests('TransactWriteItems', {
      TransactItems: [
        { Put: { TableName: 'Jobs' } },
        { Update: { TableName: 'Capacity' } },
        { Delete: { TableName: 'Jobs' } },
        { ConditionCheck: { TableName: 'Capacity' } },
      ],
    });

    expect(checks).toEqual([
      { action: 'dynamodb:PutItem', resource: TABLE },
      { action: 'dynamodb:UpdateItem', resource: OTHER_TABLE },
      { action: 'dynamodb:DeleteItem', resource: TABLE },
      { action: 'dynamodb:ConditionCheckItem', resource: OTHER_TABLE },
    ]);
  });

  it('checks each item of a TransactGetItems as a GetItem on its table', () => {
    expect(
      dynamodbRequests('TransactGetItems', {
        TransactItems: [{ Get: { TableName: 'Jobs' } }, { Get: { TableName: 'Capacity' } }],
      }),
    ).toEqual([
      { action: 'dynamodb:GetItem', resource: TABLE },
      { action: 'dynamodb:GetItem', resource: OTHER_TABLE },
    ]);
  });

  it('refuses an operation it does not know, so nothing reaches the table unchecked', () => {
    expect(() => dynamodbRequests('DeleteTable', { TableName: 'Jobs' })).toThrow(UnknownOperation);
  });
});

describe('what IAM checks for a Step Functions request', () => {
  it('checks a state machine’s operations on the state machine', () => {
    for (const operation of [
      'StartExecution',
      'StartSyncExecution',
      'ListExecutions',
      'DescribeStateMachine',
    ])
      expect(stepFunctionsRequests(operation, { stateMachineArn: MACHINE })).toEqual([
        { action: `states:${operation}`, resource: MACHINE },
      ]);
  });

  it('checks an execution’s operations on the execution', () => {
    for (const operation of ['DescribeExecution', 'StopExecution', 'GetExecutionHistory'])
      expect(stepFunctionsRequests(operation, { executionArn: EXECUTION })).toEqual([
        { action: `states:${operation}`, resource: EXECUTION },
      ]);
  });

  it('checks ListStateMachines on every resource', () => {
    expect(stepFunctionsRequests('ListStateMachines', {})).toEqual([
      { action: 'states:ListStateMachines', resource: '*' },
    ]);
  });

  it('checks a task callback on the state machine the token belongs to', () => {
    const taskToken = 'local-task-token:batch:0f8fad5b-d9cb-469f-a165-70867728950e';
    for (const operation of ['SendTaskSuccess', 'SendTaskFailure', 'SendTaskHeartbeat'])
      expect(stepFunctionsRequests(operation, { taskToken })).toEqual([
        {
          action: `states:${operation}`,
          resource: 'arn:aws:states:us-east-1:000000000000:stateMachine:batch',
        },
      ]);
  });

  it('checks a callback with a token that is no local token against no real state machine', () => {
    expect(stepFunctionsRequests('SendTaskSuccess', { taskToken: 'forged' })).toEqual([
      {
        action: 'states:SendTaskSuccess',
        resource: 'arn:aws:states:us-east-1:000000000000:stateMachine:unknown-token',
      },
    ]);
  });

  it('refuses an operation it does not know', () => {
    expect(() => stepFunctionsRequests('DeleteStateMachine', { stateMachineArn: MACHINE })).toThrow(
      UnknownOperation,
    );
  });
});

describe('what IAM checks for a Bedrock request', () => {
  const foundationModel = (id: string) => `arn:aws:bedrock:us-east-1::foundation-model/${id}`;

  it('checks InvokeModel on the foundation model a plain model id names', () => {
    expect(bedrockRequests('/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke')).toEqual([
      { action: 'bedrock:InvokeModel', resource: foundationModel('anthropic.claude-3-haiku-20240307-v1:0') },
    ]);
  });

  it('checks InvokeModelWithResponseStream for streamed calls', () => {
    expect(
      bedrockRequests('/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream'),
    ).toEqual([
      {
        action: 'bedrock:InvokeModelWithResponseStream',
        resource: foundationModel('anthropic.claude-3-haiku-20240307-v1:0'),
      },
    ]);
  });

  it('checks an inference profile, and the foundation model behind it with the profile as condition key', () => {
    const profile = 'us.anthropic.claude-3-haiku-20240307-v1:0';
    const profileArn = `arn:aws:bedrock:us-east-1:000000000000:inference-profile/${profile}`;

    expect(bedrockRequests(`/model/${encodeURIComponent(profile)}/invoke`)).toEqual([
      { action: 'bedrock:InvokeModel', resource: profileArn },
      {
        action: 'bedrock:InvokeModel',
        resource: foundationModel('anthropic.claude-3-haiku-20240307-v1:0'),
        context: { 'bedrock:InferenceProfileArn': profileArn },
      },
    ]);
  });

  it('checks a model named by its ARN on that ARN', () => {
    const arn = 'arn:aws:bedrock:us-east-1:000000000000:provisioned-model/abc';
    expect(bedrockRequests(`/model/${encodeURIComponent(arn)}/invoke`)).toEqual([
      { action: 'bedrock:InvokeModel', resource: arn },
    ]);
  });

  it('refuses a path it does not know', () => {
    expect(() => bedrockRequests('/guardrail/g1/apply')).toThrow(UnknownOperation);
  });
});

describe('what IAM checks for a Secrets Manager request', () => {
  const secret = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:AnthropicApiKey';

  it('checks GetSecretValue on the secret, named by its ARN or by its name', () => {
    const expected = [{ action: 'secretsmanager:GetSecretValue', resource: secret }];
    expect(secretsManagerRequests('GetSecretValue', { SecretId: secret })).toEqual(expected);
    expect(secretsManagerRequests('GetSecretValue', { SecretId: 'AnthropicApiKey' })).toEqual(expected);
  });

  it('refuses any other operation', () => {
    expect(() => secretsManagerRequests('PutSecretValue', { SecretId: secret })).toThrow(UnknownOperation);
  });
});
