import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { BATCH_ITEMS_PREFIX } from '../../lambdas/shared/batches/item-lists';
import { BOOKKEEPING_RETRIES, START_EXECUTION_RETRY } from '../retry-policies';
import { BatchLane, type BatchLaneProps } from './batch-lane';
import { executionLogging } from './execution-logging';
import { WorkflowFunction } from './workflow-function';

const LAMBDAS_DIR = path.join(__dirname, '..', '..', 'lambdas');

export interface BatchWorkflowProps {
  /** Where batch runs, their items and the jobs are stored. */
  readonly table: ITable;
  /** The orchestrator state machine, started once per item (the only one this workflow may start). */
  readonly orchestrator: sfn.IStateMachine;
  readonly jobTtlDays: number;
  /**
   * Given, `RunItems` is a Distributed Map reading each run's item list from this bucket (written there by
   * StartBatchRun), for batches past what one execution's state and history hold.
   * @default none: an inline Map over the items in the execution state
   */
  readonly itemsBucket?: IBucket;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The folder of batch definitions, bundled with StartBatchRun: a scheduled run names its batch and
   * StartBatchRun reads the items from there (the execution input never carries them).
   */
  readonly batchesDir: string;
  /**
   * The Message Batches lane (provider `anthropic`): runs with `modelCalls` `batch` go phase by phase
   * through it instead of one orchestrator execution per item.
   * @default none: every run goes through RunItems
   */
  readonly lane?: Omit<BatchLaneProps, 'table' | 'jobTtlDays' | 'itemsBucket' | 'logRetention'>;
}

/** Each iteration gets the run id and its whole item. */
const RUN_ITEMS_SELECTOR = {
  'runId.$': '$.runId',
  // The whole item, not its fields: JSONPath selecting index 0 fails in aws-local-stepfunctions.
  'item.$': '$$.Map.Item.Value',
};

const BOOKKEEPING_TIMEOUT = Duration.seconds(30);
const START_BATCH_RUN_DISTRIBUTED_TIMEOUT = Duration.minutes(5);
const bookkeepingTaskTimeout = sfn.Timeout.duration(Duration.seconds(60));

/**
 * The batch workflow: StartBatchRun → RunItems (Map; per item RunJob starts the orchestrator with
 * `.sync:2` and waits, then RecordItemResult, or RecordItemFailure when it failed) → FinishBatchRun
 * (counts by status) → Done. One failed item never fails the batch. With `itemsBucket`, RunItems is a
 * Distributed Map over the item list StartBatchRun writes to S3.
 */
