import './polyfills';
import * as path from 'node:path';
import type { z } from 'zod';
import { parseConfig, type OrchestratorConfig, type OrchestratorConfigInput } from '../../lib/config';
import { createDocumentClient, JobRepository } from '../../lambdas/shared/storage/job-repository';
import { newJobId } from '../../lambdas/shared/domain/job-id';
import { BatchRepository } from '../../lambdas/shared/storage/batch-repository';
import { DEFAULT_BATCHES_DIR } from '../../lambdas/shared/batches/catalog';
import {
  type BatchExecutionInput,
  BatchExecutionInputSchema,
  batchJobId,
  newBatchRunId,
} from '../../lambdas/shared/domain/batch-schemas';
import { type BatchRunView, toBatchRunView } from '../../lambdas/shared/views/batch-view';
import { finishBatchRun } from '../../lambdas/finish-batch-run/finish-batch-run';
import { type JobView, toJobView } from '../../lambdas/shared/views/job-view';
import {
  type JobRequest,
  JobRequestSchema,
  type JobStatus,
  TERMINAL_JOB_STATUSES,
} from '../../lambdas/shared/domain/schemas';
import { JobsService } from '../../lambdas/api/jobs-service';
import { unfinishedJobStatuses } from '../../lambdas/api/batches-service';
import { IdempotencyStore } from '../../lambdas/api/idempotency';
import type { ApprovalBody } from '../../lambdas/api/api-schemas';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ensureTable, type LocalDynamoDB, startLocalDynamoDB } from './dynamodb';
import { executionStatusChangeEvent, LocalEventRules } from './event-rules';
import { lambdaInvokeIntegration, LocalLambdaFunction, type SandboxProvider } from './lambda';
import {
  type ExecutionEvent,
  type ExecutionRecord,
  LocalStepFunctions,
  type TaskHandlers,
} from './step-functions';
import { START_EXECUTION_SYNC_RESOURCE, startExecutionSyncIntegration } from './start-execution-sync';
import { waitForTaskTokenIntegration } from './task-tokens';
import type { SimulatedModel, SimulatedModelOptions } from '../simulated-model';
import { openSharedDynamoDB } from './shared-dynamodb';
import { EXECUTIONS_TABLE_INPUT, ExecutionStore } from './execution-store';
import { loadLocalStack } from './template-cache';
import { loadOnDemand } from './load-on-demand';
import {
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  localArn,
  type CfnTemplate,
  type LocalFunctionSpec,
  type LocalScheduleSpec,
  type LocalStateMachineSpec,
  type SynthesizedStack,
} from './synthesized-stack';

/** The simulated model's module, loaded only when a run uses it. */
const simulatedModelModule = () =>
  loadOnDemand<typeof import('../simulated-model')>(path.join(__dirname, '..', 'simulated-model'));
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type GatewayUpstream, LocalAwsGateway } from './aws-gateway';
import { authorize, type LocalPrincipal, serviceCanAssume } from './iam-roles';

export type { ExecutionEvent, ExecutionRecord };

/**
 * Where the model calls go: the real Anthropic API (key set), real Amazon Bedrock (with the AWS
 * credentials of this process), or the simulated model (test double), which answers both the
 * Anthropic route and the Bedrock route, whichever `config.provider` the functions use.
 */
export type ModelMode =
  | { kind: 'anthropic'; apiKey: string; baseUrl?: string }
  | { kind: 'bedrock'; region?: string; baseUrl?: string }
  | { kind: 'simulated'; options?: SimulatedModelOptions };

/** The batch lane's poll interval in local runs (seconds), unless the configuration sets one. */
export const LOCAL_BATCH_POLL_SECONDS = 1;

export interface LocalOrchestratorOptions {
  config?: OrchestratorConfigInput;
  model: ModelMode;
  /**
   * The local data folder (`.local/` for the CLIs): DynamoDB's files, shared with every other process
   * using the folder (shared-dynamodb.ts), and the template cache. In memory, private, when unset.
   */
  dataDir?: string;
  /** This process's DynamoDB endpoint port; default any free port. */
  dynamoPort?: number;
  /** Where synthesized templates are cached; default `<dataDir>/template-cache` (none in memory). */
  templateCacheDir?: string;
  /** Milliseconds to wait before each retry, per state name (tests use this instead of real backoff). */
  retryIntervalOverrides?: Record<string, number | number[]>;
  /**
   * Multiplies every Retry rule's IntervalSeconds and MaxDelaySeconds (tests and benchmarks whose
   * model answers in milliseconds): the same backoff, jitter and attempt counts, faster. States in
   * `retryIntervalOverrides` use those instead.
   */
  retryTimeScale?: number;
  /**
   * Function timeouts in seconds by handler folder (`plan`, `worker`, …), instead of the template's.
   * Tests use it to reach a deadline quickly.
   */
  functionTimeoutSeconds?: Partial<Record<string, number>>;
  /**
   * Handler modules by handler folder (`plan`, …), instead of the template's: development tools bind
   * a function to their own entry this way (the benchmark's exact-count planner).
   */
  entryOverrides?: Partial<Record<string, string>>;
  /**
   * TimeoutSeconds by Task state name, instead of the template's: tests reach a long wait's end
   * quickly this way (AwaitApproval's hours).
   */
  taskTimeoutSeconds?: Record<string, number>;
  /**
   * The executions' own TimeoutSeconds by state machine (`orchestrator`, `batch`), instead of the
   * template's hours: tests reach TIMED_OUT this way.
   */
  executionTimeoutSeconds?: Partial<Record<'orchestrator' | 'batch', number>>;
  /** Extra environment for every function, e.g. the local Step Functions endpoint for the api function. */
  functionEnvironment?: Record<string, string>;
  /** Tests only: changes the synthesized template (e.g. a role's policy) before the stack runs it. */
  editTemplate?: (template: CfnTemplate) => void;
}

