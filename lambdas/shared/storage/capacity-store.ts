import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import {
  type BucketName,
  type CapacityState,
  emptyCapacityState,
  type LeaseRelease,
} from '../model/capacity';
import { isConditionFailure } from './dynamo';
import { capacityKey } from './table-layout';

const BucketSchema = z.object({ level: z.number(), at: z.number() });
const CapacityItemSchema = z.object({
  version: z.number().int(),
  leases: z.record(z.string(), z.object({ startedAt: z.number(), expiresAt: z.number() })),
  buckets: z.object({
    requests: BucketSchema.optional(),
    inputTokens: BucketSchema.optional(),
    outputTokens: BucketSchema.optional(),
  }),
  pausedUntil: z.number(),
  meanCallMs: z.number(),
});

/** A change to one limit's state: the new state to write (none: leave it), and what to return. */
export type CapacityChange<T> = (state: CapacityState) => { state?: CapacityState; result: T };

/** Gave up after concurrent writers kept winning; the caller treats it as no capacity now. */
export class CapacityContention extends Error {
  override readonly name = 'CapacityContention';
}

const MAX_WRITE_ATTEMPTS = 8;

/**
 * The governor's shared state, one item per limit key, changed by optimistic concurrency: read
 * (strongly consistent), compute, write on condition that nobody wrote in between (`version`), and
 * on a lost race read again after a short random pause. A change that writes nothing costs one read.
 */
export class CapacityStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly pause: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  /** `attempts`: how many lost races to take before giving up (a release tries harder than an admission). */
  async change<T>(limitKey: string, change: CapacityChange<T>, attempts = MAX_WRITE_ATTEMPTS): Promise<T> {
    for (let attempt = 0; attempt < attempts; attempt++) {
      const read = await this.documents.send(
        new GetCommand({ TableName: this.tableName, Key: capacityKey(limitKey), ConsistentRead: true }),
      );
      const stored = read.Item ? CapacityItemSchema.parse(read.Item) : undefined;
      const { version, ...current } = stored ?? { version: 0, ...emptyCapacityState() };
      const { state, result } = change(current);
      if (!state) return result;
      try {
        await this.documents.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...capacityKey(limitKey), ...state, version: version + 1 },
            ConditionExpression: stored ? 'version = :version' : 'attribute_not_exists(pk)',
            ...(stored ? { ExpressionAttributeValues: { ':version': version } } : {}),
          }),
        );
        return result;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        await this.pause(Math.random() * 5 * 2 ** Math.min(attempt, 5));
      }
    }
    throw new CapacityContention(
      `The capacity of ${limitKey} kept changing under ${MAX_WRITE_ATTEMPTS} writes`,
    );
  }
  /**
   * Applies a `LeaseRelease` in one write with no read and no version check (it bumps the version,
   * so an admission computed before it is redone): a release never loses a race. Fails (a
   * ValidationException) when a refunded bucket is not stored yet; the caller then uses `change`.
   */
  async release(limitKey: string, release: LeaseRelease): Promise<void> {
    const names: Record<string, string> = { '#lease': release.leaseId };
    const values: Record<string, unknown> = { ':one': 1 };
    const sets = ['version = version + :one'];
    if (release.meanCallMs !== undefined) {
      sets.push('meanCallMs = :mean');
      values[':mean'] = release.meanCallMs;
    }
    (Object.entries(release.refunds) as [BucketName, number][]).forEach(([bucket, refund], index) => {
      names[`#b${index}`] = bucket;
      values[`:r${index}`] = refund;
      sets.push(`buckets.#b${index}.#level = buckets.#b${index}.#level + :r${index}`);
      names['#level'] = 'level';
    });
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: capacityKey(limitKey),
        UpdateExpression: `REMOVE leases.#lease SET ${sets.join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }
}
