import { RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

/** Every state machine logs ALL events with execution data (payloads are ids and statuses) to its own log group. */
export function executionLogging(scope: Construct, retention: logs.RetentionDays): sfn.LogOptions {
  return {
    destination: new logs.LogGroup(scope, 'ExecutionLogs', {
      retention,
      removalPolicy: RemovalPolicy.DESTROY,
    }),
    level: sfn.LogLevel.ALL,
    includeExecutionData: true,
  };
}
