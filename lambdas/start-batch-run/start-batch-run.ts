import { createHash } from 'node:crypto';
import * as z from 'zod';
import type { BatchRepository } from '../shared/storage/batch-repository';
import { type BatchItemLists, type BatchItemRef, batchItemsKey } from '../shared/batches/item-lists';
import {
  type BatchDefinition,
  batchJobId,
  BatchExecutionInputSchema,
  batchLaneConflicts,
  type ModelCalls,
  resolveBatchItems,
} from '../shared/domain/batch-schemas';
import { BatchLaneUnavailable, UnknownBatch } from '../shared/domain/errors';
import type { JobRequest } from '../shared/domain/schemas';
import { isBudgeted } from '../shared/domain/budget';
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
  /** The state machine's lane: `batch` runs the items phase by phase through Message Batches. */
  modelCalls: ModelCalls;
} & ({ items: BatchItemRef[] } | { itemsKey: string });

export interface StartBatchRunDeps {
  batches: Pick<BatchRepository, 'createRun' | 'getRunRequests' | 'recordModelCalls'>;
  jobs: Pick<JobRepository, 'createJob'>;
  /** The batch definitions bundled with the function, for a run that names one (a schedule). */
  definitions: () => readonly BatchDefinition[];
  /** Set when the batch runs a Distributed Map: the item list goes there instead of into the state. */
  itemLists?: BatchItemLists;
  /**
   * False when the deployment has no Message Batches lane (provider `bedrock`): a run asking for it
   * fails with BatchLaneUnavailable instead of running another way than it asked.
   * @default true
   */
  batchLane?: boolean;
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

const JOB_WRITE_CONCURRENCY = 25;

/**
 * The run's requests, never carried by the execution input unless a direct StartExecution put them
 * there: those recorded with the run (the API, the CLI), else the bundled definition's.
 */
async function requestsFor(
  event: StartBatchRunEvent,
  runId: string,
  deps: Pick<StartBatchRunDeps, 'batches' | 'definitions'>,
): Promise<JobRequest[]> {
  if (event.input.items) return event.input.items;
  const recorded = await deps.batches.getRunRequests(runId);
  if (recorded) return recorded;
  const definitions = deps.definitions();
  const definition = definitions.find((candidate) => candidate.name === event.input.batchName);
  if (!definition) {
    const known = definitions.map((candidate) => candidate.name).join(', ') || 'none';
    throw new UnknownBatch(
      `Run ${runId} names batch "${event.input.batchName}", which is neither recorded with its requests nor a bundled definition (known: ${known})`,
    );
  }
  return resolveBatchItems(definition);
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
  if (event.input.modelCalls === 'batch' && deps.batchLane === false) {
    throw new BatchLaneUnavailable(
      `Run ${runId} asks for modelCalls "batch", but this deployment has no Message Batches lane (provider "bedrock"); run it with modelCalls "on-demand"`,
    );
  }
  const requests = await requestsFor(event, runId, deps);
  const { modelCalls, batchDeadlineMinutes, budget } = event.input;
  const conflicts = batchLaneConflicts({ modelCalls, budget, items: requests });
  if (conflicts.length > 0) {
    throw new BatchLaneUnavailable(
      `Run ${runId} asks for modelCalls "batch" with ${conflicts.map((conflict) => `${conflict.path.join('.')}, which ${conflict.message}`).join('; ')}`,
    );
  }
  // Every job of a budgeted run carries the run's ceilings: its calls are held in the run's ledger too.
  const runBudget = isBudgeted(budget) ? { runId, ...budget } : undefined;
  const items = requests.map((request, index) => ({
    index,
    jobId: batchJobId(runId, index),
    request,
  }));
  await deps.batches.createRun({
    runId,
    batchName: event.input.batchName,
    trigger: event.input.trigger,
    executionArn: event.executionArn,
    items: items.map(({ index, jobId, request }) => ({ index, jobId, task: request.task, request })),
  });
  // A job that already exists (a retried start) is left as it is.
  for (let start = 0; start < items.length; start += JOB_WRITE_CONCURRENCY) {
    await Promise.all(
      items
        .slice(start, start + JOB_WRITE_CONCURRENCY)
        .map(({ jobId, request }) =>
          deps.jobs.createJob({ jobId, status: 'QUEUED', ...request, ...(runBudget ? { runBudget } : {}) }),
        ),
    );
  }
  // The deadline counts from the execution's start, so a retried start keeps it.
  const deadlineAt =
    modelCalls === 'batch'
      ? new Date(Date.parse(event.executionStartTime) + batchDeadlineMinutes * 60_000).toISOString()
      : undefined;
  await deps.batches.recordModelCalls(runId, modelCalls, deadlineAt, runBudget ? budget : undefined);
  const refs = items.map(({ index, jobId }) => ({ index, jobId }));
  const run = {
    runId,
    batchName: event.input.batchName,
    maxConcurrency: event.input.maxConcurrency,
    modelCalls,
  };
  if (!deps.itemLists) return { ...run, items: refs };
  const itemsKey = batchItemsKey(runId);
  await deps.itemLists.put(itemsKey, refs);
  return { ...run, itemsKey };
}
