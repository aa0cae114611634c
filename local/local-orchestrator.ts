import './polyfills';
import * as path from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import { parseConfig, type OrchestratorConfig, type OrchestratorConfigInput } from '../lib/config';
import { createDocumentClient, JobRepository } from '../lambdas/shared/job-repository';
import { newJobId } from '../lambdas/shared/job-id';
import { type JobView, toJobView } from '../lambdas/shared/job-view';
import { type JobRequest, JobRequestSchema } from '../lambdas/shared/schemas';
import { ensureTable, type LocalDynamoDB, startLocalDynamoDB } from './local-dynamodb';
import { lambdaInvokeIntegration, LocalLambdaFunction } from './local-lambda';
import { localArn, type SynthesizedStack, synthesizeLocalStack } from './template';
import { type SimulatedModel, type SimulatedModelOptions, startSimulatedModel } from './simulated-model';

/** The local state machine's name (deployed, CloudFormation generates one from the construct path). */
export const LOCAL_STATE_MACHINE_NAME = 'orchestrator';

type StateMachineDefinition = ConstructorParameters<typeof StateMachine>[0];
type RunOptions = NonNullable<Parameters<StateMachine['run']>[1]>;
export type ExecutionEvent =
  ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** Where the model calls go: the real Anthropic API (key set) or the simulated model (test double). */
export type ModelMode =
  | { kind: 'anthropic'; apiKey: string; baseUrl?: string }
  | { kind: 'simulated'; options?: SimulatedModelOptions };

export interface LocalOrchestratorOptions {
  config?: OrchestratorConfigInput;
  model: ModelMode;
  /** Folder for DynamoDB's files; in memory when unset. */
  dataDir?: string;
  dynamoPort?: number;
  /** Milliseconds to wait before each retry, per state name (tests use this instead of real backoff). */
  retryIntervalOverrides?: Record<string, number | number[]>;
  /**
   * Function timeouts in seconds by handler folder (`plan`, `worker`, …), instead of the template's.
   * Tests use it to reach a deadline quickly.
   */
  functionTimeoutSeconds?: Partial<Record<string, number>>;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

export interface LocalExecution {
  jobId: string;
  executionArn: string;
  events: AsyncIterable<ExecutionEvent>;
  /** Settles when the execution ends, never rejects. */
  finished: Promise<{ status: ExecutionStatus; error?: string; cause?: string }>;
  abort(): void;
}

/**
 * The whole system on one machine: the state machine definition CDK synthesizes, run by
 * aws-local-stepfunctions with each Lambda task bound to its handler module; dynalite for DynamoDB;
 * the Anthropic API or the simulated model.
 */
export class LocalOrchestrator {
  readonly repository: JobRepository;
  readonly stateMachineArn: string;

  private constructor(
    readonly config: OrchestratorConfig,
    readonly stack: SynthesizedStack,
    readonly dynamodb: LocalDynamoDB,
    readonly simulatedModel: SimulatedModel | undefined,
    readonly functions: Map<string, LocalLambdaFunction>,
    private readonly retryIntervalOverrides: Record<string, number | number[]> | undefined,
  ) {
    const tableName = stack.tables[0]?.TableName;
    if (!tableName) throw new Error('The synthesized stack has no DynamoDB table');
    this.repository = new JobRepository(
      createDocumentClient({ region: 'us-east-1', endpoint: dynamodb.endpoint }),
      tableName,
      config.jobTtlDays,
    );
    this.stateMachineArn = localArn('states', `stateMachine:${LOCAL_STATE_MACHINE_NAME}`);
  }

  static async start(options: LocalOrchestratorOptions): Promise<LocalOrchestrator> {
    const config = parseConfig(options.config ?? {});
    const stack = synthesizeLocalStack(config);
    const dynamodb = await startLocalDynamoDB({ dataDir: options.dataDir, port: options.dynamoPort });
    let simulatedModel: SimulatedModel | undefined;
    try {
      for (const table of stack.tables) await ensureTable(dynamodb.client, table);
      if (options.model.kind === 'simulated')
        simulatedModel = await startSimulatedModel(options.model.options);
      const modelEnvironment =
        options.model.kind === 'simulated' && simulatedModel
          ? { ANTHROPIC_API_KEY: 'simulated-model-local-key', ANTHROPIC_BASE_URL: simulatedModel.url }
          : options.model.kind === 'anthropic'
            ? {
                ANTHROPIC_API_KEY: options.model.apiKey,
                ...(options.model.baseUrl ? { ANTHROPIC_BASE_URL: options.model.baseUrl } : {}),
              }
            : {};
      const functions = new Map(
        stack.functions.map((synthesized) => {
          const folder = path.basename(path.dirname(synthesized.entry));
          const timeoutOverride = options.functionTimeoutSeconds?.[folder];
          const spec = timeoutOverride ? { ...synthesized, timeoutSeconds: timeoutOverride } : synthesized;
          // Local-only settings on top of the function's environment from the template.
          const environment = {
            ...spec.environment,
            AWS_REGION: 'us-east-1',
            DYNAMODB_ENDPOINT: dynamodb.endpoint,
            ...(spec.environment.ANTHROPIC_API_KEY_SECRET_ARN ? modelEnvironment : {}),
          };
          return [spec.arn, new LocalLambdaFunction(spec, environment)] as const;
        }),
      );
      return new LocalOrchestrator(
        config,
        stack,
        dynamodb,
        simulatedModel,
        functions,
        options.retryIntervalOverrides,
      );
    } catch (error) {
      await simulatedModel?.close();
      await dynamodb.close();
      throw error;
    }
  }