export interface LocalExecution {
  jobId: string;
  executionArn: string;
  events: AsyncIterable<ExecutionEvent>;
  /** Settles when the execution ends and its events are recorded; never rejects. */
  finished: Promise<ExecutionRecord>;
}

/** What `LocalOrchestrator.start` spent its time on (the CLIs' start-up, the bench). */
export interface StartupTimings {
  /** `hit`: the template came from the cache; `miss`: the CDK synthesized it. */
  templateCache: 'hit' | 'miss';
  templateMs: number;
  dynamodbMs: number;
  /** Whether this process serves the data folder's DynamoDB (it was the first, or took over). */
  ownsStore: boolean;
}

export interface LocalBatchExecution {
  runId: string;
  executionArn: string;
  events: AsyncIterable<ExecutionEvent>;
  /** Settles when the batch execution ends; never rejects. */
  finished: Promise<ExecutionRecord>;
}

const UNFINISHED_STATUSES: JobStatus[] = [
  'QUEUED',
  'PLANNING',
  'AWAITING_APPROVAL',
  'RUNNING',
  'SYNTHESIZING',
];

/**
 * The whole system on one machine: the state machines CDK synthesizes, run by aws-local-stepfunctions
 * (behind a local Step Functions service) with each Lambda task bound to its handler module; dynalite
 * for DynamoDB; the Anthropic API or the simulated model.
 */
export class LocalOrchestrator {
  readonly repository: JobRepository;
  readonly batches: BatchRepository;
  readonly stateMachineArn: string;
  readonly batchStateMachineArn: string;
  private readonly documents: DynamoDBDocumentClient;

  private constructor(
    readonly config: OrchestratorConfig,
    readonly stack: SynthesizedStack,
    readonly dynamodb: LocalDynamoDB,
    readonly simulatedModel: SimulatedModel | undefined,
    readonly functions: Map<string, LocalLambdaFunction>,
    readonly stepFunctions: LocalStepFunctions,
    /** The local execution console job views link to, when one runs (`npm run serve`). */
    readonly localConsoleUrl: string | undefined,
    /** The stack's EventBridge rules, fed with the executions' status changes. */
    readonly eventRules: LocalEventRules,
    /** The endpoint every function reaches AWS through, checking each call against its role. */
    readonly awsGateway: LocalAwsGateway,
    readonly principals: LocalPrincipals,
    readonly startup: StartupTimings,
  ) {
    const tableName = stack.jobsTableName;
    const documents = createDocumentClient({ region: 'us-east-1', endpoint: dynamodb.endpoint });
    this.documents = documents;
    this.repository = new JobRepository(documents, tableName, config.jobTtlDays);
    this.batches = new BatchRepository(documents, tableName, config.jobTtlDays);
    const arnOf = (name: string) =>
      stepFunctions.stateMachineArns().find((arn) => arn.endsWith(`:stateMachine:${name}`)) ?? '';
    this.stateMachineArn = arnOf(stack.orchestrator.name);
    this.batchStateMachineArn = arnOf(stack.batch.name);
  }

