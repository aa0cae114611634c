import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { type BatchDefinition, maxBatchItems, BATCH_LIMITS } from '../lambdas/shared/domain/batch-schemas';
import { DEFAULT_BATCHES_DIR } from './batch-definitions';
import { modelsByRole, type OrchestratorConfig } from './config';
import { BatchItemsBucket } from './constructs/batch-items-bucket';
import { BatchSchedules } from './constructs/batch-schedules';
import { BatchWorkflow } from './constructs/batch-workflow';
import { ExecutionEndRecorder } from './constructs/execution-end-recorder';
import { CapacityTable } from './constructs/capacity-table';
import { JobsApi } from './constructs/jobs-api';
import { JobsTable } from './constructs/jobs-table';
import { LogEncryption } from './constructs/log-encryption';
import { OperationsDashboard } from './constructs/operations-dashboard';
import { OrchestratorWorkflow } from './constructs/orchestrator-workflow';

export interface OrchestratorStackProps extends StackProps {
  readonly config: OrchestratorConfig;
  /**
   * Batch definitions, each given a schedule.
   * @default [] (the batch state machine still exists, for runs started through the API)
   */
  readonly batches?: readonly BatchDefinition[];
  /**
   * The folder the definitions came from, bundled with the api function (runs by name).
   * @default `batches/` in the repository
   */
  readonly batchesDir?: string;
}

/** Assembles the constructs; holds no logic of its own. */
export class OrchestratorStack extends Stack {
  public readonly jobs: JobsTable;
  /** The model-call governor's table; none without `modelLimits`. */
  public readonly capacity: CapacityTable | undefined;
  public readonly workflow: OrchestratorWorkflow;
  /** The Anthropic API key's secret; none with provider `bedrock`. */
  public readonly apiKeySecret: secretsmanager.ISecret | undefined;
  public readonly jobsApi: JobsApi;
  public readonly batchWorkflow: BatchWorkflow;
  /** The item lists of the Distributed Map; none with `batchMap` `inline`. */
  public readonly batchItems: BatchItemsBucket | undefined;
  public readonly batchSchedules: BatchSchedules;
  public readonly executionEnds: ExecutionEndRecorder;
  public readonly operations: OperationsDashboard;

