import { randomUUID } from 'node:crypto';
import { ModelCapacityExceeded, ModelOverloaded, ModelRateLimited, ModelTimeout } from '../domain/errors';
import { limitFor, type ModelLimits } from '../domain/model-limits';
import { METRIC, type ModelRole } from '../runtime/metric-names';
import { MetricUnit, type Observability } from '../runtime/observability';
import { CapacityContention, type CapacityStore } from '../storage/capacity-store';
import {
  type Admission,
  admit,
  type Cost,
  MIN_WAIT_MS,
  nextMeanCallMs,
  refundsFor,
  settle,
  type Settlement,
} from './capacity';
import { messageText, type ModelGateway, type ModelRequest, type ModelResponse } from './gateway';

/** About four characters per token: the estimate is corrected with the real usage after the call. */
export function estimatedInputTokens(request: ModelRequest): number {
  const characters =
    request.system.length +
    request.messages.reduce((total, message) => total + messageText(message).length, 0) +
    (request.jsonSchema ? JSON.stringify(request.jsonSchema).length : 0);
  return Math.ceil(characters / 4);
}

/** A held lease takes a slot until it lapses, so a release outlasts far more lost races than an admission. */
const RELEASE_ATTEMPTS = 40;

/** A lease outlives its call's deadline by this much, then lapses on its own. */
const LEASE_SLACK_MS = 2_000;
/**
 * A call with less time than this left is not started: under load a function can reach its model call
 * with almost none, and a lease that lapses at once would let another call take the slot while this
 * one is still on its way to the provider. ModelTimeout is retried in a fresh invocation.
 */
export const MIN_CALL_MS = 1_000;

/**
 * Wraps a gateway so every call to a model with `modelLimits` first acquires capacity from the
 * governor shared by every execution (a lease for the in-flight limit, the estimated cost from the
 * per-minute buckets), and settles afterwards: the lease released, the buckets corrected with the
 * real usage, a 429's `retry-after` pausing the model for everyone, the rate-limit headers lowering
 * the buckets. With no capacity free the call is not made: it fails at once with
 * `ModelCapacityExceeded` and Step Functions waits (free), not the function (billed).
 */
export class GovernedModelGateway implements ModelGateway {
  constructor(
    private readonly inner: ModelGateway,
    private readonly limits: ModelLimits,
    private readonly store: Pick<CapacityStore, 'change' | 'release'>,
    private readonly role: ModelRole,
    private readonly observability: Pick<Observability, 'logger' | 'metricsWith'>,
    private readonly now: () => number = () => Date.now(),
  ) {}

  async precheck(request: ModelRequest): Promise<void> {
    const governed = limitFor(request.model, this.limits);
    if (!governed) return;
    const { key, limit } = governed;
    // A change that returns no state writes nothing: one read. Contention cannot happen on a read.
    const admission = await this.store.change<Admission>(key, (state) => ({
      result: admit(state, limit, {
        leaseId: 'precheck',
        now: this.now(),
        leaseMs: request.timeoutMs + LEASE_SLACK_MS,
        cost: this.costOf(request),
      }),
    }));
    if (admission.kind === 'deferred') this.defer(request, key, admission);
  }

  private costOf(request: ModelRequest): Cost {
    return { requests: 1, inputTokens: estimatedInputTokens(request), outputTokens: request.maxTokens };
  }

