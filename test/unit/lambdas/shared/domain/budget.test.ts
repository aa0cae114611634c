import {
  affordable,
  BudgetSchema,
  formatUsd,
  inputTokenBound,
  needsApproval,
  worstCase,
} from '../../../../../lambdas/shared/domain/budget';

describe("a call's worst case", () => {
  it('prices every input token at the dearest input rate (a cache write) and all of max_tokens as output', () => {
    // Sonnet: $3/M input, so $3.75/M for a cache write; $15/M output.
    expect(worstCase('claude-sonnet-5-5', 1_000, 2_000)).toEqual({
      model: 'claude-sonnet-5-5',
      inputTokens: 1_000,
      outputTokens: 2_000,
      microUsd: 3_750 + 30_000,
    });
  });

  it('bounds a prompt by its UTF-8 bytes plus a fixed allowance per call', () => {
    expect(inputTokenBound(['abc', 'é'])).toBe(3 + 2 + 512);
  });

  it('costs nothing for a model the price table does not know, as in the usage', () => {
    expect(worstCase('unknown-model', 10, 10).microUsd).toBe(0);
  });
});

describe('what a budget affords', () => {
  it('fits a call exactly up to the ceiling, and not one token or micro-dollar past it', () => {
    const ledger = { committedMicroUsd: 900_000, committedOutputTokens: 100 };
    expect(affordable({ maxCostUsd: 1 }, ledger, { microUsd: 100_000, outputTokens: 0 })).toBe(true);
    expect(affordable({ maxCostUsd: 1 }, ledger, { microUsd: 100_001, outputTokens: 0 })).toBe(false);
    expect(affordable({ maxOutputTokens: 200 }, ledger, { microUsd: 0, outputTokens: 101 })).toBe(false);
  });

  it('refuses ceilings that are not positive, naming the field', () => {
    const parsed = BudgetSchema.safeParse({ maxCostUsd: 0, maxOutputTokens: 1.5 });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((issue) => issue.path.join('.'))).toEqual([
      'maxCostUsd',
      'maxOutputTokens',
    ]);
  });
});

describe('the approval policy', () => {
  const estimate = { costUsd: 0.12, inputTokens: 1, outputTokens: 1 };
  it.each([
    ['none', false],
    ['required', true],
    [{ autoApproveUnderUsd: 0.5 }, false],
    [{ autoApproveUnderUsd: 0.12 }, true],
  ] as const)('%j asks a person: %s', (policy, asks) => {
    expect(needsApproval(policy, estimate)).toBe(asks);
  });

  it('shows amounts rounded up, to the cent from a cent on', () => {
    expect(formatUsd(0.1134)).toBe('$0.12');
    expect(formatUsd(0.00412)).toBe('$0.0042');
  });
});
