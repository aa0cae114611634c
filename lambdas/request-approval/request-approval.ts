import * as z from 'zod';
import { JobIdSchema } from '../shared/domain/schemas';
import type { JobRepository } from '../shared/storage/job-repository';

/** AwaitApproval's payload: the job, and the task token its decision answers. */
export const RequestApprovalEventSchema = z.object({
  jobId: JobIdSchema,
  taskToken: z.string().min(1).max(8_192),
});
export type RequestApprovalEvent = z.infer<typeof RequestApprovalEventSchema>;

export interface RequestApprovalResult {
  jobId: string;
  /** False when the job had ended meanwhile (a cancel): nobody will be asked. */
  awaiting: boolean;
}

/**
 * Keeps the task token with the job, which waits as AWAITING_APPROVAL until
 * `POST /jobs/{jobId}/approval` answers it. The token stays in the table: no view shows it.
 */
export async function requestApproval(
  event: RequestApprovalEvent,
  repository: Pick<JobRepository, 'awaitApproval'>,
): Promise<RequestApprovalResult> {
  const awaiting = await repository.awaitApproval(event.jobId, event.taskToken);
  return { jobId: event.jobId, awaiting };
}
