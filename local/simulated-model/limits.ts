/**
 * Rate limits the simulated model can enforce on its callers, per model id as the provider's are per
 * model: calls in flight, and per-minute requests, input tokens and output tokens (continuously
 * refilled buckets; output reserved as `max_tokens` on arrival, the unused part given back with the
 * answer). Beyond them it answers 429 with `retry-after`, like the real API, and every answer carries
 * `anthropic-ratelimit-*` headers for the per-minute limits.
 */
import { z } from 'zod';

export const providerLimitsSchema = z.strictObject({
  maxInFlight: z.number().int().positive().optional(),
  requestsPerMinute: z.number().int().positive().optional(),
  inputTokensPerMinute: z.number().int().positive().optional(),
  outputTokensPerMinute: z.number().int().positive().optional(),
});
export type ProviderLimits = z.infer<typeof providerLimitsSchema>;

type Dimension = 'requests' | 'input-tokens' | 'output-tokens';
const PER_MINUTE: Record<Dimension, keyof ProviderLimits> = {
  requests: 'requestsPerMinute',
  'input-tokens': 'inputTokensPerMinute',
  'output-tokens': 'outputTokensPerMinute',
};

export type LimitReason = 'in-flight' | Dimension;

export type LimitVerdict =
  | { ok: true; release: (outputTokensUsed: number) => void }
  | { ok: false; reason: LimitReason; retryAfterMs: number };

interface ModelUsage {
  inFlight: number;
  peak: number;
  buckets: Partial<Record<Dimension, { level: number; at: number }>>;
}

/** The limits, and what each model has used of them; `now` is injected for tests. */
export class RateLimiter {
  private readonly models = new Map<string, ModelUsage>();

  constructor(
    private readonly limits: ProviderLimits,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Requests open at once at a model when one arrived (itself included), at most, per model. */
  peaks(): Record<string, number> {
    return Object.fromEntries([...this.models].map(([model, usage]) => [model, usage.peak]));
  }

  /** Admits a request (counting it in flight until `release`) or says which limit it is beyond. */
  admit(model: string, cost: { inputTokens: number; maxTokens: number }): LimitVerdict {
    const usage = this.usageOf(model);
    usage.peak = Math.max(usage.peak, usage.inFlight + 1);
    if (this.limits.maxInFlight !== undefined && usage.inFlight >= this.limits.maxInFlight) {
      return { ok: false, reason: 'in-flight', retryAfterMs: 1_000 };
    }
    const costs: Record<Dimension, number> = {
      requests: 1,
      'input-tokens': cost.inputTokens,
      'output-tokens': cost.maxTokens,
    };
    for (const dimension of Object.keys(PER_MINUTE) as Dimension[]) {
      const capacity = this.limits[PER_MINUTE[dimension]];
      if (capacity === undefined) continue;
      const bucket = this.refill(usage, dimension, capacity);
      const needed = Math.min(costs[dimension], capacity);
      if (bucket.level < needed) {
        return {
          ok: false,
          reason: dimension,
          retryAfterMs: Math.ceil(((needed - bucket.level) * 60_000) / capacity),
        };
      }
    }
    for (const dimension of Object.keys(PER_MINUTE) as Dimension[]) {
      const bucket = usage.buckets[dimension];
      if (bucket) bucket.level -= costs[dimension];
    }
    usage.inFlight += 1;
    let released = false;
    return {
      ok: true,
      release: (outputTokensUsed) => {
        if (released) return;
        released = true;
        usage.inFlight -= 1;
        const output = usage.buckets['output-tokens'];
        const capacity = this.limits.outputTokensPerMinute;
        if (output && capacity !== undefined) {
          output.level = Math.min(capacity, output.level + cost.maxTokens - outputTokensUsed);
        }
      },
    };
  }

  /** `anthropic-ratelimit-{dimension}-{limit,remaining,reset}` for the per-minute limits configured. */
  headers(model: string): Record<string, string> {
    const usage = this.usageOf(model);
    const headers: Record<string, string> = {};
    for (const dimension of Object.keys(PER_MINUTE) as Dimension[]) {
      const capacity = this.limits[PER_MINUTE[dimension]];
      if (capacity === undefined) continue;
      const bucket = this.refill(usage, dimension, capacity);
      const remaining = Math.max(0, Math.floor(bucket.level));
      const fullInMs = ((capacity - bucket.level) * 60_000) / capacity;
      headers[`anthropic-ratelimit-${dimension}-limit`] = String(capacity);
      headers[`anthropic-ratelimit-${dimension}-remaining`] = String(remaining);
      headers[`anthropic-ratelimit-${dimension}-reset`] = new Date(
        Math.ceil((this.now() + fullInMs) / 1000) * 1000,
      ).toISOString();
    }
    return headers;
  }

  private usageOf(model: string): ModelUsage {
    let usage = this.models.get(model);
    if (!usage) {
      usage = { inFlight: 0, peak: 0, buckets: {} };
      this.models.set(model, usage);
    }
    return usage;
  }

  private refill(usage: ModelUsage, dimension: Dimension, capacity: number) {
    const now = this.now();
    const bucket = usage.buckets[dimension] ?? { level: capacity, at: now };
    bucket.level = Math.min(capacity, bucket.level + ((now - bucket.at) * capacity) / 60_000);
    bucket.at = now;
    usage.buckets[dimension] = bucket;
    return bucket;
  }
}