  static async start(options: LocalOrchestratorOptions): Promise<LocalOrchestrator> {
    // Locally the batch lane checks its Message Batches every second unless told otherwise (deployed: 60 s).
    const config = parseConfig({ batchPollSeconds: LOCAL_BATCH_POLL_SECONDS, ...options.config });
    if (config.batchMap !== 'inline') {
      throw new Error(
        `batchMap "${config.batchMap}" cannot run locally: aws-local-stepfunctions does not run a Distributed Map ` +
          '(its ItemReader); leave batchMap at "inline" here (cdk synth and the CDK tests cover "distributed")',
      );
    }
    // The three slow parts overlap: the template (from the cache, or synthesized), DynamoDB, the model.
    const began = Date.now();
    const timings = { templateMs: 0, dynamodbMs: 0 };
    const templateCacheDir =
      options.templateCacheDir ??
      (options.dataDir ? path.join(options.dataDir, 'template-cache') : undefined);
    const opening = (
      options.dataDir
        ? openSharedDynamoDB({
            dataDir: options.dataDir,
            ...(options.dynamoPort ? { port: options.dynamoPort } : {}),
          })
        : startLocalDynamoDB({ port: options.dynamoPort })
    ).then((opened) => ((timings.dynamodbMs = Date.now() - began), opened));
    const modelOptions = options.model.kind === 'simulated' ? options.model.options : undefined;
    const modelStarting =
      options.model.kind === 'simulated'
        ? Promise.resolve().then(() => simulatedModelModule().startSimulatedModel(modelOptions))
        : Promise.resolve(undefined);
    // Last: on a cache miss the synthesis holds the CPU, while the files open and the ports bind.
    const loading = loadLocalStack(config, {
      ...(templateCacheDir ? { cacheDir: templateCacheDir } : {}),
      ...(options.editTemplate ? { editTemplate: options.editTemplate } : {}),
    }).then((loaded) => ((timings.templateMs = Date.now() - began), loaded));
    const [loaded, dynamodb, simulatedModel] = await settleAll([loading, opening, modelStarting] as const);
    const stack = loaded.stack;
    const principals = localPrincipals(stack);
    let gateway: LocalAwsGateway | undefined;
    try {
      await Promise.all(
        [...stack.tables, EXECUTIONS_TABLE_INPUT].map((table) => ensureTable(dynamodb.client, table)),
      );
      const modelEnvironment = localModelEnvironment(options.model, config, simulatedModel);
      // Every AWS call a function makes goes through the gateway, which checks it against the
      // function's role; the endpoints the caller gave (e.g. a fault proxy) sit behind it.
      gateway = await LocalAwsGateway.start({
        enforceIam: localIamEnforced(),
        upstreams: {
          dynamodb: { url: options.functionEnvironment?.DYNAMODB_ENDPOINT ?? dynamodb.endpoint },
          ...(options.functionEnvironment?.SFN_ENDPOINT
            ? { states: { url: options.functionEnvironment.SFN_ENDPOINT } }
            : {}),
          ...bedrockUpstream(options.model, simulatedModel),
        },
        ...anthropicUpstream(options.model, simulatedModel),
        secrets: localSecrets(stack, options.model),
      });
      const sessions = gateway;
      const sandboxes: SandboxProvider = {
        open: (spec) => {
          const principal = principals.ofFunction(spec);
          const { credentials, anthropicBaseUrl } = sessions.openSession(principal);
          return {
            environment: {
              AWS_ACCESS_KEY_ID: credentials.accessKeyId,
              AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
              AWS_SESSION_TOKEN: credentials.sessionToken,
              ...(spec.environment.MODEL_PROVIDER && config.provider === 'anthropic'
                ? { ANTHROPIC_BASE_URL: anthropicBaseUrl }
                : {}),
            },
            kill: () => sessions.revokeSession(credentials.accessKeyId),
          };
        },
      };

      const functions = new Map(
        stack.functions.map((synthesized) => {
          const folder = path.basename(path.dirname(synthesized.entry));
          const timeoutOverride = options.functionTimeoutSeconds?.[folder];
          const entryOverride = options.entryOverrides?.[folder];
          const spec = {
            ...synthesized,
            ...(timeoutOverride ? { timeoutSeconds: timeoutOverride } : {}),
            ...(entryOverride ? { entry: entryOverride } : {}),
          };
          // Local-only settings on top of the function's environment from the template.
          const environment = {
            ...spec.environment,
            AWS_REGION: 'us-east-1',
            // Powertools stays quiet: stdout and stderr belong to the CLI, metrics and traces have nowhere to go.
            ...LOCAL_POWERTOOLS_ENVIRONMENT,
            ...options.functionEnvironment,
            DYNAMODB_ENDPOINT: sessions.url,
            ...(options.functionEnvironment?.SFN_ENDPOINT ? { SFN_ENDPOINT: sessions.url } : {}),
            // Deployed, the definitions are bundled next to the code; locally they are read in place.
            ...(spec.environment.BATCHES_DIR ? { BATCHES_DIR: DEFAULT_BATCHES_DIR } : {}),
            ...(spec.environment.MODEL_PROVIDER ? modelEnvironment : {}),
            ...(spec.environment.ANTHROPIC_API_KEY_SECRET_ARN
              ? { SECRETS_MANAGER_ENDPOINT: sessions.url }
              : {}),
            ...(spec.environment.MODEL_PROVIDER && config.provider === 'bedrock'
              ? { ANTHROPIC_BEDROCK_BASE_URL: sessions.url }
              : {}),
          };
          return [spec.arn, new LocalLambdaFunction(spec, environment, sandboxes)] as const;
        }),
      );

      const stepFunctions = new LocalStepFunctions(
        new ExecutionStore(dynamodb.client, (error) =>
          process.stderr.write(
            `warning: the local execution history could not be written: ${error instanceof Error ? error.message : String(error)}\n`,
          ),
        ),
      );
      // As in AWS, every execution's status changes go to EventBridge, whose rules invoke their targets.
      const enforced = localIamEnforced();
      const eventRules = new LocalEventRules(
        stack.rules,
        functions,
        enforced ? { permissions: stack.eventPermissions } : {},
      );
      stepFunctions.onStatusChange((record) => eventRules.publish(executionStatusChangeEvent(record)));
      for (const machine of stack.stateMachines) {
        const caller = enforced ? principals.ofStateMachine(machine) : undefined;
        // The engine types results as JSON values; the integrations return parsed JSON, so this only widens.
        const invoke = lambdaInvokeIntegration(functions, caller) as unknown as TaskHandlers[string];
        const startExecutionSync = startExecutionSyncIntegration(
          stepFunctions,
          caller,
        ) as unknown as TaskHandlers[string];
        const scaled =
          options.retryTimeScale === undefined
            ? machine.definition
            : scaleRetryTimes(machine.definition, options.retryTimeScale);
        const timed = options.taskTimeoutSeconds
          ? withTaskTimeouts(scaled, options.taskTimeoutSeconds)
          : scaled;
        const executionTimeout = options.executionTimeoutSeconds?.[machine.name as 'orchestrator' | 'batch'];
        const definition =
          executionTimeout === undefined ? timed : { ...timed, TimeoutSeconds: executionTimeout };
        stepFunctions.register({
          name: machine.name,
          definition,
          taskHandlers: {
            ...Object.fromEntries(lambdaTaskStates(machine.definition).map((name) => [name, invoke])),
            ...Object.fromEntries(
              taskStatesWithResource(machine.definition, LAMBDA_INVOKE_WAIT_FOR_TASK_TOKEN).map((name) => [
                name,
                waitForTaskTokenIntegration(
                  stepFunctions.taskTokens,
                  invoke as unknown as (input: unknown) => Promise<unknown>,
                  stateNamed(definition, name),
                ) as unknown as TaskHandlers[string],
              ]),
            ),
            ...Object.fromEntries(
              taskStatesWithResource(machine.definition, START_EXECUTION_SYNC_RESOURCE).map((name) => [
                name,
                startExecutionSync,
              ]),
            ),
          },
          ...(options.retryIntervalOverrides
            ? { retryIntervalOverrides: options.retryIntervalOverrides }
            : {}),
        });
      }
      return new LocalOrchestrator(
        config,
        stack,
        dynamodb,
        simulatedModel,
        functions,
        stepFunctions,
        options.functionEnvironment?.CONSOLE_URL,
        eventRules,
        gateway,
        principals,
        {
          templateCache: loaded.cache,
          ...timings,
          ownsStore: 'owns' in dynamodb ? (dynamodb as { owns(): boolean }).owns() : true,
        },
      );
    } catch (error) {
      await gateway?.close();
      await simulatedModel?.close();
      await dynamodb.close();
      throw error;
    }
  }

