import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { BatchRepository } from '../shared/batch-repository';
import { batchJobId, BatchExecutionInputSchema } from '../shared/batch-schemas';
import type { JobRepository } from '../shared/job-repository';

export const StartBatchRunEventSchema = z.object({
  input: BatchExecutionInputSchema,
  executionArn: z.string().min(1),
  executionName: z.string().min(1),
  executionStartTime: z.iso.datetime({ offset: true }),
});
export type StartBatchRunEvent = z.infer<typeof StartBatchRunEventSchema>;

/** Only ids go back into the state: the Map iterates over these. */
export interface StartBatchRunResult {
  runId: string;
  batchName: string;
  maxConcurrency: number;
  items: { index: number; jobId: string }[];
}

/**
 * A scheduled run has no run id of its own: derive one from the execution, so a retried
 * StartBatchRun lands on the same run (and the same job ids).
 */
export function runIdFor(event: StartBatchRunEvent): string {
  if (event.input.runId) return event.input.runId;
  const stamp = event.executionStartTime.slice(0, 16).replace(/[-:T]/g, '');
  const suffix = createHash('sha256').update(event.executionArn).digest('hex').slice(0, 6);
  return `${event.input.batchName}-${stamp}-${suffix}`;
}

/** Records the run, its items (PENDING) and one QUEUED job per item; returns the ids the Map needs. */
export async function startBatchRun(
  event: StartBatchRunEvent,
  deps: { batches: BatchRepository; jobs: JobRepository },
): Promise<StartBatchRunResult> {
  const runId = runIdFor(event);
  const items = event.input.items.map((request, index) => ({
    index,
    jobId: batchJobId(runId, index),
    request,
  }));
  await deps.batches.createRun({
    runId,
    batchName: event.input.batchName,
    trigger: event.input.trigger,
    executionArn: event.executionArn,
    items: items.map(({ index, jobId, request }) => ({ index, jobId, task: request.task })),
  });
  // A job that already exists (a retried start) is left as it is.
  for (const { jobId, request } of items) await deps.jobs.createJob({ jobId, status: 'QUEUED', ...request });
  return {
    runId,
    batchName: event.input.batchName,
    maxConcurrency: event.input.maxConcurrency,
    items: items.map(({ index, jobId }) => ({ index, jobId })),
  };
}
