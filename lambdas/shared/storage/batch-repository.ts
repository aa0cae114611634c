import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import {
  ModelCallsSchema,
  type ModelCalls,
  type BatchItemStatus,
  BatchItemStatusSchema,
  BatchRunStatusSchema,
  type BatchRunStatus,
} from '../domain/batch-schemas';
import { isConditionFailure, queryPartition } from './dynamo';
import type { ErrorSummary } from '../domain/errors';
import type { ListCursor } from './job-repository';
import { batchItemKey, batchRunKey, ENTITY, JOB_INDEXES } from './table-layout';
import { ErrorSummarySchema, type JobRequest, JobRequestSchema } from '../domain/schemas';
import { type Budget, BudgetSchema } from '../domain/budget';

export const BatchCountsSchema = z.record(z.string(), z.number().int().nonnegative());
export type BatchCounts = z.infer<typeof BatchCountsSchema>;

/** An item's or a run's model usage: tokens, the cost at the rate paid, and the on-demand cost of the same tokens. */
export const RunUsageSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  cacheReadTokens: z.number().int().nonnegative(),
  cacheWriteTokens: z.number().int().nonnegative(),
  costUsd: z.number().nonnegative(),
  onDemandCostUsd: z.number().nonnegative(),
});
export type RunUsage = z.infer<typeof RunUsageSchema>;

