import * as z from 'zod';
import type { PolicyErrorName } from './error-policy';
import { priceOf } from './pricing';

/** `"approval"` of a job request: who lets the workers start once the plan is known. */
export const ApprovalPolicySchema = z.union([
  z.enum(['none', 'required']),
  z
    .object({
      autoApproveUnderUsd: z
        .number()
        .positive('must be more than 0')
        .max(10_000, 'must be at most 10000')
        .describe('Approve on its own when the estimate is under this many USD; ask a person otherwise'),
    })
    .strict(),
]);
export type ApprovalPolicy = z.infer<typeof ApprovalPolicySchema>;

/** `"budget"` of a job request: ceilings the job never crosses. */
export const BudgetSchema = z
  .object({
    maxCostUsd: z
      .number()
      .positive('must be more than 0')
      .max(10_000, 'must be at most 10000')
      .optional()
      .describe('No model call starts whose worst case would take the job over this many USD'),
    maxOutputTokens: z
      .number()
      .int('must be a whole number')
      .positive('must be more than 0')
      .max(10_000_000)
      .optional()
      .describe('No model call starts whose max_tokens would take the job over this many output tokens'),
  })
  .strict();
export type Budget = z.infer<typeof BudgetSchema>;

/** A batch run's `"budget"`, shared by all its jobs: the same ceilings, over the run's spend. */
export const RunBudgetSchema = BudgetSchema.describe(
  "Ceilings on the whole run's spend: no job of the run starts a model call whose worst case would take the run over them",
);

/** The run ceiling a job of a budgeted batch run carries: its run's id and the run's ceilings. */
export const RunCeilingSchema = BudgetSchema.extend({ runId: z.string().min(1) });
export type RunCeiling = z.infer<typeof RunCeilingSchema>;

/**
 * Every ceiling a job's model calls must stay under: its own budget (`job`) and, for a job of a
 * budgeted batch run, the run's (`run`). Each is a ledger of spent-plus-held amounts of its own.
 */
export interface Ceilings {
  job?: Budget;
  run?: RunCeiling;
}

/** An upper bound for some model calls: tokens, and USD at the price table. */
export const EstimateSchema = z.object({
  costUsd: z.number().nonnegative(),
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
});
export type Estimate = z.infer<typeof EstimateSchema>;

/**
 * A prompt's tokens are bounded by its UTF-8 bytes (no tokenizer maps less than a byte to a token),
 * plus this allowance for what the API adds around a request (roles, the structured-output frame).
 */
export const CALL_OVERHEAD_TOKENS = 512;

/** The worst case of one model call, before it is made. */
export interface WorstCase {
  model: string;
  inputTokens: number;
  outputTokens: number;
  /** In millionths of a USD, rounded up, so the ledger counts in integers. */
  microUsd: number;
}

/** Tokens the given texts can take at most, with the per-call allowance. */
export function inputTokenBound(texts: readonly string[], extraTokens = 0): number {
  return (
    texts.reduce((sum, text) => sum + Buffer.byteLength(text, 'utf8'), 0) + CALL_OVERHEAD_TOKENS + extraTokens
  );
}

/**
 * A call's worst case at the price table: every input token at the dearest input rate (a prompt-cache
 * write costs more than fresh input), and all of `max_tokens` as output. A model the table does not
 * know costs nothing there, as in the job's usage.
 */
export function worstCase(model: string, inputTokens: number, maxTokens: number): WorstCase {
  const price = priceOf(model);
  const inputRate = price ? Math.max(price.input, price.cacheWrite) : 0;
  const microUsd = Math.ceil(inputTokens * inputRate + maxTokens * (price?.output ?? 0));
  return { model, inputTokens, outputTokens: maxTokens, microUsd };
}

export const toMicroUsd = (usd: number): number => Math.floor(usd * 1_000_000 + 1e-6);
export const fromMicroUsd = (micro: number): number => Math.round(micro) / 1_000_000;

/** The calls summed as an estimate of the job (spent calls may be given as their recorded usage). */
export function sumEstimate(
  calls: ReadonlyArray<{ inputTokens: number; outputTokens: number; microUsd: number }>,
): Estimate {
  let micro = 0;
  let inputTokens = 0;
  let outputTokens = 0;
  for (const call of calls) {
    micro += call.microUsd;
    inputTokens += call.inputTokens;
    outputTokens += call.outputTokens;
  }
  return { costUsd: fromMicroUsd(micro), inputTokens, outputTokens };
}

