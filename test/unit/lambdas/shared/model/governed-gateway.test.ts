import {
  ModelCapacityExceeded,
  ModelRateLimited,
  ModelTimeout,
  ModelUnavailable,
} from '../../../../../lambdas/shared/domain/errors';
import {
  applyRelease,
  type CapacityState,
  emptyCapacityState,
  type LeaseRelease,
} from '../../../../../lambdas/shared/model/capacity';
import type { ModelRequest } from '../../../../../lambdas/shared/model/gateway';
import {
  estimatedInputTokens,
  GovernedModelGateway,
  MIN_CALL_MS,
} from '../../../../../lambdas/shared/model/governed-gateway';
import type { ModelLimits } from '../../../../../lambdas/shared/domain/model-limits';
import { createObservability } from '../../../../../lambdas/shared/runtime/observability';
import type { CapacityChange } from '../../../../../lambdas/shared/storage/capacity-store';
import { captureOutput, type CapturedOutput } from '../../../../helpers/captured-output';
import { ScriptedModel } from '../../../../helpers/fake-model';

/** The store's contract in memory: one state per limit key. */
class MemoryStore {
  readonly states = new Map<string, CapacityState>();
  async change<T>(key: string, change: CapacityChange<T>): Promise<T> {
    const { state, result } = change(this.states.get(key) ?? emptyCapacityState());
    if (state) this.states.set(key, state);
    return Promise.resolve(result);
  }
  readonly releases: LeaseRelease[] = [];
  async release(key: string, release: LeaseRelease): Promise<void> {
    const state = this.states.get(key);
    if (!state) throw new Error('ConditionalCheckFailedException');
    this.releases.push(release);
    this.states.set(key, applyRelease(state, release));
    return Promise.resolve();
  }
}

const request: ModelRequest = {
  model: 'claude-haiku-5-5',
  system: 'system',
  messages: [{ role: 'user', content: 'x'.repeat(396) }],
  maxTokens: 100,
  timeoutMs: 10_000,
};

const POWERTOOLS_ON = {
  POWERTOOLS_SERVICE_NAME: 'orchestrator-test',
  POWERTOOLS_METRICS_NAMESPACE: 'OrchestratorTest',
  LOG_LEVEL: 'INFO',
};

let output: CapturedOutput;
beforeEach(() => {
  output = captureOutput();
});
afterEach(() => output.restore());

/** A clock reading `times` in turn, then the last of them for ever. */
const clockOf = (...times: number[]) => {
  const last = times.at(-1) ?? 0;
  return () => times.shift() ?? last;
};

const governed = (
  model: ScriptedModel,
  limits: ModelLimits = { 'claude-haiku': { maxInFlight: 1 } },
  store = new MemoryStore(),
  now: () => number = () => 1_000,
) => ({
  store,
  gateway: new GovernedModelGateway(model, limits, store, 'worker', createObservability(POWERTOOLS_ON), now),
});

