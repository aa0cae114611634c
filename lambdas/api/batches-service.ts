import * as z from 'zod';
import type { BatchRepository } from '../shared/storage/batch-repository';
import type { ListCursor } from '../shared/storage/job-repository';
import type { BatchDefinition } from '../shared/domain/batch-schemas';
import {
  BATCH_LIMITS,
  batchJobId,
  batchLaneConflicts,
  type BatchExecutionInput,
  type ModelCalls,
  newBatchRunId,
  resolveBatchItems,
} from '../shared/domain/batch-schemas';
import { type BatchRunView, toBatchRunSummary, toBatchRunView } from '../shared/views/batch-view';
import type { BatchAccepted, BatchRunList, CreateBatchBody, ListBatchesQuery } from './api-schemas';
import { HttpError } from './http-error';
import type { JobRequest } from '../shared/domain/schemas';
import type { Budget } from '../shared/domain/budget';
import type { ExecutionStarter } from './jobs-service';

export interface BatchesServiceDependencies {
  batches: Pick<BatchRepository, 'createRun' | 'finishRun' | 'getRunWithItems' | 'listRuns'>;
  /** Starts the batch state machine. */
  executions: Pick<ExecutionStarter, 'start'>;
  /** Reads a job's current status, so a running batch can say how many of its items await approval. */
  jobStatus?: (jobId: string) => Promise<string | undefined>;
  /** The batch definitions a run may name (read once per container). */
  definitions: () => readonly BatchDefinition[];
  /**
   * Most items one run may have with the deployment's batch Map (see BATCH_LIMITS).
   * @default BATCH_LIMITS.maxItems (inline)
   */
  maxItems?: number;
  /**
   * False when the deployment cannot run the Message Batches lane (provider `bedrock`): a run asking
   * for `modelCalls` `batch` is refused with 400.
   * @default true
   */
  batchLane?: boolean;
}

const DEFAULT_INLINE_CONCURRENCY = 5;

const CursorTokenSchema = z.object({ k: z.record(z.string(), z.string()) }).strict();
const encodeToken = (cursor: ListCursor) => Buffer.from(JSON.stringify({ k: cursor })).toString('base64url');
function decodeToken(token: string): ListCursor {
  const invalid = () =>
    new HttpError(400, 'VALIDATION_FAILED', 'nextToken: is not a token returned by this API for this query', [
      { field: 'nextToken', message: 'is not a token returned by this API for this query' },
    ]);
  try {
    const parsed = CursorTokenSchema.safeParse(JSON.parse(Buffer.from(token, 'base64url').toString('utf8')));
    if (!parsed.success) throw invalid();
    return parsed.data.k;
  } catch {
    throw invalid();
  }
}

/** The batch API's operations, independent of HTTP. */
export class BatchesService {
  constructor(private readonly deps: BatchesServiceDependencies) {}

  /**
   * Records the run (RUNNING, items PENDING), then starts the batch state machine with the run id as
   * the execution name. A run whose execution cannot start is recorded FAILED, never left RUNNING.
   */
  async createBatch(body: CreateBatchBody): Promise<BatchAccepted> {
    const { batchName, maxConcurrency, requests, modelCalls, batchDeadlineMinutes, budget } =
      this.resolve(body);
    if (modelCalls === 'batch' && this.deps.batchLane === false) {
      const message =
        'must be "on-demand" with this deployment: the Message Batches lane needs provider "anthropic" (Bedrock batch inference is not implemented; see docs/batches.md)';
      throw new HttpError(400, 'VALIDATION_FAILED', `modelCalls: ${message}`, [
        { field: 'modelCalls', message },
      ]);
    }
    const conflicts = batchLaneConflicts({ modelCalls, budget, items: requests });
    if (conflicts.length > 0) {
      const details = conflicts.map((conflict) => ({
        field: conflict.path.join('.'),
        message: conflict.message,
      }));
      throw new HttpError(
        400,
        'VALIDATION_FAILED',
        details.map((detail) => `${detail.field}: ${detail.message}`).join('; '),
        details,
      );
    }
    const maxItems = this.deps.maxItems ?? BATCH_LIMITS.maxItems;
    if (requests.length > maxItems) {
      const message = `has ${requests.length} items; a run takes at most ${maxItems} with this deployment's batch Map${maxItems < BATCH_LIMITS.maxItemsDistributed ? ` (batchMap "distributed" takes up to ${BATCH_LIMITS.maxItemsDistributed})` : ''}`;
      throw new HttpError(400, 'VALIDATION_FAILED', `items: ${message}`, [{ field: 'items', message }]);
    }
    const runId = newBatchRunId(batchName);
    // The requests are recorded with the run, where StartBatchRun reads them: the execution input
    // carries only the run's name and id, so it stays far below Step Functions' 256 KiB whatever the batch.
    await this.deps.batches.createRun({
      runId,
      batchName,
      trigger: 'api',
      items: requests.map((request, index) => ({
        index,
        jobId: batchJobId(runId, index),
        task: request.task,
        request,
      })),
    });
    const input: BatchExecutionInput = {
      batchName,
      runId,
      maxConcurrency,
      modelCalls,
      batchDeadlineMinutes,
      ...(budget ? { budget } : {}),
      trigger: 'api',
    };
    let executionArn: string;
    try {
      executionArn = await this.deps.executions.start(runId, JSON.stringify(input));
    } catch (error) {
      const message = `Could not start the batch execution: ${error instanceof Error ? error.message : String(error)}`;
      await this.deps.batches.finishRun(runId, {
        status: 'FAILED',
        counts: { PENDING: requests.length },
        error: { name: 'StartExecutionFailed', message },
      });
      throw new HttpError(
        503,
        'EXECUTION_NOT_STARTED',
        `${message}. The run ${runId} is recorded as FAILED; try again.`,
        undefined,
        {
          cause: error,
        },
      );
    }
    return { runId, batchName, status: 'RUNNING', itemCount: requests.length, executionArn };
  }

