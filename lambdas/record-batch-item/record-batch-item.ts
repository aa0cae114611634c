import * as z from 'zod';
import type { BatchRepository } from '../shared/storage/batch-repository';
import { BatchRunIdSchema } from '../shared/domain/batch-schemas';
import type { ErrorSummary } from '../shared/domain/errors';
import type { JobRepository, JobWithSubtasks } from '../shared/storage/job-repository';
import type { RunUsage } from '../shared/storage/batch-repository';
import { sumUsageWithOnDemand } from '../shared/domain/pricing';
import {
  CaughtErrorSchema,
  JobIdSchema,
  type JobStatus,
  TERMINAL_JOB_STATUSES,
} from '../shared/domain/schemas';

export const RecordBatchItemEventSchema = z.object({
  runId: BatchRunIdSchema,
  item: z.object({ index: z.number().int().nonnegative(), jobId: JobIdSchema }),
  /** Present when the child execution could not be started or did not succeed. */
  error: CaughtErrorSchema.optional(),
});
export type RecordBatchItemEvent = z.infer<typeof RecordBatchItemEventSchema>;

export interface RecordBatchItemResult {
  index: number;
  jobId: string;
  status: JobStatus;
}

/** What a `.sync:2` failure's Cause says, when it is the child's DescribeExecution output. */
function childFailure(caught: { Error?: string; Cause?: string }): ErrorSummary {
  const name = caught.Error ?? 'UnknownError';
  try {
    const described = z
      .object({ Error: z.string().optional(), Cause: z.string().optional() })
      .parse(JSON.parse(caught.Cause ?? ''));
    return { name: described.Error ?? name, message: described.Cause ?? name };
  } catch {
    return { name, message: caught.Cause || name };
  }
}

/** Every recorded call of a job summed, with what the same tokens cost on demand. */
export function jobUsage({ job, subtasks }: JobWithSubtasks): RunUsage {
  return sumUsageWithOnDemand([
    job.planUsage,
    ...subtasks.map((subtask) => subtask.usage),
    job.synthesisUsage,
  ]);
}

/**
 * Records the item's outcome (and its job's usage) from its job's record, the source of truth. A job that never reached a
 * terminal status (its execution was never started, or was stopped) is failed here, so none is left
 * looking alive.
 */
export async function recordBatchItem(
  event: RecordBatchItemEvent,
  deps: {
    batches: Pick<BatchRepository, 'recordItemOutcome'>;
    jobs: Pick<JobRepository, 'failJob' | 'getJobWithSubtasks'>;
  },
): Promise<RecordBatchItemResult> {
  const { index, jobId } = event.item;
  let stored = await deps.jobs.getJobWithSubtasks(jobId);
  if (!stored || !TERMINAL_JOB_STATUSES.includes(stored.job.status)) {
    const error = event.error
      ? childFailure(event.error)
      : { name: 'JobNotFinished', message: 'The job execution ended without recording a terminal status' };
    if (stored) await deps.jobs.failJob(jobId, error);
    stored = await deps.jobs.getJobWithSubtasks(jobId);
    if (!stored) {
      await deps.batches.recordItemOutcome(event.runId, index, { status: 'FAILED', error });
      return { index, jobId, status: 'FAILED' };
    }
  }
  const { job } = stored;
  await deps.batches.recordItemOutcome(event.runId, index, {
    status: job.status,
    ...(job.error ? { error: job.error } : {}),
    usage: jobUsage(stored),
  });
  return { index, jobId, status: job.status };
}