  constructor(scope: Construct, id: string, props: OrchestratorStackProps) {
    super(scope, id, props);
    const { config } = props;
    checkBatchSizes(props.batches ?? [], config.batchMap);

    new LogEncryption(this, 'LogEncryption');
    this.jobs = new JobsTable(this, 'Jobs');
    this.apiKeySecret = this.anthropicApiKeySecret(config);
    this.capacity =
      Object.keys(config.modelLimits).length > 0 ? new CapacityTable(this, 'ModelCapacity') : undefined;
    this.workflow = new OrchestratorWorkflow(this, 'Workflow', {
      table: this.jobs.table,
      ...(this.capacity ? { capacityTable: this.capacity.table } : {}),
      ...(this.apiKeySecret ? { apiKeySecret: this.apiKeySecret } : {}),
      provider: config.provider,
      models: config.models,
      grantedModels: modelsByRole(config),
      maxTokens: config.maxTokens,
      maxConcurrency: config.maxConcurrency,
      maxSubtasks: config.maxSubtasks,
      planRepairAttempts: config.planRepairAttempts,
      jobTtlDays: config.jobTtlDays,
      logRetention: config.logRetentionDays,
      ...(config.apiKeySecretKmsKeyArn ? { apiKeySecretKeyArn: config.apiKeySecretKmsKeyArn } : {}),
      ...(config.bedrockMarketplaceProductIds
        ? { marketplaceProductIds: config.bedrockMarketplaceProductIds }
        : {}),
      modelLimits: config.modelLimits,
      defaultApproval: config.defaults.approval,
      ...(config.defaults.budget ? { defaultBudget: config.defaults.budget } : {}),
      approvalTimeoutHours: config.approvalTimeoutHours,
    });

    this.batchItems =
      config.batchMap === 'distributed'
        ? new BatchItemsBucket(this, 'BatchItems', {
            expirationDays: config.jobTtlDays,
            logRetention: config.logRetentionDays,
          })
        : undefined;
    this.batchWorkflow = new BatchWorkflow(this, 'Batches', {
      table: this.jobs.table,
      orchestrator: this.workflow.stateMachine,
      jobTtlDays: config.jobTtlDays,
      ...(this.batchItems ? { itemsBucket: this.batchItems.bucket } : {}),
      logRetention: config.logRetentionDays,
      batchesDir: props.batchesDir ?? DEFAULT_BATCHES_DIR,
      ...(this.apiKeySecret
        ? {
            lane: {
              apiKeySecret: this.apiKeySecret,
              ...(config.apiKeySecretKmsKeyArn ? { apiKeySecretKeyArn: config.apiKeySecretKmsKeyArn } : {}),
              models: config.models,
              maxTokens: config.maxTokens,
              maxSubtasks: config.maxSubtasks,
              planRepairAttempts: config.planRepairAttempts,
              pollSeconds: config.batchPollSeconds,
            },
          }
        : {}),
    });
    this.batchSchedules = new BatchSchedules(this, 'BatchSchedules', {
      batchStateMachine: this.batchWorkflow.stateMachine,
      definitions: props.batches ?? [],
    });

    this.executionEnds = new ExecutionEndRecorder(this, 'ExecutionEnds', {
      table: this.jobs.table,
      orchestrator: this.workflow.stateMachine,
      batch: this.batchWorkflow.stateMachine,
      jobTtlDays: config.jobTtlDays,
      logRetention: config.logRetentionDays,
    });

    this.jobsApi = new JobsApi(this, 'JobsApi', {
      table: this.jobs.table,
      stateMachine: this.workflow.stateMachine,
      batchStateMachine: this.batchWorkflow.stateMachine,
      batchesDir: props.batchesDir ?? DEFAULT_BATCHES_DIR,
      ...config.api,
      batchMaxItems: maxBatchItems(config.batchMap),
      batchLane: config.provider === 'anthropic',
      jobTtlDays: config.jobTtlDays,
      jobRoles: {
        worker: { model: config.models.worker, maxTokens: config.maxTokens.worker },
        synthesis: { model: config.models.synthesis, maxTokens: config.maxTokens.synthesis },
      },
      logRetention: config.logRetentionDays,
    });

    this.operations = new OperationsDashboard(this, 'Operations', {
      stateMachine: this.workflow.stateMachine,
      functions: {
        Plan: this.workflow.planFunction,
        Worker: this.workflow.workerFunction,
        Synthesize: this.workflow.synthesizeFunction,
        RecordSubtaskFailure: this.workflow.recordSubtaskFailureFunction,
        MarkFailed: this.workflow.markFailedFunction,
        CheckBudget: this.workflow.checkBudgetFunction,
        RequestApproval: this.workflow.requestApprovalFunction,
        Api: this.jobsApi.apiFunction,
        StartBatchRun: this.batchWorkflow.startBatchRunFunction,
        RecordBatchItem: this.batchWorkflow.recordBatchItemFunction,
        FinishBatchRun: this.batchWorkflow.finishBatchRunFunction,
        ...(this.batchWorkflow.lane ? { BatchLane: this.batchWorkflow.lane.function } : {}),
        RecordExecutionEnd: this.executionEnds.function,
      },
      modelFunctions: { Plan: 'orchestrator', Worker: 'worker', Synthesize: 'synthesis' },
      modelsByRole: modelsByRole(config),
      serviceName: this.stackName,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.jobsApi.api.url });
    new CfnOutput(this, 'ApiKeyId', {
      value: this.jobsApi.apiKey.keyId,
      description:
        'aws apigateway get-api-key --include-value --api-key <ApiKeyId> --query value --output text',
    });
    new CfnOutput(this, 'StateMachineArn', { value: this.workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'BatchStateMachineArn', { value: this.batchWorkflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'BatchDeadLetterQueueUrl', { value: this.batchSchedules.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'JobsTableName', { value: this.jobs.table.tableName });
    if (this.batchItems)
      new CfnOutput(this, 'BatchItemsBucketName', { value: this.batchItems.bucket.bucketName });
    if (this.apiKeySecret) new CfnOutput(this, 'ApiKeySecretArn', { value: this.apiKeySecret.secretArn });
    new CfnOutput(this, 'DashboardName', { value: this.operations.dashboard.dashboardName });
  }

  /** Bedrock is authorised by IAM, so only the `anthropic` provider has (or creates) a key secret. */
  private anthropicApiKeySecret(config: OrchestratorConfig): secretsmanager.ISecret | undefined {
    if (config.provider !== 'anthropic') return undefined;
    if (config.apiKeySecretArn) {
      return secretsmanager.Secret.fromSecretCompleteArn(this, 'AnthropicApiKey', config.apiKeySecretArn);
    }
    return new secretsmanager.Secret(this, 'AnthropicApiKey', {
      description: 'Anthropic API key for the orchestrator-workers functions (set the value after deploying)',
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}

/** `cdk synth` refuses a definition with more items than the deployment's batch Map runs at once. */
export function checkBatchSizes(
  definitions: readonly BatchDefinition[],
  batchMap: OrchestratorConfig['batchMap'],
): void {
  const max = maxBatchItems(batchMap);
  for (const definition of definitions) {
    if (definition.items.length <= max) continue;
    throw new Error(
      `Invalid batch definition ${definition.name}: items: has ${definition.items.length} items; batchMap "${batchMap}" runs at most ${max} per run` +
        (batchMap === 'inline'
          ? ` (set batchMap "distributed" for up to ${BATCH_LIMITS.maxItemsDistributed})`
          : ''),
    );
  }
}

/**
 * `cdk synth` refuses `"modelCalls": "batch"` with provider `bedrock`: the batch lane uses the Anthropic
 * Message Batches API; Bedrock batch inference (CreateModelInvocationJob, JSONL through S3, a service
 * role, a minimum record count per job) is a different service this stack does not implement.
 */
export function checkBatchLanes(
  definitions: readonly BatchDefinition[],
  provider: OrchestratorConfig['provider'],
): void {
  if (provider === 'anthropic') return;
  for (const definition of definitions) {
    if (definition.modelCalls !== 'batch') continue;
    throw new Error(
      `Invalid batch definition ${definition.name}: modelCalls: "batch" needs provider "anthropic" (the Message Batches API); with provider "${provider}" set "modelCalls": "on-demand" — Bedrock batch inference is not implemented (see docs/batches.md)`,
    );
  }
}
