import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';

/** How long an Idempotency-Key is remembered. */
const KEY_TTL_SECONDS = 24 * 3600;

export type IdempotencyClaim =
  { kind: 'claimed' } | { kind: 'existing'; jobId: string; sameRequest: boolean };

/** A stable hash of a request body: the same JSON with keys in any order hashes the same. */
export function requestFingerprint(body: unknown): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(canonical)
      : value && typeof value === 'object'
        ? Object.fromEntries(
            Object.keys(value)
              .sort()
              .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
          )
        : value;
  return createHash('sha256')
    .update(JSON.stringify(canonical(body)))
    .digest('hex');
}

/**
 * Remembers which job an Idempotency-Key created, with a conditional write, so a retried
 * `POST /jobs` returns the same job and a key reused for another request is refused.
 */
export class IdempotencyStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async claim(key: string, fingerprint: string, jobId: string): Promise<IdempotencyClaim> {
    const item = { pk: `IDEMPOTENCY#${key}`, sk: 'KEY' };
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...item,
            entity: 'idempotency-key',
            jobId,
            fingerprint,
            expiresAt: Math.floor(this.now().getTime() / 1000) + KEY_TTL_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { kind: 'claimed' };
    } catch (error) {
      if (
        !(error instanceof ConditionalCheckFailedException) &&
        (error as Error).name !== 'ConditionalCheckFailedException'
      ) {
        throw error;
      }
    }
    const existing = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: item, ConsistentRead: true }),
    );
    return {
      kind: 'existing',
      jobId: String(existing.Item?.jobId),
      sameRequest: existing.Item?.fingerprint === fingerprint,
    };
  }
}
