import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createTableInput } from '../../../../../local/runtime/synthesized-stack';
import { ensureTable, type LocalDynamoDB, startLocalDynamoDB } from '../../../../../local/runtime/dynamodb';
import { createDocumentClient } from '../../../../../lambdas/shared/storage/job-repository';
import { CapacityStore } from '../../../../../lambdas/shared/storage/capacity-store';
import { admit, applyRelease } from '../../../../../lambdas/shared/model/capacity';

let dynamodb: LocalDynamoDB;
let store: CapacityStore;
let documents: ReturnType<typeof createDocumentClient>;

beforeAll(async () => {
  dynamodb = await startLocalDynamoDB();
  await ensureTable(
    dynamodb.client,
    createTableInput('capacity', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    }),
  );
  documents = createDocumentClient({ region: 'us-east-1', endpoint: dynamodb.endpoint });
  store = new CapacityStore(documents, 'capacity');
});
afterAll(() => dynamodb.close());

const cost = { requests: 1, inputTokens: 10, outputTokens: 10 };

describe('the capacity store', () => {
  it('never admits more than maxInFlight calls when many race for the same limit', async () => {
    const limit = { maxInFlight: 5 };
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        store
          .change('race', (state) => {
            const decided = admit(state, limit, {
              leaseId: `l${index}`,
              now: Date.now(),
              leaseMs: 60_000,
              cost,
            });
            return decided.kind === 'admitted'
              ? { state: decided.state, result: 'admitted' }
              : { result: 'deferred' };
          })
          .catch((error: Error) => error.name),
      ),
    );

    expect(results.filter((result) => result === 'admitted')).toHaveLength(5);
    const leases = await store.change('race', (state) => ({ result: Object.keys(state.leases).length }));
    expect(leases).toBe(5);
  });

  it('keeps limits apart by key', async () => {
    await store.change('a', (state) => {
      const decided = admit(
        state,
        { maxInFlight: 1 },
        { leaseId: 'x', now: Date.now(), leaseMs: 60_000, cost },
      );
      return { state: decided.kind === 'admitted' ? decided.state : state, result: undefined };
    });

    expect(await store.change('b', (state) => ({ result: Object.keys(state.leases).length }))).toBe(0);
  });

  it('releases a lease in one write: the pure release applied, the version bumped, the slot free', async () => {
    const limit = { maxInFlight: 1, outputTokensPerMinute: 1_000 };
    const take = (leaseId: string) =>
      store.change('release', (state) => {
        const decided = admit(state, limit, { leaseId, now: Date.now(), leaseMs: 60_000, cost });
        return decided.kind === 'admitted' ? { state: decided.state, result: true } : { result: false };
      });
    const version = async () =>
      (await documents.send(new GetCommand({ TableName: 'capacity', Key: { pk: 'LIMIT#release' } }))).Item
        ?.version as number;
    expect(await take('first')).toBe(true);
    expect(await take('second')).toBe(false);
    const before = await store.change('release', (state) => ({ result: state }));
    const versionBefore = await version();

    // Act
    const release = { leaseId: 'first', refunds: { outputTokens: 6 }, meanCallMs: 800 };
    await store.release('release', release);

    // Assert: a version bump makes any admission computed before the release write again.
    expect(await store.change('release', (state) => ({ result: state }))).toEqual(
      applyRelease(before, release),
    );
    expect(await version()).toBe(versionBefore + 1);
    expect(await take('second')).toBe(true);
  });

  it('refuses a release of a limit never stored, so the caller settles in full instead', async () => {
    await expect(
      store.release('never-stored', { leaseId: 'x', refunds: {}, meanCallMs: 1 }),
    ).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
  });
});
