import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { parseBedrockModelId } from '../bedrock-models';

/** The one action the functions need: they call `messages.create` without streaming. */
export const BEDROCK_INVOKE_ACTION = 'bedrock:InvokeModel';

/**
 * The policy statements that let a function invoke one Bedrock model id and nothing else.
 *
 * - A foundation-model id (`anthropic.claude-…`): that foundation model in the stack's region.
 * - A cross-region inference profile (`us.anthropic.claude-…`): the profile in the stack's region and
 *   account, and the foundation model behind it in the regions the profile routes to. IAM checks
 *   both. Which regions a profile routes to is AWS's to change, so the foundation model is allowed
 *   in any region (plus the region-less ARN `global.` profiles use), but only when the request
 *   comes through this profile (condition `bedrock:InferenceProfileArn`), never directly.
 *
 * @throws Error when `modelId` is not a Bedrock model id (the configuration check prevents it).
 */
export function bedrockInvokeStatements(scope: IConstruct, modelId: string): iam.PolicyStatement[] {
  const model = parseBedrockModelId(modelId);
  if (!model) throw new Error(`"${modelId}" is not a Bedrock model id or inference profile id`);
  const stack = Stack.of(scope);
  const foundationModel = (region: string) =>
    stack.formatArn({
      service: 'bedrock',
      region,
      account: '',
      resource: 'foundation-model',
      resourceName: model.foundationModelId,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  if (!model.inferenceProfile) {
    return [
      new iam.PolicyStatement({
        actions: [BEDROCK_INVOKE_ACTION],
        resources: [foundationModel(stack.region)],
      }),
    ];
  }
  const profileArn = stack.formatArn({
    service: 'bedrock',
    resource: 'inference-profile',
    resourceName: model.id,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
  const routedTo = [
    foundationModel('*'),
    ...(model.inferenceProfile === 'global' ? [foundationModel('')] : []),
  ];
  return [
    new iam.PolicyStatement({ actions: [BEDROCK_INVOKE_ACTION], resources: [profileArn] }),
    new iam.PolicyStatement({
      actions: [BEDROCK_INVOKE_ACTION],
      resources: routedTo,
      conditions: { StringEquals: { 'bedrock:InferenceProfileArn': profileArn } },
    }),
  ];
}

/**
 * Bedrock subscribes the account to a third-party model on its first invocation there, as the caller:
 * with the products' ids given, the functions may subscribe to exactly those (ViewSubscriptions takes
 * no product condition).
 */
export function marketplaceSubscribeStatements(
  productIds: readonly string[] | undefined,
): iam.PolicyStatement[] {
  if (!productIds) return [];
  return [
    new iam.PolicyStatement({
      actions: ['aws-marketplace:Subscribe'],
      resources: ['*'],
      conditions: { 'ForAnyValue:StringEquals': { 'aws-marketplace:ProductId': [...productIds] } },
    }),
    new iam.PolicyStatement({ actions: ['aws-marketplace:ViewSubscriptions'], resources: ['*'] }),
  ];
}
