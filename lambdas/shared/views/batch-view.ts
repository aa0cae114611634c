import type { BatchCounts, BatchRunRecord, BatchRunWithItems, RunUsage } from '../storage/batch-repository';
import type { BatchItemStatus, BatchRunStatus, ModelCalls } from '../domain/batch-schemas';
import type { ErrorSummary } from '../domain/errors';
import { fromMicroUsd } from '../domain/budget';

/** A batch run as the API returns it and `npm run batch -- --json` prints it. */
export interface BatchRunView {
  runId: string;
  batchName: string;
  status: BatchRunStatus;
  trigger: string;
  /** How the run's model calls were made: `on-demand` or `batch` (the Message Batches lane). */
  modelCalls: ModelCalls;
  itemCount: number;
  /** Items by status; complete once the run has ended. */
  counts: BatchCounts;
  /**
   * The finished items' model usage summed: `costUsd` at the rate paid (the batch rate in the batch
   * lane), `onDemandCostUsd` what the same tokens cost on demand.
   */
  usage: RunUsage;
  /** Items whose job's plan waits for a person's approval now (0 once the run has ended). */
  awaitingApproval: number;
  /**
   * The run's ceilings and what its jobs have committed against them (spent plus held by calls in
   * flight and synthesis reservations); null for a run without a budget.
   */
  budget: { maxCostUsd: number | null; maxOutputTokens: number | null; committedUsd: number } | null;
  items: {
    index: number;
    jobId: string;
    task: string;
    status: BatchItemStatus;
    error: ErrorSummary | null;
    usage: RunUsage | null;
  }[];
  error: ErrorSummary | null;
  executionArn: string | null;
  createdAt: string;
  updatedAt: string;
}

export function countByStatus(statuses: readonly string[]): BatchCounts {
  const counts: BatchCounts = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

export const NO_USAGE: RunUsage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUsd: 0,
  onDemandCostUsd: 0,
};

const micro = (usd: number) => Math.round(usd * 1_000_000) / 1_000_000;

export function sumRunUsage(usages: ReadonlyArray<RunUsage | undefined>): RunUsage {
  const total = { ...NO_USAGE };
  for (const usage of usages) {
    if (!usage) continue;
    total.inputTokens += usage.inputTokens;
    total.outputTokens += usage.outputTokens;
    total.cacheReadTokens += usage.cacheReadTokens;
    total.cacheWriteTokens += usage.cacheWriteTokens;
    total.costUsd += usage.costUsd;
    total.onDemandCostUsd += usage.onDemandCostUsd;
  }
  return { ...total, costUsd: micro(total.costUsd), onDemandCostUsd: micro(total.onDemandCostUsd) };
}

/**
 * `jobStatuses`: the current status of the items' jobs that have not finished, by job id (the
 * items record a job's status only once it has ended), so a run can say how many await approval.
 */
export function toBatchRunView(
  { run, items }: BatchRunWithItems,
  jobStatuses: ReadonlyMap<string, string> = new Map(),
): BatchRunView {
  return {
    ...toBatchRunSummary(run),
    awaitingApproval:
      run.status === 'RUNNING'
        ? items.filter((item) => jobStatuses.get(item.jobId) === 'AWAITING_APPROVAL').length
        : 0,
    // While the run is going, count what the items say so far.
    counts: run.counts ?? countByStatus(items.map((item) => item.status)),
    usage: sumRunUsage(items.map((item) => item.usage)),
    items: items.map((item) => ({
      index: item.index,
      jobId: item.jobId,
      task: item.task,
      status: item.status,
      error: item.error ?? null,
      usage: item.usage ?? null,
    })),
  };
}

/** A run without its items, for listings. */
export function toBatchRunSummary(
  run: BatchRunRecord,
): Omit<BatchRunView, 'items' | 'usage' | 'awaitingApproval'> {
  return {
    runId: run.runId,
    batchName: run.batchName,
    status: run.status,
    trigger: run.trigger,
    modelCalls: run.modelCalls ?? 'on-demand',
    itemCount: run.itemCount,
    budget: run.budget
      ? {
          maxCostUsd: run.budget.maxCostUsd ?? null,
          maxOutputTokens: run.budget.maxOutputTokens ?? null,
          committedUsd: fromMicroUsd(run.budgetCommittedMicroUsd ?? 0),
        }
      : null,
    counts: run.counts ?? {},
    error: run.error ?? null,
    executionArn: run.executionArn ?? null,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
  };
}
