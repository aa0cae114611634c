import * as z from 'zod';

const limit = (max: number) => z.number().int().min(1).max(max).optional();

/**
 * One model's (or model family's) share of the provider's capacity, for every execution together.
 * Every field is optional: a model given `{}` is only paused when the provider answers 429 with
 * `retry-after`, and its buckets lowered when the rate-limit headers say less is left.
 */
export const ModelLimitSchema = z
  .object({
    /** Calls in flight at once (a lease-based semaphore). At most 1,000: the leases live in one item. */
    maxInFlight: limit(1_000),
    requestsPerMinute: limit(1_000_000),
    /** Estimated as the prompt's size (about four characters per token), corrected by the real usage. */
    inputTokensPerMinute: limit(1_000_000_000),
    /** Reserved as the call's `max_tokens`, corrected by the real usage. */
    outputTokensPerMinute: limit(1_000_000_000),
  })
  .strict();
export type ModelLimit = z.infer<typeof ModelLimitSchema>;

/** Keyed by a model id (`claude-haiku-5-5`) or a family prefix of ids (`claude-haiku`, `us.anthropic.`). */
export const ModelLimitsSchema = z.record(z.string().min(1).max(200), ModelLimitSchema);
export type ModelLimits = z.infer<typeof ModelLimitsSchema>;

/**
 * The limit a call to `model` falls under: the entry named exactly, else the longest key the id
 * starts with (so a family shares one budget), else none (the call is not governed).
 */
export function limitFor(model: string, limits: ModelLimits): { key: string; limit: ModelLimit } | undefined {
  const exact = limits[model];
  if (exact) return { key: model, limit: exact };
  const key = Object.keys(limits)
    .filter((candidate) => model.startsWith(candidate))
    .sort((a, b) => b.length - a.length)[0];
  const limit = key === undefined ? undefined : limits[key];
  return key === undefined || !limit ? undefined : { key, limit };
}
