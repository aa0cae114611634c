import * as z from 'zod';
import { BatchRunIdSchema } from '../shared/domain/batch-schemas';
import { BatchRequestCanceled, type ErrorSummary, ModelCallDeferred } from '../shared/domain/errors';
import { TERMINAL_JOB_STATUSES } from '../shared/domain/schemas';
import { type BatchItemLists, type BatchItemRef, BATCH_ITEMS_PREFIX } from '../shared/batches/item-lists';
import type { BatchRepository } from '../shared/storage/batch-repository';
import type { JobRepository } from '../shared/storage/job-repository';
import {
  type LaneItem,
  type LanePhase,
  LanePhaseSchema,
  type LaneRepository,
} from '../shared/storage/lane-repository';
import { planJob, type PlanSettings, type PlanStore } from '../plan/plan-job';
import { runSubtask, type WorkerSettings, type WorkerStore } from '../worker/run-subtask';
import {
  synthesizeJob,
  type SynthesisDependencies,
  type SynthesisSettings,
} from '../synthesize/synthesize-job';
import { recordBatchItem } from '../record-batch-item/record-batch-item';
import { type BatchResult, type CapturedRequest, isRetryable, LaneGateway } from './lane-gateway';
import { decodeCustomId, planCustomId, synthesisCustomId, workerCustomId } from './custom-ids';

export const BatchLaneEventSchema = z.discriminatedUnion('step', [
  z.object({ step: z.literal('submit'), runId: BatchRunIdSchema, phase: LanePhaseSchema }),
  z.object({ step: z.literal('check'), runId: BatchRunIdSchema, phase: LanePhaseSchema }),
  z.object({ step: z.literal('finish'), runId: BatchRunIdSchema }),
]);
export type BatchLaneEvent = z.infer<typeof BatchLaneEventSchema>;

/**
 * What a Submit or Check state passes on: `await` (a batch is in progress: Wait, then Check),
 * `submit` (the batch ended and its results are applied: submit the phase's next round), `done`
 * (nothing left in this phase: the next phase) or `fallback` (past the deadline: finish on demand).
 */
export interface LaneStepResult {
  next: 'await' | 'submit' | 'done' | 'fallback';
  pollSeconds: number;
  batchId: string | null;
  requests: number;
}

/** What FinishLane passes on: the items still unfinished (past the deadline), for the on-demand Map. */
export type FinishLaneResult = { items: BatchItemRef[] } | { itemsKey: string };

/** The Message Batches operations the lane uses (the Anthropic API through `@anthropic-ai/sdk`). */
export interface MessageBatchesClient {
  create(requests: readonly CapturedRequest[]): Promise<{ id: string }>;
  retrieve(id: string): Promise<{ processingStatus: 'in_progress' | 'canceling' | 'ended' }>;
  cancel(id: string): Promise<void>;
  results(id: string): Promise<Map<string, BatchResult>>;
  /** Recent batches, newest first: to adopt a batch whose id a failed submit never recorded. */
  listRecent(): Promise<{ id: string; createdAt: string; requestCount: number }[]>;
}

export interface LaneSettings {
  plan: PlanSettings;
  worker: WorkerSettings;
  synthesis: SynthesisSettings;
  /** Rounds one request may take when its result is retryable (errored 429/529/5xx, expired, cancelled). */
  maxTries: number;
  /** Seconds between checks of a batch in progress (the Wait state's). */
  pollSeconds: number;
}

type LaneJobStore = PlanStore &
  WorkerStore &
  SynthesisDependencies['repository'] &
  Pick<JobRepository, 'failJob' | 'failSubtask' | 'getJobWithSubtasks'>;

export interface LaneDependencies {
  batches: Pick<BatchRepository, 'getRun' | 'getRunWithItems' | 'recordItemOutcome'>;
  jobs: LaneJobStore;
  lanes: Pick<
    LaneRepository,
    'beginRound' | 'getItem' | 'getRound' | 'markCollected' | 'putItem' | 'recordBatchId'
  >;
  messageBatches: MessageBatchesClient;
  settings: LaneSettings;
  /** Set with a Distributed Map: the items left for on demand go there instead of into the state. */
  itemLists?: BatchItemLists;
  now?: () => Date;
}

/** The lane calls the pure functions with no deadline of their own: nothing waits on the model here. */
const NO_DEADLINE = () => Number.MAX_SAFE_INTEGER;
const ITEM_CONCURRENCY = 10;
/** A batch created this long before the recorded intent still counts as that submit's (clock skew). */
const ADOPT_SKEW_MS = 5_000;

