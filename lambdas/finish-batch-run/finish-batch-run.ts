import * as z from 'zod';
import type { BatchCounts, BatchRepository } from '../shared/storage/batch-repository';
import { BatchRunIdSchema, type BatchRunStatus } from '../shared/domain/batch-schemas';
import { errorFromCatch } from '../shared/domain/errors';
import type { JobRepository } from '../shared/storage/job-repository';
import { CaughtErrorSchema } from '../shared/domain/schemas';

export const FinishBatchRunEventSchema = z.object({
  runId: BatchRunIdSchema,
  /** Present when the Map itself failed (never because of one item: those are caught per item). */
  error: CaughtErrorSchema.optional(),
});
export type FinishBatchRunEvent = z.infer<typeof FinishBatchRunEventSchema>;

export interface FinishBatchRunResult {
  runId: string;
  status: Exclude<BatchRunStatus, 'RUNNING'>;
  itemCount: number;
  counts: BatchCounts;
}

/**
 * Ends the run with counts by job status. Items still PENDING (only if the Map or the batch lane
 * failed) are failed, with their jobs and those jobs' unfinished subtasks, so the run, every job and
 * every subtask end in a terminal status.
 */
export async function finishBatchRun(
  event: FinishBatchRunEvent,
  deps: {
    batches: Pick<BatchRepository, 'finishRun' | 'getRunWithItems' | 'recordItemOutcome'>;
    jobs: Pick<JobRepository, 'failJob' | 'failUnfinishedSubtasks'>;
  },
): Promise<FinishBatchRunResult> {
  const stored = await deps.batches.getRunWithItems(event.runId);
  if (!stored) throw new Error(`No batch run ${event.runId}`);
  const error = event.error ? errorFromCatch(event.error) : undefined;
  const counts: BatchCounts = {};
  for (const item of stored.items) {
    let status = item.status;
    if (status === 'PENDING') {
      const reason = error ?? { name: 'BatchInterrupted', message: 'The batch ended before this item ran' };
      await deps.jobs.failJob(item.jobId, reason);
      // A batch-lane job may have stopped mid-way: none of its subtasks is left looking alive.
      await deps.jobs.failUnfinishedSubtasks(item.jobId, reason);
      await deps.batches.recordItemOutcome(event.runId, item.index, { status: 'FAILED', error: reason });
      status = 'FAILED';
    }
    counts[status] = (counts[status] ?? 0) + 1;
  }
  const status = error ? 'FAILED' : 'COMPLETED';
  await deps.batches.finishRun(event.runId, { status, counts, ...(error ? { error } : {}) });
  return { runId: event.runId, status, itemCount: stored.items.length, counts };
}