/** What the job's ceilings leave for one more call, given what is committed (spent and held). */
export interface BudgetLedger {
  committedMicroUsd: number;
  committedOutputTokens: number;
}

/** True when `call` fits under `budget` on top of `ledger`. */
export function affordable(
  budget: Budget,
  ledger: BudgetLedger,
  call: Pick<WorstCase, 'microUsd' | 'outputTokens'>,
): boolean {
  if (
    budget.maxCostUsd !== undefined &&
    ledger.committedMicroUsd + call.microUsd > toMicroUsd(budget.maxCostUsd)
  )
    return false;
  if (
    budget.maxOutputTokens !== undefined &&
    ledger.committedOutputTokens + call.outputTokens > budget.maxOutputTokens
  )
    return false;
  return true;
}

/** Whether a budget sets any ceiling at all. */
export const isBudgeted = <B extends Budget>(budget: B | undefined): budget is B =>
  budget !== undefined && (budget.maxCostUsd !== undefined || budget.maxOutputTokens !== undefined);

/** The ceilings a job's calls are held against; undefined when it has none (no ledger is kept). */
export function ceilingsOf(job: {
  budget?: Budget | undefined;
  runBudget?: RunCeiling | undefined;
}): Ceilings | undefined {
  const ceilings: Ceilings = {
    ...(isBudgeted(job.budget) ? { job: job.budget } : {}),
    ...(isBudgeted(job.runBudget) ? { run: job.runBudget } : {}),
  };
  return ceilings.job || ceilings.run ? ceilings : undefined;
}

/** "at most $0.12": a short human form of a USD amount, rounded up to the cent below a dollar's thousandth. */
export function formatUsd(usd: number): string {
  if (usd >= 0.01) return `$${(Math.ceil(usd * 100) / 100).toFixed(2)}`;
  return `$${(Math.ceil(usd * 10_000) / 10_000).toFixed(4)}`;
}

/** Whether the approval policy asks a person, given the job's estimate. */
export function needsApproval(policy: ApprovalPolicy, estimate: Estimate): boolean {
  if (policy === 'none') return false;
  if (policy === 'required') return true;
  return estimate.costUsd >= policy.autoApproveUnderUsd;
}

const describeCeilings = (budget: Budget): string =>
  [
    ...(budget.maxCostUsd !== undefined ? [`maxCostUsd ${budget.maxCostUsd}`] : []),
    ...(budget.maxOutputTokens !== undefined ? [`maxOutputTokens ${budget.maxOutputTokens}`] : []),
  ].join(', ');

/**
 * Why a call was not made, for the BudgetExceeded error: `over` is the ledger that refused it, the
 * job's own (a plain Budget is the job's) or its batch run's.
 */
export function overBudgetMessage(
  what: string,
  call: Pick<WorstCase, 'microUsd' | 'outputTokens'>,
  over: Budget | { run: RunCeiling },
): string {
  const whose =
    'run' in over
      ? `its batch run ${over.run.runId} over the run's budget (${describeCeilings(over.run)})`
      : `the job over its budget (${describeCeilings(over)})`;
  return `Not run: ${what}'s worst case (${formatUsd(fromMicroUsd(call.microUsd))}, ${call.outputTokens} output tokens) would take ${whose} on top of what is spent and held`;
}

/** Which ledger refused a hold (`job` or `run`); the call is not made. */
export type LedgerRefusal = 'job' | 'run';

/** The BudgetExceeded message for a hold `ceilings` refused in the ledger named by `refusal`. */
export function refusalMessage(
  what: string,
  call: Pick<WorstCase, 'microUsd' | 'outputTokens'>,
  ceilings: Ceilings,
  refusal: LedgerRefusal,
): string {
  if (refusal === 'run' && ceilings.run) return overBudgetMessage(what, call, { run: ceilings.run });
  return overBudgetMessage(what, call, ceilings.job ?? {});
}

/** Errors after which the provider billed nothing, so a call's reservation is given back. */
const NOT_BILLED: ReadonlySet<string> = new Set([
  ...([
    'ModelCapacityExceeded',
    'ModelRateLimited',
    'ModelOverloaded',
    'ModelRequestRejected',
  ] satisfies PolicyErrorName[]),
  // The batch lane took the request for its next Message Batch: billed, if at all, when it is answered.
  'ModelCallDeferred',
]);
export const wasNotBilled = (error: unknown): boolean => error instanceof Error && NOT_BILLED.has(error.name);
