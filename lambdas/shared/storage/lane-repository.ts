import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { UsageSchema } from '../domain/schemas';
import { batchRunKey } from './table-layout';

/** The batch lane's phases, in order: every item's plan, then its workers wave by wave, then its synthesis. */
export const LANE_PHASES = ['plans', 'workers', 'syntheses'] as const;
export type LanePhase = (typeof LANE_PHASES)[number];
export const LanePhaseSchema = z.enum(LANE_PHASES);

/**
 * The lane's current Message Batch. `submittingAt` is written before the batch is created and
 * `batchId` right after, so a retried submit finds (or adopts) the batch instead of creating another.
 */
export const LaneRoundSchema = z.object({
  phase: LanePhaseSchema,
  round: z.number().int().positive(),
  submittingAt: z.string(),
  requestCount: z.number().int().positive(),
  batchId: z.string().optional(),
  /** The batch's results have been applied; the next submit starts a new round. */
  collected: z.boolean(),
});
export type LaneRound = z.infer<typeof LaneRoundSchema>;

/** A plan answer kept for the next round's repair (the plan conversation is replayed from them). */
export const StoredAnswerSchema = z.object({
  text: z.string(),
  usage: UsageSchema,
  stopReason: z.string().nullable(),
  model: z.string(),
});
export type StoredAnswer = z.infer<typeof StoredAnswerSchema>;

/** One item's lane state: its plan answers so far, and how many rounds each request faulted in. */
export const LaneItemSchema = z.object({
  planAnswers: z.array(StoredAnswerSchema.nullable()).default([]),
  /** Per request key (`plan`, `w3`, `synthesis`): fault rounds, and the last round counted. */
  faults: z
    .record(z.string(), z.object({ count: z.number().int(), lastRound: z.number().int() }))
    .default({}),
});
export type LaneItem = z.infer<typeof LaneItemSchema>;

const laneKey = (runId: string) => ({ pk: batchRunKey(runId).pk, sk: 'LANE' });
const laneItemKey = (runId: string, index: number) => ({
  pk: batchRunKey(runId).pk,
  sk: `LANE#${String(index).padStart(5, '0')}`,
});

/** The batch lane's bookkeeping, in the run's partition (beside `RUN` and its `ITEM#` records). */
export class LaneRepository {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly ttlDays: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private expiresAt(): number {
    return Math.floor(this.now().getTime() / 1000) + this.ttlDays * 86_400;
  }

  async getRound(runId: string): Promise<LaneRound | undefined> {
    const result = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: laneKey(runId), ConsistentRead: true }),
    );
    return result.Item ? LaneRoundSchema.parse(result.Item) : undefined;
  }

  /** Records the intent to submit a round, before the batch is created. */
  async beginRound(runId: string, round: Omit<LaneRound, 'batchId' | 'collected'>): Promise<void> {
    await this.documents.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...laneKey(runId), ...round, collected: false, expiresAt: this.expiresAt() },
      }),
    );
  }

  async recordBatchId(runId: string, round: number, batchId: string): Promise<void> {
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: laneKey(runId),
        UpdateExpression: 'SET batchId = :id',
        ConditionExpression: '#round = :round',
        ExpressionAttributeNames: { '#round': 'round' },
        ExpressionAttributeValues: { ':id': batchId, ':round': round },
      }),
    );
  }

  async markCollected(runId: string, round: number): Promise<void> {
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: laneKey(runId),
        UpdateExpression: 'SET collected = :true',
        ConditionExpression: '#round = :round',
        ExpressionAttributeNames: { '#round': 'round' },
        ExpressionAttributeValues: { ':true': true, ':round': round },
      }),
    );
  }

  async getItem(runId: string, index: number): Promise<LaneItem> {
    const result = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: laneItemKey(runId, index), ConsistentRead: true }),
    );
    return LaneItemSchema.parse(result.Item ?? {});
  }

  async putItem(runId: string, index: number, item: LaneItem): Promise<void> {
    await this.documents.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...laneItemKey(runId, index), ...item, expiresAt: this.expiresAt() },
      }),
    );
  }
}