  /** The local function whose handler lives in `lambdas/<folder>/`. */
  functionFor(folder: string): LocalLambdaFunction {
    const fn = [...this.functions.values()].find(
      (candidate) => path.basename(path.dirname(candidate.spec.entry)) === folder,
    );
    if (!fn) throw new Error(`No function with its handler in lambdas/${folder}`);
    return fn;
  }

  /** Validates the request, records the job as QUEUED and starts its execution (execution name = job id). */
  async startJob(request: unknown, options: { jobId?: string } = {}): Promise<LocalExecution> {
    const parsed: JobRequest = JobRequestSchema.parse(request);
    const jobId = options.jobId ?? newJobId(parsed.task);
    const created = await this.repository.createJob({ jobId, status: 'QUEUED', ...parsed });
    if (!created) throw new Error(`A job with id ${jobId} already exists`);
    const execution = await this.stepFunctions.startExecution({
      stateMachineArn: this.stateMachineArn,
      name: jobId,
      input: JSON.stringify({ jobId }),
    });
    await this.repository.setExecutionArn(jobId, execution.executionArn);
    return {
      jobId,
      executionArn: execution.executionArn,
      events: this.stepFunctions.watch(execution.executionArn),
      finished: this.stepFunctions.waitForExecution(execution.executionArn),
    };
  }

  /**
   * Starts the batch state machine (execution name = run id). Requests given here are recorded with
   * the run first, as the API does, so the execution input carries only the batch's name and run id;
   * without them StartBatchRun reads the definition of that name from `batches/`.
   */
  async startBatch(input: z.input<typeof BatchExecutionInputSchema>): Promise<LocalBatchExecution> {
    const { items, ...parsed }: BatchExecutionInput = BatchExecutionInputSchema.parse(input);
    const runId = parsed.runId ?? newBatchRunId(parsed.batchName);
    if (items) {
      await this.batches.createRun({
        runId,
        batchName: parsed.batchName,
        trigger: parsed.trigger,
        items: items.map((request, index) => ({
          index,
          jobId: batchJobId(runId, index),
          task: request.task,
          request,
        })),
      });
    }
    const execution = await this.stepFunctions.startExecution({
      stateMachineArn: this.batchStateMachineArn,
      name: runId,
      input: JSON.stringify({ ...parsed, runId }),
    });
    return {
      runId,
      executionArn: execution.executionArn,
      events: this.stepFunctions.watch(execution.executionArn),
      finished: this.stepFunctions.waitForExecution(execution.executionArn),
    };
  }

