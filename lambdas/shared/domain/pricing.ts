import type { CallUsage, Usage } from './schemas';

/** USD per million tokens. Estimates for reporting only: check the provider's price list before budgeting. */
export interface ModelPrice {
  input: number;
  output: number;
  cacheRead: number;
  /** A cache write with the default 5-minute TTL. */
  cacheWrite: number;
  /** A cache write with the 1-hour TTL (the batch lane marks the workers' shared prefix so). */
  cacheWrite1h: number;
}

/**
 * How a call was made: `on-demand` (the Messages API) or `batch` (the Message Batches API, billed at
 * half the on-demand price for every token kind; the caching multipliers apply on top).
 */
export const MODEL_CALL_LANES = ['on-demand', 'batch'] as const;
export type ModelCallLane = (typeof MODEL_CALL_LANES)[number];

/** The Message Batches API's discount on every token kind. */
const BATCH_DISCOUNT = 0.5;

const price = (input: number, output: number): ModelPrice => ({
  input,
  output,
  cacheRead: input * 0.1,
  cacheWrite: input * 1.25,
  cacheWrite1h: input * 2,
});

/** One row per model family: the on-demand price and the batch price side by side. */
const row = (family: RegExp, input: number, output: number) => ({
  family,
  price: price(input, output),
  batch: price(input * BATCH_DISCOUNT, output * BATCH_DISCOUNT),
});

/** Matched by model family, so dated and versioned ids share one row. */
export const MODEL_PRICES: ReadonlyArray<{ family: RegExp; price: ModelPrice; batch: ModelPrice }> = [
  row(/haiku/, 1, 5),
  row(/sonnet/, 3, 15),
  row(/opus/, 5, 25),
];

/** How a call is billed: its lane, and the TTL its cache writes were made with. */
export interface Billing {
  lane?: ModelCallLane;
  cacheTtl?: '5m' | '1h';
}

export function priceOf(model: string, lane: ModelCallLane = 'on-demand'): ModelPrice | undefined {
  const found = MODEL_PRICES.find((candidate) => candidate.family.test(model));
  if (!found) return undefined;
  return lane === 'batch' ? found.batch : found.price;
}

export function estimateCostUsd(model: string, usage: Usage, billing: Billing = {}): number {
  const rates = priceOf(model, billing.lane);
  if (!rates) return 0;
  const micro =
    usage.inputTokens * rates.input +
    usage.outputTokens * rates.output +
    usage.cacheReadTokens * rates.cacheRead +
    usage.cacheWriteTokens * (billing.cacheTtl === '1h' ? rates.cacheWrite1h : rates.cacheWrite);
  return Math.round(micro) / 1_000_000;
}

/**
 * A call's usage with its cost. A batch-lane call carries `lane: "batch"` (and the cache TTL), so what
 * the same tokens would have cost on demand can be told later (`onDemandCostUsd`).
 */
export function priced(model: string, usage: Usage, billing: Billing = {}): CallUsage {
  const lane = billing.lane === 'batch' ? { lane: 'batch' as const } : {};
  const ttl = billing.cacheTtl === '1h' ? { cacheTtl: '1h' as const } : {};
  return { ...usage, model, costUsd: estimateCostUsd(model, usage, billing), ...lane, ...ttl };
}

/** What a recorded call would have cost on demand (the same tokens, the default cache TTL). */
export function onDemandCostUsd(call: CallUsage): number {
  if (call.lane !== 'batch') return call.costUsd;
  return estimateCostUsd(call.model, call);
}

export interface UsageTotals {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
}

export function sumUsage(calls: ReadonlyArray<CallUsage | undefined>): UsageTotals {
  const total: UsageTotals = {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    costUsd: 0,
  };
  for (const call of calls) {
    if (!call) continue;
    total.inputTokens += call.inputTokens;
    total.outputTokens += call.outputTokens;
    total.cacheReadTokens += call.cacheReadTokens;
    total.cacheWriteTokens += call.cacheWriteTokens;
    total.costUsd += call.costUsd;
  }
  total.costUsd = Math.round(total.costUsd * 1_000_000) / 1_000_000;
  return total;
}

/** Several calls of one role recorded as one (a plan and its repairs), keeping the batch lane's marks. */
export function mergeCalls(model: string, calls: readonly CallUsage[]): CallUsage {
  const lane =
    calls.length > 0 && calls.every((call) => call.lane === 'batch') ? { lane: 'batch' as const } : {};
  const ttl = calls.some((call) => call.cacheTtl === '1h') ? { cacheTtl: '1h' as const } : {};
  return { ...sumUsage(calls), model, ...lane, ...ttl };
}

/** `sumUsage`, plus what the same calls would have cost on demand. */
export function sumUsageWithOnDemand(
  calls: ReadonlyArray<CallUsage | undefined>,
): UsageTotals & { onDemandCostUsd: number } {
  const onDemand = calls.reduce((sum, call) => sum + (call ? onDemandCostUsd(call) : 0), 0);
  return { ...sumUsage(calls), onDemandCostUsd: Math.round(onDemand * 1_000_000) / 1_000_000 };
}
