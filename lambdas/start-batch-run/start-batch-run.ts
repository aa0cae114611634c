import { createHash } from 'node:crypto';
import * as z from 'zod';
import type { BatchRepository } from '../shared/storage/batch-repository';
import { type BatchItemLists, type BatchItemRef, batchItemsKey } from '../shared/batches/item-lists';
import { batchJobId, BatchExecutionInputSchema } from '../shared/domain/batch-schemas';
import type { JobRepository } from '../shared/storage/job-repository';

export const StartBatchRunEventSchema = z.object({
  input: BatchExecutionInputSchema,
  executionArn: z.string().min(1),
  executionName: z.string().min(1),
  executionStartTime: z.iso.datetime({ offset: true }),
});
export type StartBatchRunEvent = z.infer<typeof StartBatchRunEventSchema>;

/**
 * Only ids go back into the state: the inline Map iterates over `items`; the Distributed Map reads the
 * same list from the object at `itemsKey`.
 */
export type StartBatchRunResult = {
  runId: string;
  batchName: string;
  maxConcurrency: number;
} & ({ items: BatchItemRef[] } | { itemsKey: string });

export interface StartBatchRunDeps {
  batches: Pick<BatchRepository, 'createRun'>;
  jobs: Pick<JobRepository, 'createJob'>;
  /** Set when the batch runs a Distributed Map: the item list goes there instead of into the state. */
  itemLists?: BatchItemLists;
}

/**
 * A scheduled run has no run id of its own: derive one from the execution, so a retried
 * StartBatchRun lands on the same run (and the same job ids).
 */
export function runIdFor(event: {
  input: Pick<StartBatchRunEvent['input'], 'batchName' | 'runId'>;
  executionArn: string;
  executionStartTime: string;
}): string {
  if (event.input.runId) return event.input.runId;
  const stamp = event.executionStartTime.slice(0, 16).replace(/[-:T]/g, '');
  const suffix = createHash('sha256').update(event.executionArn).digest('hex').slice(0, 6);
  return `${event.input.batchName}-${stamp}-${suffix}`;
}

/**
 * Records the run, its items (PENDING) and one QUEUED job per item; returns the ids the Map needs, or
 * with `itemLists`, writes them there and returns the key.
 */
export async function startBatchRun(
  event: StartBatchRunEvent,
  deps: StartBatchRunDeps,
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
  const refs = items.map(({ index, jobId }) => ({ index, jobId }));
  const run = { runId, batchName: event.input.batchName, maxConcurrency: event.input.maxConcurrency };
  if (!deps.itemLists) return { ...run, items: refs };
  const itemsKey = batchItemsKey(runId);
  await deps.itemLists.put(itemsKey, refs);
  return { ...run, itemsKey };
}