export const BatchRunRecordSchema = z.object({
  runId: z.string(),
  /** Absent on runs recorded before the batch lane existed: those ran on demand. */
  modelCalls: ModelCallsSchema.optional(),
  /** The batch lane's deadline (ISO time), set by StartBatchRun. */
  deadlineAt: z.string().optional(),
  batchName: z.string(),
  status: BatchRunStatusSchema,
  trigger: z.string(),
  itemCount: z.number().int(),
  counts: BatchCountsSchema.optional(),
  error: ErrorSummarySchema.optional(),
  executionArn: z.string().optional(),
  /** The run's ceilings (on demand only), and its ledger: what its jobs spent plus what they hold. */
  budget: BudgetSchema.optional(),
  budgetCommittedMicroUsd: z.number().int().optional(),
  budgetCommittedOutputTokens: z.number().int().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type BatchRunRecord = z.infer<typeof BatchRunRecordSchema>;

export const BatchItemRecordSchema = z.object({
  index: z.number().int().nonnegative(),
  jobId: z.string(),
  task: z.string(),
  status: BatchItemStatusSchema,
  error: ErrorSummarySchema.optional(),
  /** The item's job's usage, recorded with its outcome. */
  usage: RunUsageSchema.optional(),
  updatedAt: z.string(),
});
export type BatchItemRecord = z.infer<typeof BatchItemRecordSchema>;

const StoredRequestSchema = z.object({ index: z.number().int(), request: z.unknown().optional() });

export interface BatchRunWithItems {
  run: BatchRunRecord;
  items: BatchItemRecord[];
}

const WRITE_CONCURRENCY = 10;

/** Reads and writes of batch runs and their items. Every write is safe to repeat (Step Functions retries). */
export class BatchRepository {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly ttlDays: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private timestamps() {
    const now = this.now();
    return { iso: now.toISOString(), expiresAt: Math.floor(now.getTime() / 1000) + this.ttlDays * 86_400 };
  }

  /** Records a RUNNING run and one PENDING item per job; a repeated call leaves what exists alone. */
  async createRun(run: {
    runId: string;
    batchName: string;
    trigger: string;
    executionArn?: string;
    /** With `request`, the item keeps the whole job request, for StartBatchRun to read back. */
    items: { index: number; jobId: string; task: string; request?: JobRequest }[];
  }): Promise<void> {
    const { iso, expiresAt } = this.timestamps();
    const putIfAbsent = async (Item: Record<string, unknown>) => {
      try {
        await this.documents.send(
          new PutCommand({
            TableName: this.tableName,
            Item,
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    };
    await putIfAbsent({
      ...batchRunKey(run.runId),
      entity: ENTITY.batchRun,
      runId: run.runId,
      batchName: run.batchName,
      status: 'RUNNING',
      trigger: run.trigger,
      itemCount: run.items.length,
      ...(run.executionArn ? { executionArn: run.executionArn } : {}),
      createdAt: iso,
      updatedAt: iso,
      expiresAt,
    });
    for (let start = 0; start < run.items.length; start += WRITE_CONCURRENCY) {
      await Promise.all(
        run.items.slice(start, start + WRITE_CONCURRENCY).map((item) =>
          putIfAbsent({
            ...batchItemKey(run.runId, item.index),
            ...item,
            status: 'PENDING',
            updatedAt: iso,
            expiresAt,
          }),
        ),
      );
    }
  }

  /**
   * Records how the run's model calls are made and, for the batch lane, its deadline. The first
   * recording stays (a retried StartBatchRun keeps the deadline it set).
   */
  /** How the run's model calls are made, the lane's deadline and the run's budget; a repeat changes nothing. */
  async recordModelCalls(
    runId: string,
    modelCalls: ModelCalls,
    deadlineAt?: string,
    budget?: Budget,
  ): Promise<void> {
    const set = ['modelCalls = if_not_exists(modelCalls, :calls)'];
    if (deadlineAt) set.push('deadlineAt = if_not_exists(deadlineAt, :deadline)');
    if (budget) set.push('budget = if_not_exists(budget, :budget)');
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: batchRunKey(runId),
        UpdateExpression: `SET ${set.join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: {
          ':calls': modelCalls,
          ...(deadlineAt ? { ':deadline': deadlineAt } : {}),
          ...(budget ? { ':budget': budget } : {}),
        },
      }),
    );
  }

  async recordItemOutcome(
    runId: string,
    index: number,
    outcome: { status: BatchItemStatus; error?: ErrorSummary; usage?: RunUsage },
  ): Promise<void> {
    const set = ['#status = :status', 'updatedAt = :now'];
    if (outcome.error) set.push('#error = :error');
    if (outcome.usage) set.push('#usage = :usage');
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: batchItemKey(runId, index),
        UpdateExpression: `SET ${set.join(', ')}${outcome.error ? '' : ' REMOVE #error'}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: {
          '#status': 'status',
          '#error': 'error',
          ...(outcome.usage ? { '#usage': 'usage' } : {}),
        },
        ExpressionAttributeValues: {
          ':status': outcome.status,
          ':now': this.timestamps().iso,
          ...(outcome.error ? { ':error': outcome.error } : {}),
          ...(outcome.usage ? { ':usage': outcome.usage } : {}),
        },
      }),
    );
  }

  /** Ends the run with its counts; a run already ended keeps its first ending. */
  async finishRun(
    runId: string,
    ending: { status: Exclude<BatchRunStatus, 'RUNNING'>; counts: BatchCounts; error?: ErrorSummary },
  ): Promise<boolean> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: batchRunKey(runId),
          UpdateExpression: `SET #status = :status, counts = :counts, updatedAt = :now${ending.error ? ', #error = :error' : ''}`,
          ConditionExpression: 'attribute_exists(pk) AND #status = :running',
          ExpressionAttributeNames: { '#status': 'status', ...(ending.error ? { '#error': 'error' } : {}) },
          ExpressionAttributeValues: {
            ':status': ending.status,
            ':counts': ending.counts,
            ':running': 'RUNNING',
            ':now': this.timestamps().iso,
            ...(ending.error ? { ':error': ending.error } : {}),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * The job requests recorded with a run's items (by whoever created the run: the API, the CLI), in
   * item order; undefined when there is no such run or its items carry no requests.
   */
  async getRunRequests(runId: string): Promise<JobRequest[] | undefined> {
    const records = await queryPartition(this.documents, this.tableName, batchRunKey(runId).pk);
    const items = records
      .filter((record) => typeof record.sk === 'string' && record.sk.startsWith('ITEM#'))
      .map((record) => StoredRequestSchema.parse(record))
      .sort((a, b) => a.index - b.index);
    if (items.length === 0 || items.some((item) => item.request === undefined)) return undefined;
    return items.map((item) => JobRequestSchema.parse(item.request));
  }

  async getRun(runId: string): Promise<BatchRunRecord | undefined> {
    const result = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: batchRunKey(runId), ConsistentRead: true }),
    );
    return result.Item ? BatchRunRecordSchema.parse(result.Item) : undefined;
  }

  async getRunWithItems(runId: string): Promise<BatchRunWithItems | undefined> {
    const records = await queryPartition(this.documents, this.tableName, batchRunKey(runId).pk);
    const runItem = records.find((record) => record.sk === 'RUN');
    if (!runItem) return undefined;
    const items = records
      .filter((record) => typeof record.sk === 'string' && record.sk.startsWith('ITEM#'))
      .map((record) => BatchItemRecordSchema.parse(record))
      .sort((a, b) => a.index - b.index);
    return { run: BatchRunRecordSchema.parse(runItem), items };
  }

  /** Runs newest first, from the by-creation-time index (which projects keys only for runs). */
  async listRuns(options: { limit: number; cursor?: ListCursor }): Promise<{
    items: BatchRunRecord[];
    cursor?: ListCursor;
  }> {
    const page = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: JOB_INDEXES.byCreatedAt,
        KeyConditionExpression: 'entity = :entity',
        ExpressionAttributeValues: { ':entity': ENTITY.batchRun },
        ScanIndexForward: false,
        Limit: options.limit,
        ExclusiveStartKey: options.cursor,
      }),
    );
    const runs = await Promise.all(
      (page.Items ?? []).map((item) => this.getRun(String(item.pk).slice('BATCH#'.length))),
    );
    return {
      items: runs.filter((run): run is BatchRunRecord => run !== undefined),
      ...(page.LastEvaluatedKey ? { cursor: page.LastEvaluatedKey as ListCursor } : {}),
    };
  }
}
