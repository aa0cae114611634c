import * as path from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { ModelRole } from '../config';
import { BATCH_ITEMS_PREFIX } from '../../lambdas/shared/batches/item-lists';
import { MODEL_TASK_RETRIES } from '../retry-policies';
import { WorkflowFunction } from './workflow-function';

const LAMBDAS_DIR = path.join(__dirname, '..', '..', 'lambdas');

export interface BatchLaneProps {
  readonly table: ITable;
  /** The Anthropic API key's secret (the lane uses the Message Batches API, provider `anthropic` only). */
  readonly apiKeySecret: ISecret;
  /** The customer-managed key of `apiKeySecret`, if any. @default none */
  readonly apiKeySecretKeyArn?: string;
  readonly models: Readonly<Record<ModelRole, string>>;
  readonly maxTokens: Readonly<Record<ModelRole, number>>;
  readonly maxSubtasks: number;
  readonly planRepairAttempts: number;
  /** Seconds between checks of a batch in progress. */
  readonly pollSeconds: number;
  readonly jobTtlDays: number;
  /** Given (a Distributed Map), the items left for on demand are written there. @default none */
  readonly itemsBucket?: IBucket;
  readonly logRetention: logs.RetentionDays;
}

/** Rounds a request may take when its result is retryable (then it fails with that error). */
const MAX_TRIES = 3;
const LANE_TIMEOUT = Duration.minutes(10);

type Phase = { name: 'Plans' | 'Workers' | 'Syntheses'; phase: 'plans' | 'workers' | 'syntheses' };
const PHASES: readonly Phase[] = [
  { name: 'Plans', phase: 'plans' },
  { name: 'Workers', phase: 'workers' },
  { name: 'Syntheses', phase: 'syntheses' },
];

/**
 * The Message Batches lane of the batch state machine: for each phase (every item's plan, then the
 * workers wave by wave, then every synthesis) Submit{Phase} → Await{Phase} (Wait) → Check{Phase}, looping
 * until the phase is done; then FinishLane. No Lambda waits for a batch: the Wait state does, for free.
 */
export class BatchLane extends Construct {
  public readonly function: WorkflowFunction;

