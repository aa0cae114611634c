import { type Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

/**
 * cdk-nag (AwsSolutions) findings this design accepts, each with the reason. A finding must match
 * a rule pattern (and the construct path pattern, when given) to be acknowledged; anything else
 * fails `cdk synth` and the tests.
 */
export const NAG_ACKNOWLEDGEMENTS: ReadonlyArray<{ rule: RegExp; path?: RegExp; reason: string }> = [
  {
    rule: /^AwsSolutions-IAM5\[Resource::\*\]$/,
    reason:
      'X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords), Step Functions log delivery (logs:*LogDelivery*) and AWS Marketplace subscriptions (Subscribe, conditioned on the configured product ids; ViewSubscriptions) only accept Resource "*".',
  },
  {
    rule: /^AwsSolutions-IAM5\[Resource::<\w+\.Arn>\/index\/\*\]$/,
    path: /\/(ServiceRole|\w+Role)\/DefaultPolicy\/Resource$/,
    reason:
      "table.grant(...) covers the jobs table's listing indexes (byCreatedAt, byStatus); the actions themselves are limited per function.",
  },
  {
    rule: /^AwsSolutions-IAM5\[Resource::<\w+Function\w*\.Arn>:\*\]$/,
    path: /\/StateMachine\/Role\/DefaultPolicy\/Resource$/,
    reason:
      'LambdaInvoke may call the versions and aliases of exactly these functions (CDK grants Arn and Arn:*).',
  },
  {
    // Partition and region are tokens, or literals when the stack has an explicit environment.
    rule: /^AwsSolutions-IAM5\[Resource::arn:(<AWS::Partition>|aws[\w-]*):states:(<AWS::Region>|[\w-]+):(<AWS::AccountId>|\d+):execution:.*\*\]$/,
    reason:
      "Stopping or describing executions can only be granted per state machine with an execution wildcard; it is scoped to the orchestrator's executions.",
  },
  {
    rule: /^AwsSolutions-IAM5\[Resource::arn:(<AWS::Partition>|aws[\w-]*):bedrock:\*::foundation-model\/[\w.:-]+\]$/,
    reason:
      'A cross-region inference profile may route to its foundation model in any region it covers; the statement is conditioned on bedrock:InferenceProfileArn, so the model is reachable only through that profile.',
  },
  {
    rule: /^AwsSolutions-IAM5\[Resource::<BatchItemsBucket\w+\.Arn>\/batch-items\/\*\]$/,
    reason:
      'Batch item lists are one object per run under batch-items/; access is limited to that prefix and to Put (function) or Get (state machine).',
  },
  {
    rule: /^AwsSolutions-S1$/,
    path: /BatchItems\/Bucket/,
    reason:
      'The bucket holds short-lived, generated item lists (expired after jobTtlDays); reads and writes are already in CloudTrail data events if enabled.',
  },
  {
    rule: /^AwsSolutions-SMG4$/,
    reason:
      'The secret is a third-party (Anthropic) API key that AWS cannot rotate; operators rotate it in the Anthropic console and put the new value (picked up within 5 minutes).',
  },
  {
    rule: /^AwsSolutions-SQS3$/,
    path: /DeadLetterQueue/,
    reason: 'This queue is itself the dead-letter queue of the batch schedules.',
  },
  {
    rule: /^AwsSolutions-APIG2$/,
    reason:
      'Requests are validated in the api function with the zod schemas the OpenAPI document is generated from, so errors name the field in the documented error shape.',
  },
  {
    rule: /^AwsSolutions-APIG3$/,
    reason:
      'WAF is deployment-specific (and billed); the API has API keys, a usage plan with throttling and a quota, and body limits.',
  },
  {
    rule: /^AwsSolutions-IAM5\[Resource::arn:(<AWS::Partition>|aws[\w-]*):logs:(<AWS::Region>|[\w-]+):(<AWS::AccountId>|\d+):log-group:\*\]$/,
    path: /\/JobsApi\/CloudWatchRole\/Resource$/,
    reason:
      "API Gateway's account-wide logging role serves every REST API in the region, whose log groups API Gateway names itself; it is limited to this account's log groups in this region.",
  },
  {
    rule: /^AwsSolutions-APIG6$/,
    reason:
      'Access logging is on; execution logging stays off because it would write full request and response bodies (tasks, contexts, outputs) to CloudWatch Logs.',
  },
  {
    rule: /^AwsSolutions-(APIG4|COG4)$/,
    reason:
      'The API is for services and scheduled jobs: it authenticates with API keys bound to a usage plan (docs/architecture.md), not users.',
  },
];

/** Acknowledges the accepted findings on the constructs that raise them; returns what is left. */
export function acknowledgeNagFindings(stack: Stack): { rule: string; path: string }[] {
  const report = new AwsSolutionsChecks().validateScope(stack);
  const constructs = new Map(stack.node.findAll().map((construct) => [construct.node.path, construct]));
  const unacknowledged: { rule: string; path: string }[] = [];
  for (const violation of report.violations) {
    for (const resource of violation.violatingResources) {
      const path = resource.constructPath ?? resource.resourceLogicalId ?? '(unknown)';
      const accepted = NAG_ACKNOWLEDGEMENTS.find(
        (entry) => entry.rule.test(violation.ruleName) && (entry.path?.test(path) ?? true),
      );
      const construct = constructs.get(path);
      if (accepted && construct)
        Validations.of(construct).acknowledge({ id: violation.ruleName, reason: accepted.reason });
      else unacknowledged.push({ rule: violation.ruleName, path });
    }
  }
  return unacknowledged;
}
