import {
  admit,
  applyRelease,
  type CapacityState,
  emptyCapacityState,
  refilled,
  refundsFor,
  settle,
} from '../../../../../lambdas/shared/model/capacity';

const cost = { requests: 1, inputTokens: 1_000, outputTokens: 500 };
const call = (leaseId: string, now: number, leaseMs = 30_000) => ({ leaseId, now, leaseMs, cost });

/** Admits `count` calls at `now`, failing the test when one is deferred. */
function admitted(state: CapacityState, limit: Parameters<typeof admit>[1], count: number, now = 0) {
  let current = state;
  for (let index = 0; index < count; index++) {
    const decided = admit(current, limit, call(`lease-${index}`, now));
    if (decided.kind !== 'admitted') throw new Error(`call ${index} was deferred: ${decided.reason}`);
    current = decided.state;
  }
  return current;
}

describe('the governor arithmetic', () => {
  it('admits calls up to maxInFlight, then defers the next one', () => {
    const state = admitted(emptyCapacityState(), { maxInFlight: 3 }, 3);

    const next = admit(state, { maxInFlight: 3 }, call('fourth', 10));

    expect(next).toMatchObject({ kind: 'deferred', reason: 'in-flight' });
  });

  it('frees a slot when a call settles', () => {
    const full = admitted(emptyCapacityState(), { maxInFlight: 2 }, 2);

    const released = settle(full, { maxInFlight: 2 }, { leaseId: 'lease-0', now: 100, refund: {} });

    expect(admit(released, { maxInFlight: 2 }, call('third', 100))).toMatchObject({
      kind: 'admitted',
      inFlight: 2,
    });
  });

  it("gives back a crashed call's slot once its lease expires", () => {
    const full = admitted(emptyCapacityState(), { maxInFlight: 1 }, 1);

    expect(admit(full, { maxInFlight: 1 }, call('b', 29_999)).kind).toBe('deferred');
    expect(admit(full, { maxInFlight: 1 }, call('b', 30_001)).kind).toBe('admitted');
  });

  it('suggests a wait from how long calls take', () => {
    const first = admitted(emptyCapacityState(), { maxInFlight: 1 }, 1);
    const learned = settle(
      first,
      { maxInFlight: 1 },
      { leaseId: 'lease-0', now: 4_000, refund: {}, callMs: 4_000 },
    );
    const busy = admitted(learned, { maxInFlight: 1 }, 1, 5_000);

    const next = admit(busy, { maxInFlight: 1 }, call('next', 6_000));

    expect(next).toEqual({ kind: 'deferred', reason: 'in-flight', waitMs: 3_000 });
  });

  it('takes the estimated cost from each per-minute bucket and defers when one runs short', () => {
    const limit = { requestsPerMinute: 100, outputTokensPerMinute: 1_200 };
    const state = admitted(emptyCapacityState(), limit, 2);

    const third = admit(state, limit, call('third', 0));

    // 200 output tokens are left of 1,200 per minute: 300 more take 15 s to refill.
    expect(third).toEqual({ kind: 'deferred', reason: 'output-tokens', waitMs: 15_000 });
    expect(admit(state, limit, call('third', 15_000)).kind).toBe('admitted');
  });

  it('admits a call larger than a whole bucket once the bucket is full', () => {
    const limit = { inputTokensPerMinute: 600 };

    expect(admit(emptyCapacityState(), limit, call('big', 0)).kind).toBe('admitted');
  });

  it('corrects the buckets with the real usage after the call', () => {
    const limit = { outputTokensPerMinute: 1_000 };
    const state = admitted(emptyCapacityState(), limit, 2);
    expect(admit(state, limit, call('third', 0)).kind).toBe('deferred');

    // Each call used 100 of the 500 output tokens it reserved: 800 are back.
    const once = settle(state, limit, { leaseId: 'lease-0', now: 0, refund: { outputTokens: 400 } });
    const corrected = settle(once, limit, { leaseId: 'lease-1', now: 0, refund: { outputTokens: 400 } });

    expect(admit(corrected, limit, call('third', 0)).kind).toBe('admitted');
  });

  it('frees the slot and refunds each configured bucket in a release, as settling would', () => {
    const limit = { maxInFlight: 2, outputTokensPerMinute: 1_000 };
    const state = admitted(emptyCapacityState(), limit, 2);
    const refund = { outputTokens: 500, inputTokens: 50 };

    const released = applyRelease(state, {
      leaseId: 'lease-0',
      refunds: refundsFor(limit, refund),
      meanCallMs: 900,
    });

    expect(refundsFor(limit, refund)).toEqual({ outputTokens: 500 });
    expect(released).toEqual(settle(state, limit, { leaseId: 'lease-0', now: 0, refund, callMs: 900 }));
    expect(admit(released, limit, call('third', 0)).kind).toBe('admitted');
  });

  it("pauses every admission until a 429's retry-after has passed", () => {
    const paused = settle(
      emptyCapacityState(),
      {},
      { leaseId: 'x', now: 1_000, refund: {}, retryAfterMs: 5_000 },
    );

    expect(admit(paused, {}, call('a', 2_000))).toEqual({
      kind: 'deferred',
      reason: 'paused',
      waitMs: 4_000,
    });
    expect(admit(paused, {}, call('a', 6_000)).kind).toBe('admitted');
  });

  it('lowers a bucket to what the provider says is left, never raises it', () => {
    const limit = { requestsPerMinute: 60 };
    const lowered = settle(emptyCapacityState(), limit, {
      leaseId: 'x',
      now: 0,
      refund: {},
      rateLimits: { requests: { remaining: 0 } },
    });
    expect(admit(lowered, limit, call('a', 0))).toMatchObject({ kind: 'deferred', reason: 'requests' });

    const kept = settle(lowered, limit, {
      leaseId: 'y',
      now: 0,
      refund: {},
      rateLimits: { requests: { remaining: 50 } },
    });
    expect(kept.buckets.requests?.level).toBe(0);
  });

  it('refills a bucket continuously up to its capacity', () => {
    expect(refilled({ level: 0, at: 0 }, 600, 30_000)).toEqual({ level: 300, at: 30_000 });
    expect(refilled({ level: 500, at: 0 }, 600, 60_000)).toEqual({ level: 600, at: 60_000 });
    expect(refilled(undefined, 600, 5)).toEqual({ level: 600, at: 5 });
  });
});
