import { parseBedrockModelId } from '../../lib/bedrock-models';
import type { AuthorizationRequest } from './iam-policy';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './synthesized-stack';
import { stateMachineNameOfToken } from './task-tokens';

/**
 * What IAM checks for one AWS API request as it goes over the wire: the actions and resources (and
 * condition keys) AWS authorizes it against, one entry per check. A request of an operation this
 * file does not know is refused, so nothing reaches a local service unchecked.
 */
export class UnknownOperation extends Error {
  override readonly name = 'UnknownOperationException';
}

const tableArn = (name: string) =>
  name.startsWith('arn:') ? name : `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${name}`;

type Body = Record<string, unknown>;

/** DynamoDB (JSON 1.0, `X-Amz-Target: DynamoDB_20120810.<Operation>`). */
export function dynamodbRequests(operation: string, body: Body): AuthorizationRequest[] {
  const table = String(body.TableName ?? '');
  switch (operation) {
    case 'GetItem':
    case 'PutItem':
    case 'UpdateItem':
    case 'DeleteItem':
    case 'DescribeTable':
      return [{ action: `dynamodb:${operation}`, resource: tableArn(table) }];
    case 'Query':
    case 'Scan': {
      const index = body.IndexName ? `/index/${String(body.IndexName)}` : '';
      return [{ action: `dynamodb:${operation}`, resource: `${tableArn(table)}${index}` }];
    }
    case 'BatchWriteItem':
    case 'BatchGetItem':
      return Object.keys((body.RequestItems ?? {}) as Body).map((name) => ({
        action: `dynamodb:${operation}`,
        resource: tableArn(name),
      }));
    case 'TransactWriteItems':
      // IAM checks each item's own action on its table (there is no dynamodb:TransactWriteItems).
      return ((body.TransactItems ?? []) as Body[]).map((item) => {
        const [kind, detail] = Object.entries(item)[0] ?? ['', {}];
        const action =
          { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem' }[kind] ?? 'ConditionCheckItem';
        return {
          action: `dynamodb:${action}`,
          resource: tableArn(String((detail as Body).TableName ?? '')),
        };
      });
    case 'TransactGetItems':
      return ((body.TransactItems ?? []) as { Get?: Body }[]).map((item) => ({
        action: 'dynamodb:GetItem',
        resource: tableArn(String(item.Get?.TableName ?? '')),
      }));
    default:
      throw new UnknownOperation(`DynamoDB operation ${operation} is not authorized locally`);
  }
}

/** Step Functions (JSON 1.0, `X-Amz-Target: AWSStepFunctions.<Operation>`). */
export function stepFunctionsRequests(operation: string, body: Body): AuthorizationRequest[] {
  const action = `states:${operation}`;
  switch (operation) {
    case 'StartExecution':
    case 'StartSyncExecution':
    case 'ListExecutions':
    case 'DescribeStateMachine':
      return [{ action, resource: String(body.stateMachineArn ?? '') }];
    case 'DescribeExecution':
    case 'StopExecution':
    case 'GetExecutionHistory':
      return [{ action, resource: String(body.executionArn ?? '') }];
    case 'ListStateMachines':
      return [{ action, resource: '*' }];
    case 'SendTaskSuccess':
    case 'SendTaskFailure':
    case 'SendTaskHeartbeat': {
      // IAM checks a callback against the state machine whose task the token belongs to.
      const name = stateMachineNameOfToken(String(body.taskToken ?? '')) ?? 'unknown-token';
      return [{ action, resource: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${name}` }];
    }
    default:
      throw new UnknownOperation(`Step Functions operation ${operation} is not authorized locally`);
  }
}

/** A secret's ARN from a `SecretId`, which may be the ARN or the secret's name. */
export const secretArn = (secretId: string) =>
  secretId.startsWith('arn:')
    ? secretId
    : `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${secretId}`;

/** Secrets Manager (JSON 1.1, `X-Amz-Target: secretsmanager.<Operation>`): only reading a secret. */
export function secretsManagerRequests(operation: string, body: Body): AuthorizationRequest[] {
  if (operation !== 'GetSecretValue')
    throw new UnknownOperation(`Secrets Manager operation ${operation} is not authorized locally`);
  return [{ action: 'secretsmanager:GetSecretValue', resource: secretArn(String(body.SecretId ?? '')) }];
}

const BEDROCK_ACTIONS: Record<string, string> = {
  invoke: 'bedrock:InvokeModel',
  'invoke-with-response-stream': 'bedrock:InvokeModelWithResponseStream',
  converse: 'bedrock:InvokeModel',
  'converse-stream': 'bedrock:InvokeModelWithResponseStream',
};

/**
 * Bedrock runtime (`POST /model/{modelId}/invoke`). Through a cross-region inference profile IAM
 * checks the profile, and the foundation model behind it with `bedrock:InferenceProfileArn` set.
 */
export function bedrockRequests(path: string): AuthorizationRequest[] {
  const match = /^\/model\/([^/]+)\/([a-z-]+)$/.exec(path);
  const action = match ? BEDROCK_ACTIONS[match[2] ?? ''] : undefined;
  if (!match || !action) throw new UnknownOperation(`Bedrock request ${path} is not authorized locally`);
  const modelId = decodeURIComponent(match[1] ?? '');
  if (modelId.startsWith('arn:')) return [{ action, resource: modelId }];
  const model = parseBedrockModelId(modelId);
  const foundationModel = (id: string) => `arn:aws:bedrock:${LOCAL_REGION}::foundation-model/${id}`;
  if (!model?.inferenceProfile) return [{ action, resource: foundationModel(modelId) }];
  const profileArn = `arn:aws:bedrock:${LOCAL_REGION}:${LOCAL_ACCOUNT}:inference-profile/${modelId}`;
  return [
    { action, resource: profileArn },
    {
      action,
      resource: foundationModel(model.foundationModelId),
      context: { 'bedrock:InferenceProfileArn': profileArn },
    },
  ];
}