  /**
   * A person's decision on a job awaiting approval, through the same service as
   * `POST /jobs/{jobId}/approval` (HttpErrors for 400/404/409), answering the token in this process.
   */
  async decideApproval(jobId: string, body: ApprovalBody): Promise<JobView> {
    const tokens = this.stepFunctions.taskTokens;
    const service = new JobsService({
      repository: this.repository,
      idempotency: new IdempotencyStore(this.documents, this.stack.jobsTableName),
      executions: {
        start: (name, input) =>
          this.stepFunctions
            .startExecution({ stateMachineArn: this.stateMachineArn, name, input })
            .then((record) => record.executionArn),
        stop: async (executionArn, error, cause) =>
          void (await this.stepFunctions.requestStop(executionArn, error, cause)),
      },
      taskTokens: {
        succeed: async (token, output) => tokens.sendTaskSuccess(token, output),
        fail: async (token, error, cause) => tokens.sendTaskFailure(token, error, cause),
      },
      roles: {
        worker: { model: this.config.models.worker, maxTokens: this.config.maxTokens.worker },
        synthesis: { model: this.config.models.synthesis, maxTokens: this.config.maxTokens.synthesis },
      },
      ...(this.localConsoleUrl ? { localConsoleUrl: this.localConsoleUrl } : {}),
    });
    return service.decideApproval(jobId, body);
  }

  /**
   * Resolves with the job's view once its plan waits for a decision (AwaitApproval holds the token),
   * or undefined when the execution ends first.
   */
  async approvalRequested(
    jobId: string,
    finished: Promise<unknown>,
    pollMs = 50,
  ): Promise<JobView | undefined> {
    // Nothing to poll for until the execution enters AwaitApproval (most jobs never do).
    const job = await this.repository.getJob(jobId);
    if (
      job?.executionArn &&
      this.stepFunctions.running().some((record) => record.executionArn === job.executionArn)
    ) {
      let entered = false;
      for await (const event of this.stepFunctions.watch(job.executionArn)) {
        if (event.type === 'StateEntered' && 'state' in event && event.state.name === 'AwaitApproval') {
          entered = true;
          break;
        }
      }
      if (!entered) return undefined;
    }
    let ended = false;
    void finished.then(() => (ended = true));
    return this.pollUntilAwaiting(jobId, () => !ended, pollMs);
  }

  /** `approvalRequested` for a job started elsewhere (a batch item): polls until it waits or ends. */
  async approvalRequestedById(jobId: string, timeoutMs = 60_000, pollMs = 50): Promise<JobView | undefined> {
    const deadline = Date.now() + timeoutMs;
    return this.pollUntilAwaiting(jobId, () => Date.now() < deadline, pollMs);
  }