describe('the governed model gateway', () => {
  it('estimates input tokens as about four characters each', () => {
    expect(estimatedInputTokens(request)).toBe(101);
  });

  it('calls a model without limits directly, touching no capacity', async () => {
    const { gateway, store } = governed(new ScriptedModel(['answer']), {});

    await expect(gateway.complete(request)).resolves.toMatchObject({ text: 'answer' });
    expect(store.states.size).toBe(0);
  });

  it('takes a lease for the call under the family limit and releases it afterwards', async () => {
    const { gateway, store } = governed(new ScriptedModel(['answer']));

    await gateway.complete(request);
    await gateway.complete(request);

    expect(Object.keys(store.states.get('claude-haiku')?.leases ?? {})).toEqual([]);
    const metrics = output
      .metrics()
      .flatMap((record) => record._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name));
    expect(metrics.filter((name) => name === 'ModelCallsAdmitted')).toHaveLength(2);
    expect(metrics).toContain('ModelInFlight');
  });

  it('releases an answered call in one write, and settles in full when the provider sent rate-limit news', async () => {
    const { gateway, store } = governed(
      new ScriptedModel([
        'answer',
        { text: 'answer', stopReason: 'end_turn', rateLimits: { requests: { remaining: 3 } } },
      ]),
      { 'claude-haiku': { maxInFlight: 2, requestsPerMinute: 50 } },
    );

    await gateway.complete(request);
    expect(store.releases).toHaveLength(1);
    expect(store.releases[0]?.refunds).toEqual({ requests: 0 });
    await gateway.complete(request);

    expect(store.releases).toHaveLength(1);
    expect(store.states.get('claude-haiku')?.buckets.requests?.level).toBe(3);
    expect(Object.keys(store.states.get('claude-haiku')?.leases ?? {})).toEqual([]);
  });

  it('tells at once, by a read only, that a call would be deferred (precheck)', async () => {
    const { gateway, store } = governed(new ScriptedModel(['answer']));
    await expect(gateway.precheck(request)).resolves.toBeUndefined();
    store.states.set('claude-haiku', {
      ...emptyCapacityState(),
      leases: { other: { startedAt: 900, expiresAt: 60_000 } },
    });
    const before = JSON.stringify([...store.states]);

    await expect(gateway.precheck(request)).rejects.toBeInstanceOf(ModelCapacityExceeded);
    expect(JSON.stringify([...store.states])).toBe(before);
  });

  it('fails at once with ModelCapacityExceeded, without calling the model, when no slot is free', async () => {
    const model = new ScriptedModel(['answer']);
    const { gateway, store } = governed(model);
    store.states.set('claude-haiku', {
      ...emptyCapacityState(),
      leases: { other: { startedAt: 900, expiresAt: 60_000 } },
    });

    const failure = gateway.complete(request);

    await expect(failure).rejects.toBeInstanceOf(ModelCapacityExceeded);
    await expect(failure).rejects.toMatchObject({ retryAfterMs: 900 });
    expect(model.requests).toHaveLength(0);
    expect(output.metrics().flatMap((r) => r._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name))).toEqual([
      'ModelCallsDeferred',
    ]);
  });

  it("pauses the model for every caller after a 429's retry-after, and passes the 429 on", async () => {
    const { gateway, store } = governed(
      new ScriptedModel([new ModelRateLimited('429', { retryAfterMs: 5_000 }), 'answer']),
    );

    await expect(gateway.complete(request)).rejects.toBeInstanceOf(ModelRateLimited);

    expect(store.states.get('claude-haiku')?.pausedUntil).toBe(6_000);
    await expect(gateway.complete(request)).rejects.toMatchObject({ name: 'ModelCapacityExceeded' });
  });

  it('keeps the slot of a call that timed out until its lease lapses (the provider may still be working on it)', async () => {
    const model = new ScriptedModel([new ModelTimeout('gave up after 10 s'), 'answer']);
    const { gateway, store } = governed(model);

    await expect(gateway.complete(request)).rejects.toBeInstanceOf(ModelTimeout);

    const leases = store.states.get('claude-haiku')?.leases ?? {};
    expect(Object.values(leases)).toEqual([{ startedAt: 1_000, expiresAt: 1_000 + 10_000 + 2_000 }]);
    await expect(gateway.complete(request)).rejects.toBeInstanceOf(ModelCapacityExceeded);
    expect(model.requests).toHaveLength(1);
  });

  it('shortens the call by the time since its admission, so the request never outlives its lease', async () => {
    const model = new ScriptedModel(['answer']);
    const { gateway } = governed(model, undefined, undefined, clockOf(1_000, 4_000));

    await gateway.complete(request);

    expect(model.requests[0]?.timeoutMs).toBe(10_000 - 3_000);
  });

  it('starts no call with less than a second left, before or after its admission, and keeps no slot for it', async () => {
    const model = new ScriptedModel(['answer']);
    const { gateway: late, store } = governed(model);
    const { gateway: slow } = governed(model, undefined, store, clockOf(1_000, 9_500));

    await expect(late.complete({ ...request, timeoutMs: MIN_CALL_MS - 1 })).rejects.toBeInstanceOf(
      ModelTimeout,
    );
    // Admitted at 1 s with 10 s to go, but 8.5 s passed before the call: 1.5 s left is enough...
    await expect(slow.complete(request)).resolves.toMatchObject({ text: 'answer' });
    // ...while 0.5 s is not.
    const { gateway: slower } = governed(model, undefined, store, clockOf(1_000, 10_500));
    await expect(slower.complete(request)).rejects.toThrow(/Only 500 ms were left/);

    expect(model.requests).toHaveLength(1);
    expect(store.states.get('claude-haiku')?.leases).toEqual({});
  });

  it('frees the slot at once after any other failure: the provider answered', async () => {
    const { gateway, store } = governed(new ScriptedModel([new ModelUnavailable('500'), 'answer']));

    await expect(gateway.complete(request)).rejects.toBeInstanceOf(ModelUnavailable);

    expect(store.states.get('claude-haiku')?.leases).toEqual({});
    await expect(gateway.complete(request)).resolves.toMatchObject({ text: 'answer' });
  });

  it('returns the answer even when releasing the lease fails (the lease lapses on its own)', async () => {
    const store = new MemoryStore();
    let changes = 0;
    const flaky = {
      change: <T>(key: string, change: CapacityChange<T>) =>
        ++changes === 2 ? Promise.reject(new Error('DynamoDB unavailable')) : store.change(key, change),
      release: () => Promise.reject(new Error('DynamoDB unavailable')),
    };
    const gateway = new GovernedModelGateway(
      new ScriptedModel(['answer']),
      { 'claude-haiku-5-5': { maxInFlight: 2 } },
      flaky,
      'worker',
      createObservability(POWERTOOLS_ON),
    );

    await expect(gateway.complete(request)).resolves.toMatchObject({ text: 'answer' });
    expect(Object.keys(store.states.get('claude-haiku-5-5')?.leases ?? {})).toHaveLength(1);
  });
});
