import { createTableInput } from '../../../../../local/runtime/synthesized-stack';
import { ensureTable, type LocalDynamoDB, startLocalDynamoDB } from '../../../../../local/runtime/dynamodb';
import { createDocumentClient } from '../../../../../lambdas/shared/storage/job-repository';
import { CapacityStore } from '../../../../../lambdas/shared/storage/capacity-store';
import { admit } from '../../../../../lambdas/shared/model/capacity';

let dynamodb: LocalDynamoDB;
let store: CapacityStore;

beforeAll(async () => {
  dynamodb = await startLocalDynamoDB();
  await ensureTable(
    dynamodb.client,
    createTableInput('capacity', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    }),
  );
  store = new CapacityStore(
    createDocumentClient({ region: 'us-east-1', endpoint: dynamodb.endpoint }),
    'capacity',
  );
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
});
