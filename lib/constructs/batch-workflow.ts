import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { BOOKKEEPING_RETRY } from '../retry-policies';
import { WorkflowFunction } from './workflow-function';

const LAMBDAS_DIR = path.join(__dirname, '..', '..', 'lambdas');

export interface BatchWorkflowProps {
  /** Where batch runs, their items and the jobs are stored. */
  readonly table: ITable;
  /** The orchestrator state machine, started once per item (the only one this workflow may start). */
  readonly orchestrator: sfn.IStateMachine;
  readonly jobTtlDays: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/** Errors of the StartExecution call itself (throttling, service trouble), not of the child. */
const START_EXECUTION_RETRY: sfn.RetryProps = {
  errors: [
    'StepFunctions.ExecutionLimitExceededException',
    'StepFunctions.AWSStepFunctionsException',
    'StepFunctions.SdkClientException',
  ],
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 4,
  maxDelay: Duration.seconds(30),
  jitterStrategy: sfn.JitterType.FULL,
};

const BOOKKEEPING_TIMEOUT = Duration.seconds(30);
const bookkeepingTaskTimeout = sfn.Timeout.duration(Duration.seconds(60));

/**
 * The batch workflow: StartBatchRun → RunItems (Map; per item RunJob starts the orchestrator with
 * `.sync:2` and waits, then RecordItemResult, or RecordItemFailure when it failed) → FinishBatchRun
 * (counts by status) → Done. One failed item never fails the batch.
 */
export class BatchWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly startBatchRunFunction: WorkflowFunction;
  public readonly recordBatchItemFunction: WorkflowFunction;
  public readonly finishBatchRunFunction: WorkflowFunction;

