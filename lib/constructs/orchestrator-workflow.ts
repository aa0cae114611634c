import * as path from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { ModelProvider, ModelRole } from '../config';
import type { ModelLimits } from '../../lambdas/shared/domain/model-limits';
import type { ApprovalPolicy, Budget } from '../../lambdas/shared/domain/budget';
import type { PolicyErrorName } from '../../lambdas/shared/domain/error-policy';
import { BOOKKEEPING_RETRIES, INVOKE_RETRIES, MODEL_TASK_RETRIES } from '../retry-policies';
import { bedrockInvokeStatements, marketplaceSubscribeStatements } from './bedrock-model-access';
import { executionLogging } from './execution-logging';
import { WorkflowFunction } from './workflow-function';

const LAMBDAS_DIR = path.join(__dirname, '..', '..', 'lambdas');

export interface OrchestratorWorkflowProps {
  /** Where jobs and subtasks are stored. */
  readonly table: ITable;
  /**
   * Secret whose value is the Anthropic API key, read by the model-calling functions at run time.
   * Required with provider `anthropic`; must be unset with `bedrock` (IAM authorises the calls).
   * @default none
   */
  readonly apiKeySecret?: ISecret;
  /** How the model-calling functions reach the model, and so what they may do. */
  readonly provider: ModelProvider;
  /** The model each role calls unless the job's profile sets another. */
  readonly models: Readonly<Record<ModelRole, string>>;
  /**
   * Every model each role may call (profiles may set their own), for the Bedrock grants.
   * @default each role's model only
   */
  readonly grantedModels?: Readonly<Record<ModelRole, readonly string[]>>;
  /** @default 4096 for planning and workers, 8192 for synthesis */
  readonly maxTokens?: Readonly<Record<ModelRole, number>>;
  /** Workers at once per job (the RunSubtasks Map's MaxConcurrency). @default 10 */
  readonly maxConcurrency?: number;
  /** Ceiling on subtasks per job, whatever a profile allows. @default 10 */
  readonly maxSubtasks?: number;
  /** Repair calls after an invalid plan, then `InvalidPlan`. @default 2 */
  readonly planRepairAttempts?: number;
  /** Days until DynamoDB's TTL removes a job and its subtasks. @default 30 */
  readonly jobTtlDays?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The customer-managed KMS key `apiKeySecret` is encrypted with; the model functions may decrypt
   * with it through Secrets Manager only.
   * @default none: the secret uses the AWS-managed key, which needs no grant
   */
  readonly apiKeySecretKeyArn?: string;
  /**
   * Provider `bedrock`: the AWS Marketplace products of the models, which the model functions may
   * subscribe to (Bedrock subscribes as the caller of a model's first invocation in the account).
   * @default none: no marketplace permission
   */
  readonly marketplaceProductIds?: readonly string[];
  /**
   * One budget of model capacity shared by every execution (validated with the configuration). With
   * entries, `capacityTable` is required: the model-calling functions get the limits, its name, and
   * GetItem/PutItem on it.
   * @default {} (no model is governed)
   */
  readonly modelLimits?: ModelLimits;
  /** The governor's table. @default none */
  readonly capacityTable?: ITable;
  /** The approval policy of jobs whose request and profile set none. @default "none" */
  readonly defaultApproval?: ApprovalPolicy;
  /** The budget of jobs whose request and profile set none. @default none */
  readonly defaultBudget?: Budget;
  /** How long AwaitApproval waits for a decision, then the job fails `ApprovalTimedOut`. @default 24 */
  readonly approvalTimeoutHours?: number;
}

const DEFAULT_MAX_TOKENS: Readonly<Record<ModelRole, number>> = {
  orchestrator: 4_096,
  worker: 4_096,
  synthesis: 8_192,
};

/** Lambda timeouts: long enough for one model call of the role's size (plan may need repair calls). */
const TIMEOUTS = {
  plan: Duration.minutes(5),
  worker: Duration.minutes(5),
  synthesize: Duration.minutes(5),
  bookkeeping: Duration.seconds(30),
};