export class BatchWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly startBatchRunFunction: WorkflowFunction;
  public readonly recordBatchItemFunction: WorkflowFunction;
  public readonly finishBatchRunFunction: WorkflowFunction;
  /** The Message Batches lane; none with provider `bedrock`. */
  public readonly lane: BatchLane | undefined;

  constructor(scope: Construct, id: string, props: BatchWorkflowProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const environment = { TABLE_NAME: props.table.tableName, JOB_TTL_DAYS: String(props.jobTtlDays) };
    const bookkeeping = { timeout: BOOKKEEPING_TIMEOUT, memorySize: 256, logRetention, environment };

    this.startBatchRunFunction = new WorkflowFunction(this, 'StartBatchRunFunction', {
      entry: path.join(LAMBDAS_DIR, 'start-batch-run', 'handler.ts'),
      description: 'Records a batch run, its items and one queued job per item',
      ...bookkeeping,
      // A Distributed Map run may have thousands of items to record.
      timeout: props.itemsBucket ? START_BATCH_RUN_DISTRIBUTED_TIMEOUT : BOOKKEEPING_TIMEOUT,
      environment: {
        ...environment,
        BATCHES_DIR: 'batches',
        BATCH_LANE: String(props.lane !== undefined),
        ...(props.itemsBucket ? { BATCH_ITEMS_BUCKET: props.itemsBucket.bucketName } : {}),
      },
      bundledFolder: { from: props.batchesDir, into: 'batches' },
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
    // Query: the requests recorded with a run (API, CLI); UpdateItem: the run's modelCalls and deadline.
    props.table.grant(
      this.startBatchRunFunction,
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    );
    // Query: the job with its subtasks, whose usage the item records.
    props.table.grant(
      this.recordBatchItemFunction,
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    );
    props.table.grant(this.finishBatchRunFunction, 'dynamodb:Query', 'dynamodb:UpdateItem');
    const itemLists = props.itemsBucket?.arnForObjects(`${BATCH_ITEMS_PREFIX}*`);
    if (itemLists) {
      this.startBatchRunFunction.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [itemLists] }),
      );
    }

    this.lane = props.lane
      ? new BatchLane(this, 'Lane', {
          ...props.lane,
          table: props.table,
          jobTtlDays: props.jobTtlDays,
          logRetention,
          ...(props.itemsBucket ? { itemsBucket: props.itemsBucket } : {}),
        })
      : undefined;

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'Batch content generation: one orchestrator execution per item, then a summary',
      definitionBody: sfn.DefinitionBody.fromChainable(
        this.definition(props.orchestrator, props.itemsBucket),
      ),
      timeout: Duration.hours(24),
      tracingEnabled: true,
      logs: executionLogging(this, logRetention),
    });
    if (itemLists) {
      this.stateMachine.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [itemLists] }),
      );
    }
  }

  private definition(orchestrator: sfn.IStateMachine, itemsBucket: IBucket | undefined): sfn.IChainable {
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
        'modelCalls.$': '$.Payload.modelCalls',
        // The bucket name rides in the state because the item reader takes it by path (see distributedRunItems).
        ...(itemsBucket
          ? { 'itemsKey.$': '$.Payload.itemsKey', itemsBucket: itemsBucket.bucketName }
          : { 'items.$': '$.Payload.items' }),
      },
      taskTimeout: itemsBucket
        ? sfn.Timeout.duration(START_BATCH_RUN_DISTRIBUTED_TIMEOUT.plus(Duration.seconds(30)))
        : bookkeepingTaskTimeout,
    });
    for (const retry of BOOKKEEPING_RETRIES) startBatchRun.addRetry(retry);

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
      for (const retry of BOOKKEEPING_RETRIES) record.addRetry(retry);
      record.addCatch(itemNotRecorded, { errors: ['States.ALL'], resultPath: '$.recordError' });
    }
    runJob.addCatch(recordItemFailure, { errors: ['States.ALL'], resultPath: '$.error' });

    const runItems = itemsBucket ? this.distributedRunItems() : this.inlineRunItems();
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
    for (const retry of BOOKKEEPING_RETRIES) finishBatchRun.addRetry(retry);
    for (const retry of BOOKKEEPING_RETRIES) recordBatchFailure.addRetry(retry);
    runItems.addCatch(recordBatchFailure, { errors: ['States.ALL'], resultPath: '$.error' });
    const batchFailed = new sfn.Fail(this, 'BatchFailed', {
      comment: 'The batch machinery failed; the run record says why',
      error: 'BatchFailed',
      cause: 'The batch could not run all its items; see the batch run record',
    });
    recordBatchFailure.next(batchFailed);

    const done = new sfn.Succeed(this, 'Done', { comment: 'The summary is in the run record' });
    runItems.next(finishBatchRun).next(done);
    if (!this.lane) return startBatchRun.next(runItems);
    // The lane's leftovers (past its deadline) run on demand through the same Map.
    const runRestOnDemand = new sfn.Pass(this, 'RunRestOnDemand', {
      comment: 'The items the batch lane did not finish by its deadline, for RunItems',
      parameters: {
        'runId.$': '$.runId',
        'batchName.$': '$.batchName',
        'maxConcurrency.$': '$.maxConcurrency',
        'modelCalls.$': '$.modelCalls',
        ...(itemsBucket
          ? { 'itemsKey.$': '$.fallback.itemsKey', itemsBucket: itemsBucket.bucketName }
          : { 'items.$': '$.fallback.items' }),
      },
    });
    runRestOnDemand.next(runItems);
    const chooseLane = new sfn.Choice(this, 'ChooseModelCalls', {
      comment: 'modelCalls "batch": phase by phase through Message Batches; otherwise one execution per item',
    })
      .when(
        sfn.Condition.stringEquals('$.modelCalls', 'batch'),
        this.lane.states(runRestOnDemand, !!itemsBucket, recordBatchFailure),
      )
      .otherwise(runItems);
    return startBatchRun.next(chooseLane);
  }

  private inlineRunItems(): sfn.Map {
    return new sfn.Map(this, 'RunItems', {
      comment: 'One orchestrator execution per item, at most maxConcurrency at once',
      itemsPath: '$.items',
      itemSelector: RUN_ITEMS_SELECTOR,
      maxConcurrencyPath: '$.maxConcurrency',
      // The outcomes are in the table; the state keeps only ids.
      resultPath: sfn.JsonPath.DISCARD,
    });
  }

  private distributedRunItems(): sfn.DistributedMap {
    return new sfn.DistributedMap(this, 'RunItems', {
      comment: 'One orchestrator execution per item of the S3 item list, at most maxConcurrency at once',
      // Bucket by path, not `bucket`: the reader would grant GetObject on the whole bucket; the
      // constructor grants it on the item lists only.
      itemReader: new sfn.S3JsonItemReader({
        bucketNamePath: sfn.JsonPath.stringAt('$.itemsBucket'),
        key: sfn.JsonPath.stringAt('$.itemsKey'),
      }),
      itemSelector: RUN_ITEMS_SELECTOR,
      maxConcurrencyPath: '$.maxConcurrency',
      // Each item catches its own failure; should a child execution still fail, the batch goes on.
      toleratedFailurePercentage: 100,
      mapExecutionType: sfn.StateMachineType.STANDARD,
      resultPath: sfn.JsonPath.DISCARD,
    });
  }
}
