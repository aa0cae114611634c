import * as z from 'zod';
import { errorFromCatch } from '../shared/domain/errors';
import type { JobRepository } from '../shared/storage/job-repository';
import { CaughtErrorSchema, JobIdSchema, SubtaskIdSchema } from '../shared/domain/schemas';

export const RecordSubtaskFailureEventSchema = z.object({
  jobId: JobIdSchema,
  subtaskId: SubtaskIdSchema,
  error: CaughtErrorSchema,
});
export type RecordSubtaskFailureEvent = z.infer<typeof RecordSubtaskFailureEventSchema>;

export interface SubtaskFailureResult {
  subtaskId: string;
  status: 'FAILED' | 'SUCCEEDED';
  error: string;
}

/**
 * The Map's Catch target: records why a subtask failed for good, so the job goes on without it.
 * A subtask that had in fact succeeded (its output stored before the failure) keeps its success.
 */
export async function recordSubtaskFailure(
  event: RecordSubtaskFailureEvent,
  repository: Pick<JobRepository, 'failSubtask'>,
): Promise<SubtaskFailureResult> {
  const error = errorFromCatch(event.error);
  const recorded = await repository.failSubtask(event.jobId, event.subtaskId, error);
  return { subtaskId: event.subtaskId, status: recorded ? 'FAILED' : 'SUCCEEDED', error: error.name };
}