  constructor(scope: Construct, id: string, props: BatchWorkflowProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const environment = { TABLE_NAME: props.table.tableName, JOB_TTL_DAYS: String(props.jobTtlDays) };
    const bookkeeping = { timeout: BOOKKEEPING_TIMEOUT, memorySize: 256, logRetention, environment };

    this.startBatchRunFunction = new WorkflowFunction(this, 'StartBatchRunFunction', {
      entry: path.join(LAMBDAS_DIR, 'start-batch-run', 'handler.ts'),
      description: 'Records a batch run, its items and one queued job per item',
      ...bookkeeping,
    });
    this.recordBatchItemFunction = new WorkflowFunction(this, 'RecordBatchItemFunction', {
      entry: path.join(LAMBDAS_DIR, 'record-batch-item', 'handler.ts'),
      description: "Records a batch item's outcome from its job",
      ...bookkeeping,
    });
    this.finishBatchRunFunction = new WorkflowFunction(this, 'FinishBatchRunFunction', {
      entry: path.join(LAMBDAS_DIR, 'finish-batch-run', 'handler.ts'),
      description: 'Ends a batch run with counts by status',
      ...bookkeeping,
    });
    props.table.grant(this.startBatchRunFunction, 'dynamodb:PutItem');
    props.table.grant(this.recordBatchItemFunction, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    props.table.grant(this.finishBatchRunFunction, 'dynamodb:Query', 'dynamodb:UpdateItem');

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'Batch content generation: one orchestrator execution per item, then a summary',
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition(props.orchestrator)),
      timeout: Duration.hours(24),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'ExecutionLogs', {
          retention: logRetention,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: true,
      },
    });
  }

  private definition(orchestrator: sfn.IStateMachine): sfn.IChainable {
    const startBatchRun = new tasks.LambdaInvoke(this, 'StartBatchRun', {
      lambdaFunction: this.startBatchRunFunction,
      comment: 'Records the run and its items; passes on only their ids',
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({
        'input.$': '$',
        'executionArn.$': '$$.Execution.Id',
        'executionName.$': '$$.Execution.Name',
        'executionStartTime.$': '$$.Execution.StartTime',
      }),
      resultSelector: {
        'runId.$': '$.Payload.runId',
        'batchName.$': '$.Payload.batchName',
        'maxConcurrency.$': '$.Payload.maxConcurrency',
        'items.$': '$.Payload.items',
      },
      taskTimeout: bookkeepingTaskTimeout,
    });
    startBatchRun.addRetry(BOOKKEEPING_RETRY);

    const runJob = new tasks.StepFunctionsStartExecution(this, 'RunJob', {
      stateMachine: orchestrator,
      comment: 'Runs one job in the orchestrator state machine and waits for it (execution name = job id)',
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      associateWithParent: true,
      name: sfn.JsonPath.stringAt('$.item.jobId'),
      input: sfn.TaskInput.fromObject({ 'jobId.$': '$.item.jobId' }),
      resultSelector: { 'executionStatus.$': '$.Status' },
      resultPath: '$.execution',
      taskTimeout: sfn.Timeout.duration(Duration.hours(2).plus(Duration.minutes(5))),
    });
    runJob.addRetry(START_EXECUTION_RETRY);

    const recordPayload = { 'runId.$': '$.runId', 'item.$': '$.item' };
    const recordSelector = { 'jobId.$': '$.Payload.jobId', 'status.$': '$.Payload.status' };
    const recordItemResult = new tasks.LambdaInvoke(this, 'RecordItemResult', {
      lambdaFunction: this.recordBatchItemFunction,
      comment: "Records the item's outcome from its job record",
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject(recordPayload),
      resultSelector: recordSelector,
      taskTimeout: bookkeepingTaskTimeout,
    });
    const recordItemFailure = new tasks.LambdaInvoke(this, 'RecordItemFailure', {
      lambdaFunction: this.recordBatchItemFunction,
      comment: 'The job did not succeed (or could not start): record why, and let the batch go on',
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({ ...recordPayload, 'error.$': '$.error' }),
      resultSelector: recordSelector,
      taskTimeout: bookkeepingTaskTimeout,
    });
    // Should recording fail for good, FinishBatchRun still fails the item's job: the batch goes on.
    const itemNotRecorded = new sfn.Pass(this, 'ItemNotRecorded', {
      comment: 'FinishBatchRun records this item as FAILED',
    });
    for (const record of [recordItemResult, recordItemFailure]) {
      record.addRetry(BOOKKEEPING_RETRY);
      record.addCatch(itemNotRecorded, { errors: ['States.ALL'], resultPath: '$.recordError' });
    }
    runJob.addCatch(recordItemFailure, { errors: ['States.ALL'], resultPath: '$.error' });

    const runItems = new sfn.Map(this, 'RunItems', {
      comment: 'One orchestrator execution per item, at most maxConcurrency at once',
      itemsPath: '$.items',
      // The whole item, not its fields: JSONPath selecting index 0 fails in aws-local-stepfunctions.
      itemSelector: { 'runId.$': '$.runId', 'item.$': '$$.Map.Item.Value' },
      maxConcurrencyPath: '$.maxConcurrency',
      // The outcomes are in the table; the state keeps only ids.
      resultPath: sfn.JsonPath.DISCARD,
    });
    runItems.itemProcessor(runJob.next(recordItemResult));

    const finishPayload = { 'runId.$': '$.runId' };
    const finishSelector = {
      'runId.$': '$.Payload.runId',
      'status.$': '$.Payload.status',
      'itemCount.$': '$.Payload.itemCount',
      'counts.$': '$.Payload.counts',
    };
    const finishBatchRun = new tasks.LambdaInvoke(this, 'FinishBatchRun', {
      lambdaFunction: this.finishBatchRunFunction,
      comment: 'Counts the items by status and ends the run',
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject(finishPayload),
      resultSelector: finishSelector,
      taskTimeout: bookkeepingTaskTimeout,
    });
    const recordBatchFailure = new tasks.LambdaInvoke(this, 'RecordBatchFailure', {
      lambdaFunction: this.finishBatchRunFunction,
      comment: 'The batch itself failed: fail the items that did not run and end the run FAILED',
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({ ...finishPayload, 'error.$': '$.error' }),
      resultSelector: finishSelector,
      taskTimeout: bookkeepingTaskTimeout,
    });
    finishBatchRun.addRetry(BOOKKEEPING_RETRY);
    recordBatchFailure.addRetry(BOOKKEEPING_RETRY);
    runItems.addCatch(recordBatchFailure, { errors: ['States.ALL'], resultPath: '$.error' });
    const batchFailed = new sfn.Fail(this, 'BatchFailed', {
      comment: 'The batch machinery failed; the run record says why',
      error: 'BatchFailed',
      cause: 'The batch could not run all its items; see the batch run record',
    });
    recordBatchFailure.next(batchFailed);

    const done = new sfn.Succeed(this, 'Done', { comment: 'The summary is in the run record' });
    return startBatchRun.next(runItems).next(finishBatchRun).next(done);
  }
}