async function forEachLimited<T>(items: readonly T[], run: (item: T) => Promise<void>): Promise<void> {
  for (let start = 0; start < items.length; start += ITEM_CONCURRENCY) {
    await Promise.all(items.slice(start, start + ITEM_CONCURRENCY).map(run));
  }
}

const summary = (error: unknown): ErrorSummary =>
  error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'Error', message: String(error) };

/** The run and its items, and whether its deadline has passed. */
async function loadRun(runId: string, deps: LaneDependencies) {
  const stored = await deps.batches.getRunWithItems(runId);
  if (!stored) throw new Error(`No batch run ${runId}`);
  const now = (deps.now ?? (() => new Date()))();
  const deadline = stored.run.deadlineAt ? Date.parse(stored.run.deadlineAt) : Number.POSITIVE_INFINITY;
  return { ...stored, pastDeadline: now.getTime() > deadline, now };
}

const step = (
  deps: LaneDependencies,
  next: LaneStepResult['next'],
  batchId: string | null = null,
  requests = 0,
): LaneStepResult => ({ next, pollSeconds: deps.settings.pollSeconds, batchId, requests });

/**
 * Submits the phase's next round: every request the items need now (each item's plan or repair; the
 * workers of each job's earliest unfinished wave; each job's synthesis) in one Message Batch.
 * Idempotent: the intent is recorded before the batch is created and its id right after; a retried
 * submit reuses the recorded batch (or adopts the one its lost predecessor created).
 */
export async function submitRound(
  runId: string,
  phase: LanePhase,
  deps: LaneDependencies,
): Promise<LaneStepResult> {
  const round = await deps.lanes.getRound(runId);
  if (round && round.phase === phase && !round.collected) {
    if (round.batchId) return step(deps, 'await', round.batchId, round.requestCount);
    const adopted = await adoptBatch(round.submittingAt, round.requestCount, deps);
    if (adopted) {
      await deps.lanes.recordBatchId(runId, round.round, adopted);
      return step(deps, 'await', adopted, round.requestCount);
    }
  }
  const { items, pastDeadline, now } = await loadRun(runId, deps);
  if (pastDeadline) return step(deps, 'fallback');

  const requests: CapturedRequest[] = [];
  const capture = (request: CapturedRequest) => requests.push(request);
  await forEachLimited(items, async ({ index, jobId }) => {
    const lane = phase === 'plans' ? await deps.lanes.getItem(runId, index) : undefined;
    await PHASES[phase].submit({ index, jobId, lane, capture }, deps);
  });
  if (requests.length === 0) return step(deps, 'done');

  const next = (round?.round ?? 0) + 1;
  await deps.lanes.beginRound(runId, {
    phase,
    round: next,
    submittingAt: now.toISOString(),
    requestCount: requests.length,
  });
  const batch = await deps.messageBatches.create(requests);
  await deps.lanes.recordBatchId(runId, next, batch.id);
  return step(deps, 'await', batch.id, requests.length);
}

async function adoptBatch(
  since: string,
  requestCount: number,
  deps: LaneDependencies,
): Promise<string | undefined> {
  const recent = await deps.messageBatches.listRecent();
  const after = Date.parse(since) - ADOPT_SKEW_MS;
  return recent.find((batch) => Date.parse(batch.createdAt) >= after && batch.requestCount === requestCount)
    ?.id;
}

/**
 * Checks the phase's batch: still in progress → `await` (past the deadline it is cancelled first);
 * ended → its results, matched by custom id, are stored and validated as on demand, then `submit`
 * (or `fallback` past the deadline).
 */
export async function checkRound(
  runId: string,
  phase: LanePhase,
  deps: LaneDependencies,
): Promise<LaneStepResult> {
  const round = await deps.lanes.getRound(runId);
  if (!round || round.phase !== phase || round.collected || !round.batchId) return step(deps, 'submit');
  const { items, pastDeadline } = await loadRun(runId, deps);
  const batch = await deps.messageBatches.retrieve(round.batchId);
  if (batch.processingStatus !== 'ended') {
    if (pastDeadline && batch.processingStatus === 'in_progress')
      await deps.messageBatches.cancel(round.batchId);
    return step(deps, 'await', round.batchId, round.requestCount);
  }
  const results = await deps.messageBatches.results(round.batchId);
  const indexes = new Set([...results.keys()].flatMap((id) => decodeCustomId(id)?.index ?? []));
  await forEachLimited(
    items.filter((item) => indexes.has(item.index)),
    async ({ index, jobId }) => {
      const lane = await deps.lanes.getItem(runId, index);
      const context = { runId, index, jobId, lane, results, round: round.round, pastDeadline };
      const changed = await PHASES[phase].apply(context, deps);
      if (changed) await deps.lanes.putItem(runId, index, lane);
    },
  );
  await deps.lanes.markCollected(runId, round.round);
  return step(deps, pastDeadline ? 'fallback' : 'submit', round.batchId, round.requestCount);
}

