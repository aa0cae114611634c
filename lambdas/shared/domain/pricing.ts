import type { CallUsage, Usage } from './schemas';

/** USD per million tokens. Estimates for reporting only: check the provider's price list before budgeting. */
export interface ModelPrice {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

const price = (input: number, output: number): ModelPrice => ({
  input,
  output,
  cacheRead: input * 0.1,
  cacheWrite: input * 1.25,
});

/** Matched by model family, so dated and versioned ids share one row. */
export const MODEL_PRICES: ReadonlyArray<{ family: RegExp; price: ModelPrice }> = [
  { family: /haiku/, price: price(1, 5) },
  { family: /sonnet/, price: price(3, 15) },
  { family: /opus/, price: price(5, 25) },
];

export function priceOf(model: string): ModelPrice | undefined {
  return MODEL_PRICES.find((row) => row.family.test(model))?.price;
}

export function estimateCostUsd(model: string, usage: Usage): number {
  const rates = priceOf(model);
  if (!rates) return 0;
  const micro =
    usage.inputTokens * rates.input +
    usage.outputTokens * rates.output +
    usage.cacheReadTokens * rates.cacheRead +
    usage.cacheWriteTokens * rates.cacheWrite;
  return Math.round(micro) / 1_000_000;
}

export function priced(model: string, usage: Usage): CallUsage {
  return { ...usage, model, costUsd: estimateCostUsd(model, usage) };
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