/** Slack between a function's own timeout and the Task's, so the function's error wins the race. */
const TASK_TIMEOUT_SLACK = Duration.seconds(30);

const taskTimeout = (functionTimeout: Duration) =>
  sfn.Timeout.duration(Duration.seconds(functionTimeout.toSeconds() + TASK_TIMEOUT_SLACK.toSeconds()));

/**
 * The orchestrator-workers workflow: Plan → RunWaves (one dependency wave after another, each a
 * RunSubtasks Map of RunSubtask, each caught into RecordSubtaskFailure) → Synthesize → Done; any
 * unhandled error → MarkFailed → JobFailed.
 * State payloads carry ids and small status fields; model outputs live in the table.
 */
export class OrchestratorWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly planFunction: WorkflowFunction;
  public readonly workerFunction: WorkflowFunction;
  public readonly synthesizeFunction: WorkflowFunction;
  public readonly recordSubtaskFailureFunction: WorkflowFunction;
  public readonly markFailedFunction: WorkflowFunction;
  public readonly checkBudgetFunction: WorkflowFunction;
  public readonly requestApprovalFunction: WorkflowFunction;

  constructor(scope: Construct, id: string, props: OrchestratorWorkflowProps) {
    super(scope, id);
    const { table, apiKeySecret, provider, models, capacityTable } = props;
    const modelLimits = props.modelLimits ?? {};
    if (Object.keys(modelLimits).length > 0 !== (capacityTable !== undefined)) {
      throw new Error('OrchestratorWorkflow: capacityTable is given exactly when modelLimits has entries');
    }
    const maxTokens = props.maxTokens ?? DEFAULT_MAX_TOKENS;
    const grantedModels = props.grantedModels ?? {
      orchestrator: [models.orchestrator],
      worker: [models.worker],
      synthesis: [models.synthesis],
    };
    if (provider === 'anthropic' && !apiKeySecret) {
      throw new Error('OrchestratorWorkflow: provider "anthropic" needs apiKeySecret');
    }
    if (provider === 'bedrock' && apiKeySecret) {
      throw new Error('OrchestratorWorkflow: provider "bedrock" takes no apiKeySecret');
    }
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const common = { TABLE_NAME: table.tableName, JOB_TTL_DAYS: String(props.jobTtlDays ?? 30) };
    const modelEnv = {
      ...common,
      MODEL_PROVIDER: provider,
      ...(apiKeySecret ? { ANTHROPIC_API_KEY_SECRET_ARN: apiKeySecret.secretArn } : {}),
      MODEL_MAX_RETRIES: '0',
      ...(capacityTable
        ? { CAPACITY_TABLE_NAME: capacityTable.tableName, MODEL_LIMITS: JSON.stringify(modelLimits) }
        : {}),
    };

    // The worker's and synthesis's calls, so planning and the budget checks can price them in advance.
    const rolesEnv = {
      WORKER_MODEL: models.worker,
      WORKER_MAX_TOKENS: String(maxTokens.worker),
      SYNTHESIS_MODEL: models.synthesis,
      SYNTHESIS_MAX_TOKENS: String(maxTokens.synthesis),
    };
    this.planFunction = new WorkflowFunction(this, 'PlanFunction', {
      modelProvider: provider,
      entry: path.join(LAMBDAS_DIR, 'plan', 'handler.ts'),
      description: 'Plans a job: asks the orchestrator model for subtasks and validates them',
      timeout: TIMEOUTS.plan,
      logRetention,
      environment: {
        ...modelEnv,
        MODEL: models.orchestrator,
        MODEL_MAX_TOKENS: String(maxTokens.orchestrator),
        MAX_SUBTASKS: String(props.maxSubtasks ?? 10),
        PLAN_REPAIR_ATTEMPTS: String(props.planRepairAttempts ?? 2),
        ...rolesEnv,
        ...(props.defaultApproval ? { DEFAULT_APPROVAL: JSON.stringify(props.defaultApproval) } : {}),
        ...(props.defaultBudget ? { DEFAULT_BUDGET: JSON.stringify(props.defaultBudget) } : {}),
      },
    });
    this.workerFunction = new WorkflowFunction(this, 'WorkerFunction', {
      modelProvider: provider,
      entry: path.join(LAMBDAS_DIR, 'worker', 'handler.ts'),
      description: 'Runs one subtask with the worker model',
      timeout: TIMEOUTS.worker,
      logRetention,
      environment: {
        ...modelEnv,
        MODEL: models.worker,
        MODEL_MAX_TOKENS: String(maxTokens.worker),
      },
    });
    this.synthesizeFunction = new WorkflowFunction(this, 'SynthesizeFunction', {
      modelProvider: provider,
      entry: path.join(LAMBDAS_DIR, 'synthesize', 'handler.ts'),
      description: 'Combines the subtask results into the deliverable',
      timeout: TIMEOUTS.synthesize,
      logRetention,
      environment: {
        ...modelEnv,
        MODEL: models.synthesis,
        MODEL_MAX_TOKENS: String(maxTokens.synthesis),
      },
    });
    this.recordSubtaskFailureFunction = new WorkflowFunction(this, 'RecordSubtaskFailureFunction', {
      entry: path.join(LAMBDAS_DIR, 'record-subtask-failure', 'handler.ts'),
      description: 'Records why a subtask failed for good',
      timeout: TIMEOUTS.bookkeeping,
      memorySize: 256,
      logRetention,
      environment: common,
    });
    this.markFailedFunction = new WorkflowFunction(this, 'MarkFailedFunction', {
      entry: path.join(LAMBDAS_DIR, 'mark-failed', 'handler.ts'),
      description: 'Records a job as FAILED with the cause',
      timeout: TIMEOUTS.bookkeeping,
      memorySize: 256,
      logRetention,
      environment: common,
    });

    this.checkBudgetFunction = new WorkflowFunction(this, 'CheckBudgetFunction', {
      entry: path.join(LAMBDAS_DIR, 'check-budget', 'handler.ts'),
      description: "Checks a job's budget before the workers, each wave and the synthesis",
      timeout: TIMEOUTS.bookkeeping,
      memorySize: 256,
      logRetention,
      environment: { ...common, ...rolesEnv },
    });
    this.requestApprovalFunction = new WorkflowFunction(this, 'RequestApprovalFunction', {
      entry: path.join(LAMBDAS_DIR, 'request-approval', 'handler.ts'),
      description: 'Keeps the AwaitApproval task token with the job while a person decides',
      timeout: TIMEOUTS.bookkeeping,
      memorySize: 256,
      logRetention,
      environment: common,
    });

    // Least privilege: each function gets exactly the item operations its code performs.
    table.grant(
      this.planFunction,
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:BatchWriteItem',
    );
    table.grant(
      this.workerFunction,
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:Query',
    );
    table.grant(this.synthesizeFunction, 'dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem');
    table.grant(this.recordSubtaskFailureFunction, 'dynamodb:UpdateItem');
    table.grant(this.markFailedFunction, 'dynamodb:UpdateItem');
    table.grant(this.checkBudgetFunction, 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem');
    table.grant(this.requestApprovalFunction, 'dynamodb:UpdateItem');
    const modelFunctions = [
      [this.planFunction, grantedModels.orchestrator],
      [this.workerFunction, grantedModels.worker],
      [this.synthesizeFunction, grantedModels.synthesis],
    ] as const;
    for (const [modelFunction] of modelFunctions)
      capacityTable?.grant(modelFunction, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem');
    for (const [modelFunction, models] of modelFunctions) {
      // Anthropic: read the key. Bedrock: invoke only the models this role can use. Never both.
      if (apiKeySecret) {
        apiKeySecret.grantRead(modelFunction);
        if (props.apiKeySecretKeyArn)
          modelFunction.addToRolePolicy(
            new iam.PolicyStatement({
              actions: ['kms:Decrypt'],
              resources: [props.apiKeySecretKeyArn],
              conditions: {
                StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` },
              },
            }),
          );
      } else {
        for (const model of models)
          for (const statement of bedrockInvokeStatements(this, model))
            modelFunction.addToRolePolicy(statement);
        for (const statement of marketplaceSubscribeStatements(props.marketplaceProductIds))
          modelFunction.addToRolePolicy(statement);
      }
    }

    const approvalTimeout = Duration.hours(props.approvalTimeoutHours ?? 24);
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'Orchestrator-workers content generation: plan, run subtasks in parallel, synthesize',
      definitionBody: sfn.DefinitionBody.fromChainable(
        this.definition(props.maxConcurrency ?? 10, approvalTimeout),
      ),
      // The work's 2 hours, and as long again as a plan may wait for approval.
      timeout: Duration.hours(2).plus(approvalTimeout),
      tracingEnabled: true,
      logs: executionLogging(this, logRetention),
    });
  }

  private definition(maxConcurrency: number, approvalTimeout: Duration): sfn.IChainable {
    const plan = new tasks.LambdaInvoke(this, 'Plan', {
      lambdaFunction: this.planFunction,
      comment: 'The orchestrator model decides which subtasks this task needs',
      retryOnServiceExceptions: false,
      resultSelector: {
        'waves.$': '$.Payload.waves',
        'planAttempts.$': '$.Payload.planAttempts',
        'budgeted.$': '$.Payload.budgeted',
        'awaitApproval.$': '$.Payload.awaitApproval',
      },
      resultPath: '$.plan',
      taskTimeout: taskTimeout(TIMEOUTS.plan),
    });

    // A person approves (perhaps trimming the plan) or rejects it through the API, which answers
    // with SendTaskSuccess (the waves to run) or SendTaskFailure (PlanRejected).
    const awaitApproval = new tasks.LambdaInvoke(this, 'AwaitApproval', {
      lambdaFunction: this.requestApprovalFunction,
      comment: 'Waits for a person to approve or reject the plan (POST /jobs/{jobId}/approval)',
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({ 'jobId.$': '$.jobId', taskToken: sfn.JsonPath.taskToken }),
      resultSelector: {
        'waves.$': '$.waves',
        'budgeted.$': '$.budgeted',
        'decision.$': '$.decision',
      },
      resultPath: '$.plan',
      taskTimeout: sfn.Timeout.duration(approvalTimeout),
    });
    // Only the invoke itself is retried (a retry stores a fresh token); the wait's timeout is the answer.
    for (const retry of INVOKE_RETRIES) awaitApproval.addRetry(retry);
    const rejected = new sfn.Succeed(this, 'Rejected', {
      comment: 'A person rejected the plan: the job is CANCELLED with PlanRejected, no worker ran',
    });
    const approvalTimedOut = new sfn.Pass(this, 'ApprovalTimedOut', {
      comment: 'Nobody decided in time: the job fails with ApprovalTimedOut',
      parameters: {
        Error: 'ApprovalTimedOut' satisfies PolicyErrorName,
        Cause: `Nobody approved or rejected the plan within ${approvalTimeout.toHours()} hours`,
      },
      resultPath: '$.error',
    });

    // The budget checks, each a state, so the console shows where a budget stopped the job.
    const checkBudget = (id: string, comment: string, payload: Record<string, unknown>) =>
      new tasks.LambdaInvoke(this, id, {
        lambdaFunction: this.checkBudgetFunction,
        comment,
        retryOnServiceExceptions: false,
        payload: sfn.TaskInput.fromObject({ 'jobId.$': '$.jobId', ...payload }),
        resultSelector: { 'withinBudget.$': '$.Payload.withinBudget', 'reason.$': '$.Payload.reason' },
        resultPath: '$.budget',
        taskTimeout: taskTimeout(TIMEOUTS.bookkeeping),
      });
    const reserveSynthesis = checkBudget(
      'ReserveSynthesis',
      "Holds the synthesis's worst case in the job's budget before any worker starts",
      { check: 'reserve-synthesis' },
    );
    const checkSynthesisBudget = checkBudget(
      'CheckSynthesisBudget',
      "Prices the exact synthesis prompt against what is left of the job's budget",
      { check: 'synthesis' },
    );
    const overBudget = new sfn.Pass(this, 'OverBudget', {
      comment:
        'The budget cannot cover the synthesis: the job fails with BudgetExceeded, keeping what it has',
      parameters: { Error: 'BudgetExceeded' satisfies PolicyErrorName, 'Cause.$': '$.budget.reason' },
      resultPath: '$.error',
    });
    const checkWaveBudget = new tasks.LambdaInvoke(this, 'CheckWaveBudget', {
      lambdaFunction: this.checkBudgetFunction,
      comment: 'Lets through the subtasks of this wave the budget can cover; fails the rest BudgetExceeded',
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({
        check: 'wave',
        'jobId.$': '$.jobId',
        'wave.$': '$.wave',
        'subtaskIds.$': '$.subtaskIds',
      }),
      resultSelector: {
        'jobId.$': '$.Payload.jobId',
        'wave.$': '$.Payload.wave',
        'subtaskIds.$': '$.Payload.subtaskIds',
        'overBudget.$': '$.Payload.overBudget',
      },
      resultPath: sfn.JsonPath.entirePayload,
      taskTimeout: taskTimeout(TIMEOUTS.bookkeeping),
    });
    for (const step of [reserveSynthesis, checkSynthesisBudget, checkWaveBudget])
      for (const retry of BOOKKEEPING_RETRIES) step.addRetry(retry);

    const runSubtask = new tasks.LambdaInvoke(this, 'RunSubtask', {
      lambdaFunction: this.workerFunction,
      comment: 'A worker model call for one subtask',
      retryOnServiceExceptions: false,
      resultSelector: {
        'subtaskId.$': '$.Payload.subtaskId',
        'status.$': '$.Payload.status',
        'attempts.$': '$.Payload.attempts',
      },
      taskTimeout: taskTimeout(TIMEOUTS.worker),
    });
    const recordSubtaskFailure = new tasks.LambdaInvoke(this, 'RecordSubtaskFailure', {
      lambdaFunction: this.recordSubtaskFailureFunction,
      comment: 'The subtask failed for good: record why, and let the job go on',
      retryOnServiceExceptions: false,
      resultSelector: {
        'subtaskId.$': '$.Payload.subtaskId',
        'status.$': '$.Payload.status',
        'error.$': '$.Payload.error',
      },
      taskTimeout: taskTimeout(TIMEOUTS.bookkeeping),
    });
    for (const retry of BOOKKEEPING_RETRIES) recordSubtaskFailure.addRetry(retry);
    for (const retry of MODEL_TASK_RETRIES) runSubtask.addRetry(retry);
    runSubtask.addCatch(recordSubtaskFailure, { errors: ['States.ALL'], resultPath: '$.error' });

    const runSubtasks = new sfn.Map(this, 'RunSubtasks', {
      comment: 'One worker per subtask of this wave, in parallel (higher priority first)',
      itemsPath: '$.subtaskIds',
      itemSelector: {
        'jobId.$': '$.jobId',
        'subtaskId.$': '$$.Map.Item.Value',
      },
      maxConcurrency,
    });
    runSubtasks.itemProcessor(runSubtask);

    // Waves run one after another, so a subtask starts only when everything it depends on is done.
    const runWaves = new sfn.Map(this, 'RunWaves', {
      comment: 'Dependency waves of the plan, one after another (a plan without dependencies is one wave)',
      itemsPath: '$.plan.waves',
      itemSelector: {
        'jobId.$': '$.jobId',
        'wave.$': '$$.Map.Item.Index',
        'subtaskIds.$': '$$.Map.Item.Value',
        'budgeted.$': '$.plan.budgeted',
      },
      maxConcurrency: 1,
      resultPath: '$.subtasks',
    });
    runWaves.itemProcessor(
      new sfn.Choice(this, 'WaveBudgetSet', { comment: 'A job with a budget checks it before each wave' })
        .when(sfn.Condition.booleanEquals('$.budgeted', true), checkWaveBudget.next(runSubtasks))
        .otherwise(runSubtasks),
    );

    const synthesize = new tasks.LambdaInvoke(this, 'Synthesize', {
      lambdaFunction: this.synthesizeFunction,
      comment: 'The synthesis model combines the successful subtasks into one deliverable',
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({ 'jobId.$': '$.jobId' }),
      resultSelector: {
        'status.$': '$.Payload.status',
        'succeeded.$': '$.Payload.succeeded',
        'failed.$': '$.Payload.failed',
      },
      resultPath: '$.result',
      taskTimeout: taskTimeout(TIMEOUTS.synthesize),
    });
    for (const retry of MODEL_TASK_RETRIES) {
      plan.addRetry(retry);
      synthesize.addRetry(retry);
    }

    const markFailed = new tasks.LambdaInvoke(this, 'MarkFailed', {
      lambdaFunction: this.markFailedFunction,
      comment: 'Records the job as FAILED, and why',
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({ 'jobId.$': '$.jobId', 'error.$': '$.error' }),
      resultSelector: { 'error.$': '$.Payload.error', 'cause.$': '$.Payload.cause' },
      resultPath: '$.failure',
      taskTimeout: taskTimeout(TIMEOUTS.bookkeeping),
    });
    for (const retry of BOOKKEEPING_RETRIES) markFailed.addRetry(retry);
    const jobFailed = new sfn.Fail(this, 'JobFailed', {
      comment: 'The job could not produce a deliverable; the job record says why',
      errorPath: '$.failure.error',
      causePath: '$.failure.cause',
    });
    const failureHandling = markFailed.next(jobFailed);

    awaitApproval.addCatch(rejected, {
      errors: ['PlanRejected' satisfies PolicyErrorName],
      resultPath: '$.error',
    });
    awaitApproval.addCatch(approvalTimedOut, {
      errors: ['States.Timeout' satisfies PolicyErrorName, sfn.Errors.HEARTBEAT_TIMEOUT],
      resultPath: '$.error',
    });
    for (const step of [plan, awaitApproval, reserveSynthesis, runWaves, checkSynthesisBudget, synthesize]) {
      step.addCatch(failureHandling, { errors: ['States.ALL'], resultPath: '$.error' });
    }
    approvalTimedOut.next(markFailed);
    overBudget.next(markFailed);

    const done = new sfn.Succeed(this, 'Done', { comment: 'The deliverable is in the job record' });
    synthesize.next(done);
    const synthesisBudgetSet = new sfn.Choice(this, 'SynthesisBudgetSet', {
      comment: 'A job with a budget checks it before synthesis',
    })
      .when(
        sfn.Condition.booleanEquals('$.plan.budgeted', true),
        checkSynthesisBudget.next(
          new sfn.Choice(this, 'SynthesisAffordable')
            .when(sfn.Condition.booleanEquals('$.budget.withinBudget', true), synthesize)
            .otherwise(overBudget),
        ),
      )
      .otherwise(synthesize);
    runWaves.next(synthesisBudgetSet);
    const budgetSet = new sfn.Choice(this, 'BudgetSet', {
      comment: "A job with a budget holds the synthesis's worst case before any worker starts",
    })
      .when(
        sfn.Condition.booleanEquals('$.plan.budgeted', true),
        reserveSynthesis.next(
          new sfn.Choice(this, 'SynthesisReserved')
            .when(sfn.Condition.booleanEquals('$.budget.withinBudget', true), runWaves)
            .otherwise(overBudget),
        ),
      )
      .otherwise(runWaves);
    awaitApproval.next(budgetSet);
    return plan.next(
      new sfn.Choice(this, 'ApprovalNeeded', {
        comment: 'The plan waits for a person when the job asks for it',
      })
        .when(sfn.Condition.booleanEquals('$.plan.awaitApproval', true), awaitApproval)
        .otherwise(budgetSet),
    );
  }
}