/**
 * Ends the lane: every item whose job finished is recorded (with its usage); past the deadline, the
 * items still unfinished are handed to the on-demand Map, which resumes their jobs where the lane
 * left them (a stored plan and the subtasks that succeeded are kept).
 */
export async function finishLane(runId: string, deps: LaneDependencies): Promise<FinishLaneResult> {
  const { items, pastDeadline } = await loadRun(runId, deps);
  const onDemand: BatchItemRef[] = [];
  await forEachLimited(items, async ({ index, jobId, status }) => {
    if (status !== 'PENDING') return;
    const job = await deps.jobs.getJob(jobId);
    if (pastDeadline && job && !TERMINAL_JOB_STATUSES.includes(job.status)) {
      onDemand.push({ index, jobId });
      return;
    }
    await recordBatchItem({ runId, item: { index, jobId } }, deps);
  });
  onDemand.sort((a, b) => a.index - b.index);
  if (!deps.itemLists) return { items: onDemand };
  const itemsKey = `${BATCH_ITEMS_PREFIX}${runId}-on-demand.json`;
  await deps.itemLists.put(itemsKey, onDemand);
  return { itemsKey };
}

interface SubmitContext {
  index: number;
  jobId: string;
  lane: LaneItem | undefined;
  capture: (request: CapturedRequest) => void;
}

interface ApplyContext {
  runId: string;
  index: number;
  jobId: string;
  /** Changed in place; stored when `apply` says so. */
  lane: LaneItem;
  results: ReadonlyMap<string, BatchResult>;
  round: number;
  pastDeadline: boolean;
}

interface PhaseSteps {
  submit(context: SubmitContext, deps: LaneDependencies): Promise<void>;
  /** Applies the item's results; true when the lane item changed. */
  apply(context: ApplyContext, deps: LaneDependencies): Promise<boolean>;
}

/**
 * What a retryable fault does: counted once per round; past `maxTries` the request fails for good
 * (`fail`). A cancelled request past the deadline is not counted: it is finished on demand.
 */
async function onFault(
  error: unknown,
  key: string,
  context: ApplyContext,
  deps: LaneDependencies,
  fail: (error: ErrorSummary) => Promise<unknown>,
): Promise<boolean> {
  if (error instanceof ModelCallDeferred) return false;
  if (!isRetryable(error)) {
    await fail(summary(error));
    return false;
  }
  if (context.pastDeadline && error instanceof BatchRequestCanceled) return false;
  const seen = context.lane.faults[key] ?? { count: 0, lastRound: 0 };
  if (seen.lastRound !== context.round)
    context.lane.faults[key] = { count: seen.count + 1, lastRound: context.round };
  const tries = context.lane.faults[key]?.count ?? 0;
  if (tries >= deps.settings.maxTries) {
    const failure = summary(error);
    await fail({ ...failure, message: `${failure.message} (after ${tries} Message Batch rounds)` });
  }
  return true;
}

const isTerminal = (status: string) => (TERMINAL_JOB_STATUSES as readonly string[]).includes(status);

const planSteps: PhaseSteps = {
  async submit({ index, jobId, lane, capture }, deps) {
    const job = await deps.jobs.getJob(jobId);
    if (!job || job.plan || isTerminal(job.status)) return;
    const model = new LaneGateway({
      customId: (call) => planCustomId(index, call),
      answered: lane?.planAnswers ?? [],
      capture,
    });
    await planJob(
      { jobId },
      { repository: deps.jobs, model, settings: deps.settings.plan, remainingMs: NO_DEADLINE },
    ).catch(async (error: unknown) => {
      if (!(error instanceof ModelCallDeferred)) await deps.jobs.failJob(jobId, summary(error));
    });
  },
  async apply(context, deps) {
    const { index, jobId, lane, results } = context;
    const model = new LaneGateway({
      customId: (call) => planCustomId(index, call),
      answered: lane.planAnswers,
      results,
    });
    let faulted = false;
    try {
      await planJob(
        { jobId },
        { repository: deps.jobs, model, settings: deps.settings.plan, remainingMs: NO_DEADLINE },
      );
    } catch (error) {
      faulted = await onFault(error, 'plan', context, deps, (failure) => deps.jobs.failJob(jobId, failure));
    }
    // The plan's answers so far, for the next round's repair (the conversation is replayed from them).
    for (const { call, answer } of model.fresh) lane.planAnswers[call - 1] = answer;
    return faulted || model.fresh.length > 0;
  },
};

