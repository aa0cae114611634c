import type { BatchCounts, BatchRunRecord, BatchRunWithItems } from '../storage/batch-repository';
import type { BatchItemStatus, BatchRunStatus } from '../domain/batch-schemas';
import type { ErrorSummary } from '../domain/errors';

/** A batch run as the API returns it and `npm run batch -- --json` prints it. */
export interface BatchRunView {
  runId: string;
  batchName: string;
  status: BatchRunStatus;
  trigger: string;
  itemCount: number;
  /** Items by status; complete once the run has ended. */
  counts: BatchCounts;
  items: {
    index: number;
    jobId: string;
    task: string;
    status: BatchItemStatus;
    error: ErrorSummary | null;
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

export function toBatchRunView({ run, items }: BatchRunWithItems): BatchRunView {
  return {
    ...toBatchRunSummary(run),
    // While the run is going, count what the items say so far.
    counts: run.counts ?? countByStatus(items.map((item) => item.status)),
    items: items.map((item) => ({
      index: item.index,
      jobId: item.jobId,
      task: item.task,
      status: item.status,
      error: item.error ?? null,
    })),
  };
}

/** A run without its items, for listings. */
export function toBatchRunSummary(run: BatchRunRecord): Omit<BatchRunView, 'items'> {
  return {
    runId: run.runId,
    batchName: run.batchName,
    status: run.status,
    trigger: run.trigger,
    itemCount: run.itemCount,
    counts: run.counts ?? {},
    error: run.error ?? null,
    executionArn: run.executionArn ?? null,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
  };
}