  /** The job's view once it waits with its token kept; undefined once it ended or `going` says stop. */
  private async pollUntilAwaiting(
    jobId: string,
    going: () => boolean,
    pollMs: number,
  ): Promise<JobView | undefined> {
    while (going()) {
      const job = await this.repository.getJob(jobId);
      if (job?.status === 'AWAITING_APPROVAL' && job.approvalToken !== undefined)
        return this.getJobView(jobId);
      if (job && TERMINAL_JOB_STATUSES.includes(job.status)) return undefined;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    return undefined;
  }

  async getBatchRunView(runId: string): Promise<BatchRunView | undefined> {
    const stored = await this.batches.getRunWithItems(runId);
    if (!stored) return undefined;
    return toBatchRunView(
      stored,
      await unfinishedJobStatuses(stored, async (jobId) => (await this.repository.getJob(jobId))?.status),
    );
  }

  async getJobView(jobId: string): Promise<JobView | undefined> {
    const stored = await this.repository.getJobWithSubtasks(jobId);
    return stored ? toJobView(stored, { localConsoleUrl: this.localConsoleUrl }) : undefined;
  }

  /**
   * Marks jobs that cannot finish any more (their execution was stopped with the process, or the
   * process died) as FAILED with `Interrupted`, with their unfinished subtasks, so no job is left
   * looking alive. Returns their ids.
   */
  async failInterruptedJobs(message: string): Promise<string[]> {
    const running = await this.runningAnywhere(this.stateMachineArn);
    const startedAt = Date.now();
    const interrupted: string[] = [];
    for (const status of UNFINISHED_STATUSES) {
      let cursor: Record<string, string> | undefined;
      do {
        const page = await this.repository.listJobs({ status, limit: 100, cursor });
        for (const job of page.items) {
          if (running.has(job.jobId)) continue;
          // Another process may have recorded it a moment ago and be about to start its execution.
          if (status === 'QUEUED' && startedAt - Date.parse(job.createdAt) < QUEUED_GRACE_MS) continue;
          if (await this.interruptJob(job.jobId, message)) interrupted.push(job.jobId);
        }
        cursor = page.cursor;
      } while (cursor);
    }
    return interrupted;
  }

  /** Fails a job `Interrupted`, and its subtasks that had not finished; false if it had ended. */
  private async interruptJob(jobId: string, message: string): Promise<boolean> {
    const error = { name: 'Interrupted', message };
    const failed = await this.repository.failJob(jobId, error);
    await this.repository.failUnfinishedSubtasks(jobId, error);
    return failed;
  }

  /**
   * Ends batch runs left RUNNING without a running execution as FAILED (`Interrupted`), failing
   * their items that never ran. Returns their run ids.
   */
  async failInterruptedBatchRuns(message: string): Promise<string[]> {
    const running = await this.runningAnywhere(this.batchStateMachineArn);
    const interrupted: string[] = [];
    let cursor: Record<string, string> | undefined;
    do {
      const page = await this.batches.listRuns({ limit: 100, ...(cursor ? { cursor } : {}) });
      for (const run of page.items) {
        if (run.status !== 'RUNNING' || running.has(run.runId)) continue;
        await finishBatchRun(
          { runId: run.runId, error: { Error: 'Interrupted', Cause: message } },
          { batches: this.batches, jobs: this.repository },
        );
        interrupted.push(run.runId);
      }
      cursor = page.cursor;
    } while (cursor);
    return interrupted;
  }

  /**
   * Stops every running execution and marks its job (and batch run) Interrupted. They are marked
   * first: the rule on the ABORTED events that follow then finds them ended, as it would had the
   * process (and with it the local EventBridge) gone away.
   */
  async stopRunningJobs(message: string): Promise<string[]> {
    const running = this.stepFunctions.running();
    const jobs: string[] = [];
    for (const execution of running) {
      if (
        execution.stateMachineArn === this.stateMachineArn &&
        (await this.interruptJob(execution.name, message))
      )
        jobs.push(execution.name);
      if (execution.stateMachineArn === this.batchStateMachineArn)
        await this.finishInterruptedBatchRun(execution.name, message);
    }
    for (const execution of running) {
      this.stepFunctions.stopExecution(execution.executionArn, 'Interrupted', message);
    }
    await this.eventRules.settled();
    jobs.push(...(await this.failInterruptedJobs(message)));
    await this.failInterruptedBatchRuns(message);
    return jobs;
  }

  private async finishInterruptedBatchRun(runId: string, message: string): Promise<void> {
    const run = await this.batches.getRun(runId);
    if (run?.status !== 'RUNNING') return;
    await finishBatchRun(
      { runId, error: { Error: 'Interrupted', Cause: message } },
      { batches: this.batches, jobs: this.repository },
    );
  }

  /**
   * Checks, as EventBridge Scheduler does when a schedule fires, that the schedule's role may start
   * the batch state machine; throws `AccessDeniedException` when it may not.
   */
  authorizeScheduledStart(): void {
    if (!localIamEnforced()) return;
    const schedule = this.stack.schedules.find(
      (candidate) => candidate.targetArn === this.batchStateMachineArn,
    );
    if (!schedule) throw new Error('No schedule of the template targets the batch state machine');
    authorize(this.principals.ofSchedule(schedule), {
      action: 'states:StartExecution',
      resource: this.batchStateMachineArn,
    });
  }

  /** Names of the executions still running in this process or another live one sharing the data folder. */
  private async runningAnywhere(stateMachineArn: string): Promise<Set<string>> {
    const running = await this.stepFunctions.findExecutions({ stateMachineArn, statusFilter: 'RUNNING' });
    return new Set(running.map((execution) => execution.name));
  }

  async close(): Promise<void> {
    // Deliveries still under way need the table.
    await this.eventRules.settled();
    await Promise.all([...this.functions.values()].map((fn) => fn.shutdown()));
    await this.awsGateway.close();
    await this.simulatedModel?.close();
    await this.dynamodb.close();
  }
}

/**
 * IAM is enforced in every local run and test; `LOCAL_IAM=off` turns the role checks off for
 * debugging only (sandboxes are still killed at their deadline).
 */
export function localIamEnforced(): boolean {
  return process.env.LOCAL_IAM !== 'off';
}

export interface LocalPrincipals {
  ofFunction(spec: LocalFunctionSpec): LocalPrincipal;
  ofStateMachine(spec: LocalStateMachineSpec): LocalPrincipal;
  ofSchedule(spec: LocalScheduleSpec): LocalPrincipal;
}

/**
 * The principal each function, state machine and schedule acts as, after checking that its
 * service may assume its role (AWS refuses to create or run them otherwise).
 */
function localPrincipals(stack: SynthesizedStack): LocalPrincipals {
  const role = (logicalId: string, owner: string, service: string, context: Record<string, string>) => {
    const found = stack.roles.get(logicalId);
    if (!found) throw new Error(`${owner}: role ${logicalId} is not in the template`);
    if (localIamEnforced() && !serviceCanAssume(found, service, context)) {
      throw new Error(`${owner}: the role ${found.arn} cannot be assumed by ${service}`);
    }
    return found;
  };
  const account = { 'aws:SourceAccount': LOCAL_ACCOUNT };
  const functions = new Map(
    stack.functions.map((fn) => [
      fn.logicalId,
      {
        role: role(fn.roleLogicalId, fn.logicalId, 'lambda.amazonaws.com', account),
        sessionName: fn.logicalId,
      },
    ]),
  );
  const machines = new Map(
    stack.stateMachines.map((machine) => {
      const arn = localArn('states', `stateMachine:${machine.name}`);
      const context = { ...account, 'aws:SourceArn': arn };
      return [
        machine.logicalId,
        {
          role: role(machine.roleLogicalId, machine.name, 'states.amazonaws.com', context),
          sessionName: machine.name,
        },
      ];
    }),
  );
  const schedules = new Map(
    stack.schedules.map((schedule) => {
      const group = `arn:aws:scheduler:${LOCAL_REGION}:${LOCAL_ACCOUNT}:schedule-group/${schedule.groupName}`;
      const context = { ...account, 'aws:SourceArn': group };
      return [
        schedule.logicalId,
        {
          role: role(schedule.roleLogicalId, schedule.logicalId, 'scheduler.amazonaws.com', context),
          sessionName: schedule.logicalId,
        },
      ];
    }),
  );
  const lookup = <T>(map: Map<string, T>, id: string) => {
    const found = map.get(id);
    if (!found) throw new Error(`No principal for ${id}`);
    return found;
  };
  return {
    ofFunction: (spec) => lookup(functions, spec.logicalId),
    ofStateMachine: (spec) => lookup(machines, spec.logicalId),
    ofSchedule: (spec) => lookup(schedules, spec.logicalId),
  };
}

/** Bedrock behind the gateway: the simulated model (checking signatures with its dummy key) or real Bedrock. */
function bedrockUpstream(
  mode: ModelMode,
  simulatedModel: SimulatedModel | undefined,
): { bedrock?: GatewayUpstream } {
  if (mode.kind === 'simulated' && simulatedModel) {
    return {
      bedrock: {
        url: simulatedModel.url,
        credentials: () => Promise.resolve(simulatedModelModule().LOCAL_BEDROCK_CREDENTIALS),
      },
    };
  }
  if (mode.kind === 'bedrock') {
    const region = mode.region ?? 'us-east-1';
    // This process's own AWS credentials (the default chain), as an SDK client would find them.
    const client = new DynamoDBClient({ region });
    return {
      bedrock: {
        url: mode.baseUrl ?? `https://bedrock-runtime.${region}.amazonaws.com`,
        credentials: () => client.config.credentials(),
      },
    };
  }
  return {};
}

function anthropicUpstream(
  mode: ModelMode,
  simulatedModel: SimulatedModel | undefined,
): { anthropicUpstream?: string } {
  if (mode.kind === 'anthropic') return { anthropicUpstream: mode.baseUrl ?? 'https://api.anthropic.com' };
  if (mode.kind === 'simulated' && simulatedModel) return { anthropicUpstream: simulatedModel.url };
  return {};
}

/** Overrides the template's Powertools settings; `functionEnvironment` may turn logs back on (tests). */
export const LOCAL_POWERTOOLS_ENVIRONMENT = {
  LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_TRACE_ENABLED: 'false',
} as const;

/** The key a secret holds with the simulated model, which accepts any. */
const SIMULATED_MODEL_API_KEY = 'simulated-model-local-key';

/**
 * The local Secrets Manager's secrets: the one each model function's `ANTHROPIC_API_KEY_SECRET_ARN`
 * names (the template's secret, or the existing one `apiKeySecretArn` names) holds the Anthropic key,
 * or a placeholder with the simulated model. Bedrock deployments have none.
 */
function localSecrets(stack: SynthesizedStack, mode: ModelMode): Map<string, string> {
  const value = mode.kind === 'anthropic' ? mode.apiKey : SIMULATED_MODEL_API_KEY;
  const arns = stack.functions.flatMap((fn) => fn.environment.ANTHROPIC_API_KEY_SECRET_ARN ?? []);
  return new Map(arns.map((arn) => [arn, value]));
}

/**
 * What the model-calling functions get on top of their template environment to reach the model
 * locally. Credentials for the simulated model are dummies it accepts; real credentials stay out of
 * the functions' environment (the Anthropic key is read from the local Secrets Manager, as deployed;
 * real AWS credentials are found by the default chain).
 */
function localModelEnvironment(
  mode: ModelMode,
  config: OrchestratorConfig,
  simulatedModel: SimulatedModel | undefined,
): Record<string, string> {
  const expected = mode.kind === 'simulated' ? config.provider : mode.kind;
  if (expected !== config.provider) {
    throw new Error(
      `The model mode "${mode.kind}" needs provider "${mode.kind}", but the configuration says "${config.provider}"`,
    );
  }
  switch (mode.kind) {
    case 'anthropic':
      return mode.baseUrl ? { ANTHROPIC_BASE_URL: mode.baseUrl } : {};
    case 'bedrock':
      return {
        ...(mode.region ? { AWS_REGION: mode.region } : {}),
        ...(mode.baseUrl ? { ANTHROPIC_BEDROCK_BASE_URL: mode.baseUrl } : {}),
      };
    case 'simulated':
      return config.provider === 'bedrock'
        ? {
            ANTHROPIC_BEDROCK_BASE_URL: simulatedModel?.url ?? '',
            AWS_ACCESS_KEY_ID: simulatedModelModule().LOCAL_BEDROCK_CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: simulatedModelModule().LOCAL_BEDROCK_CREDENTIALS.secretAccessKey,
          }
        : { ANTHROPIC_BASE_URL: simulatedModel?.url ?? '' };
  }
}

/** The definition with every Retry rule's waits multiplied by `scale` (Map item processors and branches included). */
export function scaleRetryTimes(definition: Record<string, unknown>, scale: number): Record<string, unknown> {
  const visit = (value: unknown, key?: string): unknown => {
    if (Array.isArray(value)) return value.map((item) => visit(item, key));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>).map(([name, item]) => {
      if (key === 'Retry' && (name === 'IntervalSeconds' || name === 'MaxDelaySeconds'))
        return [name, (item as number) * scale];
      return [name, visit(item, name)];
    });
    return Object.fromEntries(entries);
  };
  return visit(definition) as Record<string, unknown>;
}

