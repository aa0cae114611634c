import { Names, RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

/** Step Functions log groups under this prefix need no CloudWatch Logs resource policy entry each. */
export const VENDED_LOGS_PREFIX = '/aws/vendedlogs/states/';

/**
 * Every state machine logs ALL events with execution data (payloads are ids and statuses) to its own
 * log group, named under `/aws/vendedlogs/states/`: elsewhere, Step Functions adds each log group to
 * the account's CloudWatch Logs resource policy, which is capped at 5,120 characters.
 */
export function executionLogging(scope: Construct, retention: logs.RetentionDays): sfn.LogOptions {
  return {
    destination: new logs.LogGroup(scope, 'ExecutionLogs', {
      logGroupName: `${VENDED_LOGS_PREFIX}${Names.uniqueResourceName(scope, { maxLength: 200, separator: '-' })}`,
      retention,
      removalPolicy: RemovalPolicy.DESTROY,
    }),
    level: sfn.LogLevel.ALL,
    includeExecutionData: true,
  };
}