  /** Validates the request, records the job as QUEUED and starts its execution (execution name = job id). */
  async startJob(request: unknown, options: { jobId?: string } = {}): Promise<LocalExecution> {
    const parsed: JobRequest = JobRequestSchema.parse(request);
    const jobId = options.jobId ?? newJobId(parsed.task);
    const executionArn = localArn('states', `execution:${LOCAL_STATE_MACHINE_NAME}:${jobId}`);
    const created = await this.repository.createJob({ jobId, status: 'QUEUED', ...parsed, executionArn });
    if (!created) throw new Error(`A job with id ${jobId} already exists`);
    return this.startExecution(jobId, executionArn, { jobId });
  }

  /** Runs the synthesized definition for one execution input. */
  startExecution(jobId: string, executionArn: string, input: Record<string, unknown>): LocalExecution {
    const stateMachine = new StateMachine(this.stack.definition as unknown as StateMachineDefinition, {
      validationOptions: { checkArn: false },
    });
    const invoke = lambdaInvokeIntegration(this.functions);
    // The engine types results as JSON values; the integration returns parsed JSON, so this only widens.
    type LocalHandler = NonNullable<
      NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']
    >[string];
    const integration = invoke as unknown as LocalHandler;
    const runOptions: RunOptions = {
      overrides: {
        taskResourceLocalHandlers: Object.fromEntries(
          lambdaTaskStates(this.stack.definition).map((name) => [name, integration]),
        ),
        ...(this.retryIntervalOverrides ? { retryIntervalOverrides: this.retryIntervalOverrides } : {}),
      },
      context: {
        Execution: { Id: executionArn, Name: jobId },
        StateMachine: { Id: this.stateMachineArn, Name: LOCAL_STATE_MACHINE_NAME },
      },
    };
    const execution = stateMachine.run(input as never, runOptions);
    const finished = execution.result.then(
      () => ({ status: 'SUCCEEDED' as const }),
      (error: unknown) => describeExecutionFailure(error),
    );
    return { jobId, executionArn, events: execution.eventLogs, finished, abort: execution.abort };
  }

  async getJobView(jobId: string): Promise<JobView | undefined> {
    const stored = await this.repository.getJobWithSubtasks(jobId);
    return stored ? toJobView(stored) : undefined;
  }

  async close(): Promise<void> {
    await this.simulatedModel?.close();
    await this.dynamodb.close();
  }
}

/** Names of every Task state (Map item processors included) that uses the lambda:invoke integration. */
export function lambdaTaskStates(definition: Record<string, unknown>): string[] {
  const names: string[] = [];
  const visit = (machine: unknown) => {
    const states = (machine as { States?: Record<string, Record<string, unknown>> }).States ?? {};
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task' && String(state.Resource).endsWith(':states:::lambda:invoke'))
        names.push(name);
      if (state.ItemProcessor) visit(state.ItemProcessor);
      if (state.Iterator) visit(state.Iterator);
      for (const branch of (state.Branches as unknown[] | undefined) ?? []) visit(branch);
    }
  };
  visit(definition);
  return names;
}

function describeExecutionFailure(error: unknown): {
  status: ExecutionStatus;
  error?: string;
  cause?: string;
} {
  if (!(error instanceof Error)) return { status: 'FAILED', error: 'Error', cause: String(error) };
  if (error.name === 'ExecutionAbortedError') return { status: 'ABORTED' };
  if (error.name === 'ExecutionTimeoutError') return { status: 'TIMED_OUT' };
  const cause = error.cause instanceof Error ? error.cause : undefined;
  return { status: 'FAILED', error: cause?.name ?? error.name, cause: cause?.message ?? error.message };
}