  /** Counts and logs the deferral, then fails the call with `ModelCapacityExceeded`. */
  private defer(request: ModelRequest, key: string, admission: { reason: string; waitMs: number }): never {
    const dimensions = { role: this.role, model: request.model };
    const metrics = this.observability.metricsWith(dimensions);
    metrics.addMetric(METRIC.modelCallsDeferred, MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
    this.observability.logger.info('Model call deferred', {
      ...dimensions,
      limit: key,
      reason: admission.reason,
      retryAfterMs: admission.waitMs,
    });
    throw new ModelCapacityExceeded(
      `No capacity for ${request.model} under the limit "${key}" (${admission.reason}); ` +
        `capacity likely frees in ${admission.waitMs} ms`,
      admission.waitMs,
    );
  }

  async complete(request: ModelRequest): Promise<ModelResponse> {
    const governed = limitFor(request.model, this.limits);
    if (!governed) return this.inner.complete(request);
    const { key, limit } = governed;
    const tooLate = (timeoutMs: number) =>
      new ModelTimeout(`Only ${timeoutMs} ms were left for the call to ${request.model}; it was not started`);
    if (request.timeoutMs < MIN_CALL_MS) throw tooLate(request.timeoutMs);
    const dimensions = { role: this.role, model: request.model };
    const leaseId = randomUUID();
    const cost = this.costOf(request);

    let admission: Admission | { kind: 'deferred'; reason: 'contention'; waitMs: number };
    let meanCallMs = 0;
    let admittedAt = 0;
    try {
      admission = await this.store.change<Admission>(key, (state) => {
        meanCallMs = state.meanCallMs;
        admittedAt = this.now();
        const decided = admit(state, limit, {
          leaseId,
          now: admittedAt,
          leaseMs: request.timeoutMs + LEASE_SLACK_MS,
          cost,
        });
        return decided.kind === 'admitted' ? { state: decided.state, result: decided } : { result: decided };
      });
    } catch (error) {
      if (!(error instanceof CapacityContention)) throw error;
      admission = { kind: 'deferred' as const, reason: 'contention', waitMs: MIN_WAIT_MS };
    }
    if (admission.kind === 'deferred') this.defer(request, key, admission);
    const metrics = this.observability.metricsWith(dimensions);
    metrics.addMetric(METRIC.modelCallsAdmitted, MetricUnit.Count, 1);
    metrics.addMetric(METRIC.modelInFlight, MetricUnit.Count, admission.inFlight);
    metrics.publishStoredMetrics();

    const started = this.now();
    // The call never outlives its lease: time spent since the admission comes off its timeout.
    const timeoutMs = request.timeoutMs - (started - admittedAt);
    if (timeoutMs < MIN_CALL_MS) {
      await this.settle(key, limit, { leaseId, now: started, refund: { ...cost } });
      throw tooLate(timeoutMs);
    }
    try {
      const response = await this.inner.complete({ ...request, timeoutMs });
      const used = response.usage;
      const settlement: Settlement = {
        leaseId,
        now: this.now(),
        // Cache reads do not count towards the provider's input tokens per minute; cache writes do.
        refund: {
          inputTokens: cost.inputTokens - used.inputTokens - used.cacheWriteTokens,
          outputTokens: cost.outputTokens - used.outputTokens,
        },
        callMs: this.now() - started,
        ...(response.rateLimits ? { rateLimits: response.rateLimits } : {}),
      };
      if (response.rateLimits) await this.settle(key, limit, settlement);
      else await this.release(key, limit, settlement, meanCallMs);
      return response;
    } catch (error) {
      // Refused outright (429/529): nothing was used. Otherwise only the output is known to be unused.
      const refused = error instanceof ModelRateLimited || error instanceof ModelOverloaded;
      await this.settle(key, limit, {
        leaseId,
        now: this.now(),
        refund: refused ? { ...cost } : { outputTokens: cost.outputTokens },
        ...(error instanceof ModelRateLimited && error.retryAfterMs !== undefined
          ? { retryAfterMs: error.retryAfterMs }
          : {}),
        ...(error instanceof ModelRateLimited && error.rateLimits ? { rateLimits: error.rateLimits } : {}),
        // Abandoned, not answered: the request may still be open at the provider for a moment.
        ...(error instanceof ModelTimeout ? { keepLease: true } : {}),
      });
      throw error;
    }
  }

  /**
   * The usual settlement in one write that cannot lose a race, so the slot frees as the call ends;
   * the full read-and-write `settle` when that write cannot apply (a bucket not stored yet).
   */
  private async release(
    key: string,
    limit: Parameters<typeof settle>[1],
    settlement: Settlement,
    meanCallMs: number,
  ) {
    try {
      await this.store.release(key, {
        leaseId: settlement.leaseId,
        refunds: refundsFor(limit, settlement.refund),
        ...(settlement.callMs !== undefined
          ? { meanCallMs: nextMeanCallMs(meanCallMs, settlement.callMs) }
          : {}),
      });
    } catch {
      await this.settle(key, limit, settlement);
    }
  }

  /** Never fails the call: an unreleased lease lapses at its deadline. */
  private async settle(key: string, limit: Parameters<typeof settle>[1], settlement: Settlement) {
    try {
      await this.store.change(
        key,
        (state) => ({ state: settle(state, limit, settlement), result: undefined }),
        RELEASE_ATTEMPTS,
      );
    } catch (error) {
      this.observability.logger.warn('Could not release model capacity; the lease lapses on its own', {
        limit: key,
        error: { name: (error as Error).name, message: (error as Error).message },
      });
    }
  }
}
