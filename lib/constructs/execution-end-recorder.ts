import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { UNRECORDED_END_STATUSES } from '../../lambdas/record-execution-end/record-execution-end';
import { WorkflowFunction } from './workflow-function';

export interface ExecutionEndRecorderProps {
  /** Where jobs, subtasks and batch runs are stored. */
  readonly table: ITable;
  /** The orchestrator state machine: its execution name is the job id. */
  readonly orchestrator: IStateMachine;
  /** The batch state machine: its input names the run. */
  readonly batch: IStateMachine;
  readonly jobTtlDays: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * An execution that times out or is stopped never reaches MarkFailed or RecordBatchFailure, so its
 * job or batch run would stay RUNNING in the table. An EventBridge rule on both state machines'
 * "Step Functions Execution Status Change" events (TIMED_OUT, ABORTED, FAILED) invokes a function
 * that records the truth (`ExecutionTimedOut`, `ExecutionAborted`, or the execution's error).
 */
export class ExecutionEndRecorder extends Construct {
  public readonly function: WorkflowFunction;
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: ExecutionEndRecorderProps) {
    super(scope, id);
    this.function = new WorkflowFunction(this, 'Function', {
      entry: path.join(__dirname, '..', '..', 'lambdas', 'record-execution-end', 'handler.ts'),
      description: 'Records jobs and batch runs whose execution timed out, was stopped or failed unrecorded',
      timeout: Duration.minutes(1),
      memorySize: 256,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      environment: {
        TABLE_NAME: props.table.tableName,
        JOB_TTL_DAYS: String(props.jobTtlDays),
        ORCHESTRATOR_STATE_MACHINE_ARN: props.orchestrator.stateMachineArn,
        BATCH_STATE_MACHINE_ARN: props.batch.stateMachineArn,
      },
    });
    // Query: the job's subtasks and the run's items; UpdateItem: the failures it records.
    props.table.grant(this.function, 'dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem');

    this.rule = new events.Rule(this, 'Rule', {
      description: 'Executions of the orchestrator and batch state machines that ended without success',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: [...UNRECORDED_END_STATUSES],
          stateMachineArn: [props.orchestrator.stateMachineArn, props.batch.stateMachineArn],
        },
      },
      targets: [
        new targets.LambdaFunction(this.function, {
          retryAttempts: 10,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });
  }
}