const workerSteps: PhaseSteps = {
  async submit({ index, jobId, capture }, deps) {
    const stored = await deps.jobs.getJobWithSubtasks(jobId);
    const plan = stored?.job.plan;
    if (!stored || !plan || stored.job.status !== 'RUNNING') return;
    const unfinished = new Set(
      stored.subtasks
        .filter((subtask) => subtask.status !== 'SUCCEEDED' && subtask.status !== 'FAILED')
        .map((s) => s.id),
    );
    const waves = stored.job.waves ?? [plan.subtasks.map((subtask) => subtask.id)];
    const wave = waves.find((ids) => ids.some((id) => unfinished.has(id))) ?? [];
    for (const subtaskId of wave.filter((id) => unfinished.has(id))) {
      const ordinal = plan.subtasks.findIndex((subtask) => subtask.id === subtaskId);
      const model = new LaneGateway({
        customId: () => workerCustomId(index, ordinal),
        capture,
        cacheTtl: '1h',
      });
      await runSubtask(
        { jobId, subtaskId },
        { repository: deps.jobs, model, settings: deps.settings.worker, remainingMs: NO_DEADLINE },
      ).catch(async (error: unknown) => {
        // DependencyFailed, or a job gone: the subtask fails for good, as RecordSubtaskFailure records it.
        if (!(error instanceof ModelCallDeferred))
          await deps.jobs.failSubtask(jobId, subtaskId, summary(error));
      });
    }
  },
  async apply(context, deps) {
    const { index, jobId, results } = context;
    const job = await deps.jobs.getJob(jobId);
    const plan = job?.plan;
    if (!plan) return false;
    let changed = false;
    for (const [customId] of results) {
      const decoded = decodeCustomId(customId);
      if (decoded?.index !== index || decoded.kind !== 'worker') continue;
      const subtaskId = plan.subtasks[decoded.ordinal]?.id;
      if (!subtaskId) continue;
      const model = new LaneGateway({ customId: () => customId, results, cacheTtl: '1h' });
      try {
        await runSubtask(
          { jobId, subtaskId },
          { repository: deps.jobs, model, settings: deps.settings.worker, remainingMs: NO_DEADLINE },
        );
      } catch (error) {
        const counted = await onFault(error, `w${decoded.ordinal}`, context, deps, (failure) =>
          deps.jobs.failSubtask(jobId, subtaskId, failure),
        );
        changed ||= counted;
      }
    }
    return changed;
  },
};

const synthesisSteps: PhaseSteps = {
  async submit({ index, jobId, capture }, deps) {
    const job = await deps.jobs.getJob(jobId);
    if (!job?.plan || isTerminal(job.status)) return;
    const model = new LaneGateway({ customId: () => synthesisCustomId(index), capture });
    await synthesizeJob(
      { jobId },
      { repository: deps.jobs, model, settings: deps.settings.synthesis, remainingMs: NO_DEADLINE },
    ).catch(async (error: unknown) => {
      // AllSubtasksFailed: nothing to combine; the job fails as MarkFailed records it.
      if (!(error instanceof ModelCallDeferred)) await deps.jobs.failJob(jobId, summary(error));
    });
  },
  async apply(context, deps) {
    const { index, jobId, results } = context;
    const model = new LaneGateway({ customId: () => synthesisCustomId(index), results });
    try {
      await synthesizeJob(
        { jobId },
        { repository: deps.jobs, model, settings: deps.settings.synthesis, remainingMs: NO_DEADLINE },
      );
      return false;
    } catch (error) {
      return onFault(error, 'synthesis', context, deps, (failure) => deps.jobs.failJob(jobId, failure));
    }
  },
};

const PHASES: Record<LanePhase, PhaseSteps> = {
  plans: planSteps,
  workers: workerSteps,
  syntheses: synthesisSteps,
};

/** One entry for the three steps the batch state machine invokes. */
export async function runLaneStep(
  event: BatchLaneEvent,
  deps: LaneDependencies,
): Promise<LaneStepResult | FinishLaneResult> {
  switch (event.step) {
    case 'submit':
      return submitRound(event.runId, event.phase, deps);
    case 'check':
      return checkRound(event.runId, event.phase, deps);
    case 'finish':
      return finishLane(event.runId, deps);
  }
}