  constructor(scope: Construct, id: string, props: BatchLaneProps) {
    super(scope, id);
    this.function = new WorkflowFunction(this, 'BatchLaneFunction', {
      modelProvider: 'anthropic',
      entry: path.join(LAMBDAS_DIR, 'batch-lane', 'handler.ts'),
      description: 'Batch lane: submits Message Batches phase by phase, applies their results',
      timeout: LANE_TIMEOUT,
      memorySize: 1024,
      logRetention: props.logRetention,
      environment: {
        TABLE_NAME: props.table.tableName,
        JOB_TTL_DAYS: String(props.jobTtlDays),
        MODEL_PROVIDER: 'anthropic',
        ANTHROPIC_API_KEY_SECRET_ARN: props.apiKeySecret.secretArn,
        MODEL_MAX_RETRIES: '0',
        ORCHESTRATOR_MODEL: props.models.orchestrator,
        WORKER_MODEL: props.models.worker,
        SYNTHESIS_MODEL: props.models.synthesis,
        ORCHESTRATOR_MAX_TOKENS: String(props.maxTokens.orchestrator),
        WORKER_MAX_TOKENS: String(props.maxTokens.worker),
        SYNTHESIS_MAX_TOKENS: String(props.maxTokens.synthesis),
        MAX_SUBTASKS: String(props.maxSubtasks),
        PLAN_REPAIR_ATTEMPTS: String(props.planRepairAttempts),
        BATCH_POLL_SECONDS: String(props.pollSeconds),
        BATCH_MAX_TRIES: String(MAX_TRIES),
        ...(props.itemsBucket ? { BATCH_ITEMS_BUCKET: props.itemsBucket.bucketName } : {}),
      },
    });
    // What planJob, runSubtask and synthesizeJob do to jobs and subtasks, plus the lane's own records.
    props.table.grant(
      this.function,
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:Query',
    );
    props.apiKeySecret.grantRead(this.function);
    if (props.apiKeySecretKeyArn) {
      this.function.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [props.apiKeySecretKeyArn],
          conditions: {
            StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` },
          },
        }),
      );
    }
    if (props.itemsBucket) {
      this.function.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['s3:PutObject'],
          resources: [props.itemsBucket.arnForObjects(`${BATCH_ITEMS_PREFIX}*`)],
        }),
      );
    }
  }

  /**
   * The lane's states, entered at SubmitPlans; FinishLane puts the items left for on demand at
   * `$.fallback` and goes on to `onDemand`. A step that fails for good (its retries spent) is caught
   * into `onFailure` with the error at `$.error`, as a failed Map is.
   */
  public states(onDemand: sfn.IChainable, distributed: boolean, onFailure: sfn.IChainable): sfn.IChainable {
    const catchInto = (task: tasks.LambdaInvoke) =>
      task.addCatch(onFailure, { errors: ['States.ALL'], resultPath: '$.error' });
    const invoke = (id: string, comment: string, payload: Record<string, unknown>) => {
      const task = new tasks.LambdaInvoke(this, id, {
        lambdaFunction: this.function,
        comment,
        retryOnServiceExceptions: false,
        payload: sfn.TaskInput.fromObject({ 'runId.$': '$.runId', ...payload }),
        resultSelector: {
          'next.$': '$.Payload.next',
          'pollSeconds.$': '$.Payload.pollSeconds',
          'batchId.$': '$.Payload.batchId',
          'requests.$': '$.Payload.requests',
        },
        resultPath: '$.lane',
        taskTimeout: sfn.Timeout.duration(LANE_TIMEOUT.plus(Duration.seconds(30))),
      });
      for (const retry of MODEL_TASK_RETRIES) task.addRetry(retry);
      catchInto(task);
      return task;
    };

    const finishLane = new tasks.LambdaInvoke(this, 'FinishLane', {
      lambdaFunction: this.function,
      comment: 'Records every finished item; past the deadline, hands the unfinished ones to on demand',
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({ 'runId.$': '$.runId', step: 'finish' }),
      resultSelector: distributed ? { 'itemsKey.$': '$.Payload.itemsKey' } : { 'items.$': '$.Payload.items' },
      resultPath: '$.fallback',
      taskTimeout: sfn.Timeout.duration(LANE_TIMEOUT.plus(Duration.seconds(30))),
    });
    for (const retry of MODEL_TASK_RETRIES) finishLane.addRetry(retry);
    catchInto(finishLane);
    finishLane.next(onDemand);

    // Built last to first, so each phase's Done can go on to the next phase's Submit.
    let after: sfn.IChainable = finishLane;
    for (const { name, phase } of [...PHASES].reverse()) {
      const submit = invoke(`Submit${name}`, `Submits the ${phase} the items need now as one Message Batch`, {
        step: 'submit',
        phase,
      });
      const wait = new sfn.Wait(this, `Await${name}`, {
        comment: 'Waits (free) for the Message Batch to be processed',
        time: sfn.WaitTime.secondsPath('$.lane.pollSeconds'),
      });
      const check = invoke(
        `Check${name}`,
        `Checks the ${phase} batch; once ended, stores and validates its results by custom_id`,
        { step: 'check', phase },
      );
      const next = (value: string) => sfn.Condition.stringEquals('$.lane.next', value);
      const submitted = new sfn.Choice(this, `${name}Submitted`)
        .when(next('await'), wait)
        .when(next('fallback'), finishLane)
        .otherwise(after);
      const checked = new sfn.Choice(this, `${name}Checked`)
        .when(next('await'), wait)
        .when(next('submit'), submit)
        .otherwise(finishLane);
      submit.next(submitted);
      wait.next(check);
      check.next(checked);
      after = submit;
    }
    return after;
  }
}
