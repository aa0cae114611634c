import * as z from 'zod';
import { errorFromCatch } from '../shared/domain/errors';
import type { JobRepository } from '../shared/storage/job-repository';
import { CaughtErrorSchema, JobIdSchema } from '../shared/domain/schemas';

export const MarkFailedEventSchema = z.object({ jobId: JobIdSchema, error: CaughtErrorSchema });
export type MarkFailedEvent = z.infer<typeof MarkFailedEventSchema>;

/** Passed to the JobFailed state, which fails the execution with the same error and cause. */
export interface MarkFailedResult {
  jobId: string;
  status: 'FAILED';
  error: string;
  cause: string;
}

/** Records FAILED and the cause on the job. Subtasks that succeeded keep their outputs. */
export async function markJobFailed(
  event: MarkFailedEvent,
  repository: Pick<JobRepository, 'failJob'>,
): Promise<MarkFailedResult> {
  const error = errorFromCatch(event.error);
  await repository.failJob(event.jobId, error);
  return { jobId: event.jobId, status: 'FAILED', error: error.name, cause: error.message };
}