/** Names of every Task state (Map item processors included) that uses the lambda:invoke integration. */
export function lambdaTaskStates(definition: Record<string, unknown>): string[] {
  return taskStatesWithResource(definition, 'arn:aws:states:::lambda:invoke');
}

const LAMBDA_INVOKE_WAIT_FOR_TASK_TOKEN = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

/** The definition with the TimeoutSeconds of the named Task states replaced (a copy). */
export function withTaskTimeouts(
  definition: Record<string, unknown>,
  timeouts: Record<string, number>,
): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(definition)) as Record<string, unknown>;
  for (const [name, seconds] of Object.entries(timeouts)) {
    if (!hasState(copy, name)) continue;
    const state = stateNamed(copy, name);
    state.TimeoutSeconds = seconds;
    if (typeof state.HeartbeatSeconds === 'number' && state.HeartbeatSeconds >= seconds)
      delete state.HeartbeatSeconds;
  }
  return copy;
}

const hasState = (definition: Record<string, unknown>, name: string): boolean => {
  try {
    stateNamed(definition, name);
    return true;
  } catch {
    return false;
  }
};

/** The state of that name (Map item processors and branches included). */
export function stateNamed(definition: Record<string, unknown>, stateName: string): Record<string, unknown> {
  let found: Record<string, unknown> | undefined;
  const visit = (machine: unknown) => {
    const states = (machine as { States?: Record<string, Record<string, unknown>> }).States ?? {};
    for (const [name, state] of Object.entries(states)) {
      if (name === stateName) found = state;
      if (state.ItemProcessor) visit(state.ItemProcessor);
      if (state.Iterator) visit(state.Iterator);
      for (const branch of (state.Branches as unknown[] | undefined) ?? []) visit(branch);
    }
  };
  visit(definition);
  if (!found) throw new Error(`No state ${stateName} in the definition`);
  return found;
}

