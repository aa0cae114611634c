import {
  estimateCostUsd,
  MODEL_PRICES,
  type ModelPrice,
  onDemandCostUsd,
  priced,
  priceOf,
} from '../../../../../lambdas/shared/domain/pricing';

const TOKEN_KINDS = ['input', 'output', 'cacheRead', 'cacheWrite', 'cacheWrite1h'] as const;

/** One call of each token kind, for the cost examples below. */
const usage = { inputTokens: 1_000, outputTokens: 2_000, cacheReadTokens: 10_000, cacheWriteTokens: 4_000 };

describe('the price table', () => {
  it.each(MODEL_PRICES.map((row) => [row.family.source, row] as const))(
    'charges half of every on-demand token rate at the batch rate (%s)',
    (_family, { price, batch }) => {
      for (const kind of TOKEN_KINDS) expect(batch[kind]).toBeCloseTo(price[kind] / 2, 10);
    },
  );

  it.each(
    MODEL_PRICES.flatMap((row) => [
      [row.family.source, 'on-demand', row.price],
      [row.family.source, 'batch', row.batch],
    ]) as [string, string, ModelPrice][],
  )(
    'prices a cache read at 0.1×, a 5-minute cache write at 1.25× and a 1-hour one at 2× the input rate (%s, %s)',
    (_family, _lane, rates) => {
      expect(rates.cacheRead).toBeCloseTo(rates.input * 0.1, 10);
      expect(rates.cacheWrite).toBeCloseTo(rates.input * 1.25, 10);
      expect(rates.cacheWrite1h).toBeCloseTo(rates.input * 2, 10);
    },
  );

  it('gives Sonnet $3 and $15 per million input and output tokens on demand, $1.50 and $7.50 in a batch', () => {
    expect(priceOf('claude-sonnet-4-5')).toEqual({
      input: 3,
      output: 15,
      cacheRead: expect.closeTo(0.3, 10),
      cacheWrite: 3.75,
      cacheWrite1h: 6,
    });
    expect(priceOf('claude-sonnet-4-5', 'batch')).toEqual({
      input: 1.5,
      output: 7.5,
      cacheRead: expect.closeTo(0.15, 10),
      cacheWrite: 1.875,
      cacheWrite1h: 3,
    });
  });

  it('matches dated and versioned ids by family, and knows no price for another model', () => {
    expect(priceOf('claude-3-5-haiku-20241022')?.input).toBe(1);
    expect(priceOf('anthropic.claude-opus-4-1-20250805-v1:0', 'batch')?.output).toBe(12.5);
    expect(priceOf('gpt-4o')).toBeUndefined();
    expect(estimateCostUsd('gpt-4o', usage, { lane: 'batch' })).toBe(0);
  });
});

describe("a call's cost", () => {
  it('adds every token kind at its rate, the cache writes at the 5-minute rate unless the TTL is 1 hour', () => {
    // Sonnet on demand: 1,000 × $3 + 2,000 × $15 + 10,000 × $0.30 + 4,000 × $3.75 (or × $6), per million.
    expect(estimateCostUsd('claude-sonnet-4-5', usage)).toBe(0.051);
    expect(estimateCostUsd('claude-sonnet-4-5', usage, { cacheTtl: '1h' })).toBe(0.06);
  });

  it('costs half as much in a batch, whichever the cache TTL', () => {
    expect(estimateCostUsd('claude-sonnet-4-5', usage, { lane: 'batch' })).toBe(0.0255);
    expect(estimateCostUsd('claude-sonnet-4-5', usage, { lane: 'batch', cacheTtl: '1h' })).toBe(0.03);
  });

  it('is recorded with the lane and the TTL of a batch call, and without either on demand', () => {
    expect(priced('claude-sonnet-4-5', usage, { lane: 'batch', cacheTtl: '1h' })).toEqual({
      ...usage,
      model: 'claude-sonnet-4-5',
      costUsd: 0.03,
      lane: 'batch',
      cacheTtl: '1h',
    });
    expect(priced('claude-sonnet-4-5', usage)).toEqual({
      ...usage,
      model: 'claude-sonnet-4-5',
      costUsd: 0.051,
    });
  });

  it('tells what a batch call would have cost on demand: the same tokens, the default cache TTL', () => {
    const batchCall = priced('claude-sonnet-4-5', usage, { lane: 'batch', cacheTtl: '1h' });
    const onDemandCall = priced('claude-sonnet-4-5', usage, { cacheTtl: '1h' });

    expect(onDemandCostUsd(batchCall)).toBe(0.051);
    expect(onDemandCostUsd(onDemandCall)).toBe(0.06);
  });
});