  private resolve(body: CreateBatchBody): {
    batchName: string;
    maxConcurrency: number;
    requests: JobRequest[];
    modelCalls: ModelCalls;
    batchDeadlineMinutes: number;
    budget: Budget | undefined;
  } {
    if (body.items) {
      return {
        batchName: body.batchName,
        requests: body.items,
        maxConcurrency: body.maxConcurrency ?? DEFAULT_INLINE_CONCURRENCY,
        modelCalls: body.modelCalls ?? 'on-demand',
        batchDeadlineMinutes: body.batchDeadlineMinutes ?? BATCH_LIMITS.defaultDeadlineMinutes,
        budget: body.budget,
      };
    }
    const definitions = this.deps.definitions();
    const definition = definitions.find((candidate) => candidate.name === body.batchName);
    if (!definition) {
      const known = definitions.map((candidate) => candidate.name).join(', ') || 'none';
      const message = `no batch definition named "${body.batchName}" (known: ${known}); or send "items"`;
      throw new HttpError(400, 'VALIDATION_FAILED', `batchName: ${message}`, [
        { field: 'batchName', message },
      ]);
    }
    return {
      batchName: definition.name,
      requests: resolveBatchItems(definition),
      maxConcurrency: body.maxConcurrency ?? definition.maxConcurrency,
      modelCalls: body.modelCalls ?? definition.modelCalls,
      batchDeadlineMinutes: body.batchDeadlineMinutes ?? definition.batchDeadlineMinutes,
      budget: body.budget ?? definition.budget,
    };
  }

  async getBatch(runId: string): Promise<BatchRunView> {
    const stored = await this.deps.batches.getRunWithItems(runId);
    if (!stored)
      throw new HttpError(404, 'BATCH_RUN_NOT_FOUND', `runId: no batch run ${runId}`, [
        { field: 'runId', message: 'no such batch run' },
      ]);
    return toBatchRunView(stored, await unfinishedJobStatuses(stored, this.deps.jobStatus));
  }

  async listBatches(query: ListBatchesQuery): Promise<BatchRunList> {
    const cursor = query.nextToken ? decodeToken(query.nextToken) : undefined;
    const page = await this.deps.batches.listRuns({ limit: query.limit, ...(cursor ? { cursor } : {}) });
    return {
      items: page.items.map(toBatchRunSummary),
      ...(page.cursor ? { nextToken: encodeToken(page.cursor) } : {}),
    };
  }
}

/** The current status of the jobs of a running batch's unfinished items. */
export async function unfinishedJobStatuses(
  stored: { run: { status: string }; items: readonly { jobId: string; status: string }[] },
  jobStatus: ((jobId: string) => Promise<string | undefined>) | undefined,
): Promise<Map<string, string>> {
  const statuses = new Map<string, string>();
  if (!jobStatus || stored.run.status !== 'RUNNING') return statuses;
  const unfinished = stored.items.filter((item) => item.status === 'PENDING' || item.status === 'RUNNING');
  for (const item of unfinished) {
    const status = await jobStatus(item.jobId);
    if (status) statuses.set(item.jobId, status);
  }
  return statuses;
}