/** Names of every Task state (Map item processors and branches included) whose Resource is `resource`. */
export function taskStatesWithResource(definition: Record<string, unknown>, resource: string): string[] {
  const names: string[] = [];
  const visit = (machine: unknown) => {
    const states = (machine as { States?: Record<string, Record<string, unknown>> }).States ?? {};
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task' && String(state.Resource).replace(/^arn:aws[\w-]*:/, 'arn:aws:') === resource)
        names.push(name);
      if (state.ItemProcessor) visit(state.ItemProcessor);
      if (state.Iterator) visit(state.Iterator);
      for (const branch of (state.Branches as unknown[] | undefined) ?? []) visit(branch);
    }
  };
  visit(definition);
  return names;
}

/** How long a QUEUED job without an execution is given before it counts as interrupted. */
const QUEUED_GRACE_MS = 60_000;

/**
 * Awaits every promise; when one rejects, closes whatever the others opened and rethrows, so a
 * failed start leaves no server listening.
 */
async function settleAll<T extends readonly Promise<unknown>[]>(
  promises: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) {
    for (const result of results) {
      const value =
        result.status === 'fulfilled' ? (result.value as { close?: () => Promise<void> }) : undefined;
      if (value && typeof value.close === 'function') await value.close().catch(() => undefined);
    }
    throw failed.reason;
  }
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}
