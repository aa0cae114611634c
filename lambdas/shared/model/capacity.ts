/**
 * The model-call governor's arithmetic, free of I/O: a lease-based semaphore for calls in flight and
 * token buckets for the per-minute limits, over one state shared by every execution (stored in
 * DynamoDB by `storage/capacity-store.ts`). Times are epoch milliseconds.
 */
import type { ProviderRateLimits } from '../domain/errors';
import type { ModelLimit } from '../domain/model-limits';

export const BUCKETS = ['requests', 'inputTokens', 'outputTokens'] as const;
export type BucketName = (typeof BUCKETS)[number];

/** A call in flight. It expires at the call's own deadline, so a crashed function never keeps capacity. */
export interface Lease {
  startedAt: number;
  expiresAt: number;
}

/** What is left of one per-minute limit, as of `at`; it refills continuously, as the providers' do. */
export interface Bucket {
  level: number;
  at: number;
}

export interface CapacityState {
  leases: Record<string, Lease>;
  buckets: Partial<Record<BucketName, Bucket>>;
  /** No admissions before this (a 429's `retry-after`, for every execution). */
  pausedUntil: number;
  /** Moving average of call durations, for the suggested wait; 0 until a call finished. */
  meanCallMs: number;
}

export const emptyCapacityState = (): CapacityState => ({
  leases: {},
  buckets: {},
  pausedUntil: 0,
  meanCallMs: 0,
});

export type Cost = Record<BucketName, number>;

export type DeferralReason = 'paused' | 'in-flight' | 'requests' | 'input-tokens' | 'output-tokens';

export type Admission =
  | { kind: 'admitted'; state: CapacityState; inFlight: number }
  | { kind: 'deferred'; reason: DeferralReason; waitMs: number };

/** The shortest wait suggested, and the one used while nothing is known about call durations. */
export const MIN_WAIT_MS = 250;
const DEFAULT_CALL_MS = 1_000;

const REASON: Record<BucketName, DeferralReason> = {
  requests: 'requests',
  inputTokens: 'input-tokens',
  outputTokens: 'output-tokens',
};

/** The per-minute capacity of each bucket a limit configures. */
export function bucketCapacities(limit: ModelLimit): Partial<Record<BucketName, number>> {
  const capacities: Partial<Record<BucketName, number>> = {};
  if (limit.requestsPerMinute) capacities.requests = limit.requestsPerMinute;
  if (limit.inputTokensPerMinute) capacities.inputTokens = limit.inputTokensPerMinute;
  if (limit.outputTokensPerMinute) capacities.outputTokens = limit.outputTokensPerMinute;
  return capacities;
}

/** The bucket refilled up to `now` (a bucket never seen is full). */
export function refilled(bucket: Bucket | undefined, capacity: number, now: number): Bucket {
  if (!bucket) return { level: capacity, at: now };
  const elapsed = Math.max(0, now - bucket.at);
  return { level: Math.min(capacity, bucket.level + (elapsed * capacity) / 60_000), at: now };
}

const liveLeases = (leases: Record<string, Lease>, now: number) =>
  Object.fromEntries(Object.entries(leases).filter(([, lease]) => lease.expiresAt > now));

/**
 * Admits a call when the model is not paused, a slot is free and every configured bucket holds its
 * cost (a call larger than a whole bucket waits for a full one), taking a lease and the cost; or says
 * which limit deferred it and when capacity is likely to free.
 */
export function admit(
  state: CapacityState,
  limit: ModelLimit,
  call: { leaseId: string; now: number; leaseMs: number; cost: Cost },
): Admission {
  const { now } = call;
  if (state.pausedUntil > now) {
    return { kind: 'deferred', reason: 'paused', waitMs: Math.max(MIN_WAIT_MS, state.pausedUntil - now) };
  }
  const leases = liveLeases(state.leases, now);
  const inFlight = Object.keys(leases).length;
  if (limit.maxInFlight !== undefined && inFlight >= limit.maxInFlight) {
    const callMs = state.meanCallMs || DEFAULT_CALL_MS;
    const soonest = Math.min(...Object.values(leases).map((lease) => lease.startedAt + callMs - now));
    return { kind: 'deferred', reason: 'in-flight', waitMs: Math.max(MIN_WAIT_MS, Math.round(soonest)) };
  }
  const buckets: Partial<Record<BucketName, Bucket>> = {};
  for (const [name, capacity] of Object.entries(bucketCapacities(limit)) as [BucketName, number][]) {
    const bucket = refilled(state.buckets[name], capacity, now);
    const needed = Math.min(call.cost[name], capacity);
    if (bucket.level < needed) {
      const waitMs = ((needed - bucket.level) * 60_000) / capacity;
      return { kind: 'deferred', reason: REASON[name], waitMs: Math.max(MIN_WAIT_MS, Math.ceil(waitMs)) };
    }
    buckets[name] = { level: bucket.level - call.cost[name], at: now };
  }
  return {
    kind: 'admitted',
    inFlight: inFlight + 1,
    state: {
      ...state,
      leases: { ...leases, [call.leaseId]: { startedAt: now, expiresAt: now + call.leaseMs } },
      buckets: { ...state.buckets, ...buckets },
    },
  };
}

export interface Settlement {
  leaseId: string;
  now: number;
  /** What the call did not use of what it took (the estimate less the real usage); may be negative. */
  refund: Partial<Cost>;
  /** A 429's `retry-after`: every execution waits this long. */
  retryAfterMs?: number;
  /** The provider's rate-limit headers: a bucket holding more than the provider says is left is lowered. */
  rateLimits?: ProviderRateLimits;
  /** How long the call took, when it was answered. */
  callMs?: number;
  /**
   * The caller gave up on the call (it timed out) while the provider may still be working on it: its
   * lease stays until it lapses, so the provider is never sent more than the limit meanwhile.
   */
  keepLease?: boolean;
}

/** Releases the call's lease, corrects the buckets with the real usage and learns from the provider. */
export function settle(state: CapacityState, limit: ModelLimit, settlement: Settlement): CapacityState {
  const { now } = settlement;
  const leases = liveLeases(state.leases, now);
  if (!settlement.keepLease) delete leases[settlement.leaseId];
  const buckets = { ...state.buckets };
  for (const [name, capacity] of Object.entries(bucketCapacities(limit)) as [BucketName, number][]) {
    const bucket = refilled(buckets[name], capacity, now);
    let level = Math.min(capacity, bucket.level + (settlement.refund[name] ?? 0));
    const remaining = settlement.rateLimits?.[name]?.remaining;
    if (remaining !== undefined) level = Math.min(level, remaining);
    buckets[name] = { level, at: now };
  }
  const pausedUntil =
    settlement.retryAfterMs === undefined
      ? state.pausedUntil
      : Math.max(state.pausedUntil, now + settlement.retryAfterMs);
  const meanCallMs =
    settlement.callMs === undefined ? state.meanCallMs : nextMeanCallMs(state.meanCallMs, settlement.callMs);
  return { leases, buckets, pausedUntil, meanCallMs };
}

/**
 * The common settlement, a call answered with no news from the provider: its lease released, each
 * configured bucket refunded what the call did not use, the call's duration folded into the mean.
 * Unlike `settle` it needs no read of the state, so the store can apply it in one unconditional write
 * that never loses a race, and the slot frees as soon as the call ends.
 */
export interface LeaseRelease {
  leaseId: string;
  /** Tokens (or requests) to give back per configured bucket; may be negative. */
  refunds: Partial<Record<BucketName, number>>;
  /** The new moving average of call durations, from the one the admission saw. */
  meanCallMs?: number;
}

/** The moving average of call durations after one more call of `callMs`. */
export const nextMeanCallMs = (meanCallMs: number, callMs: number) =>
  meanCallMs === 0 ? callMs : Math.round(0.8 * meanCallMs + 0.2 * callMs);

/** What `LeaseRelease` does to the state (the store's single write does the same). */
export function applyRelease(state: CapacityState, release: LeaseRelease): CapacityState {
  const leases = { ...state.leases };
  delete leases[release.leaseId];
  const buckets = { ...state.buckets };
  for (const [name, refund] of Object.entries(release.refunds) as [BucketName, number][]) {
    const bucket = buckets[name];
    if (bucket) buckets[name] = { ...bucket, level: bucket.level + refund };
  }
  return { ...state, leases, buckets, meanCallMs: release.meanCallMs ?? state.meanCallMs };
}

/** The refunds of a settlement, for the buckets the limit configures. */
export function refundsFor(limit: ModelLimit, refund: Partial<Cost>): Partial<Record<BucketName, number>> {
  const refunds: Partial<Record<BucketName, number>> = {};
  for (const name of Object.keys(bucketCapacities(limit)) as BucketName[]) refunds[name] = refund[name] ?? 0;
  return refunds;
}
