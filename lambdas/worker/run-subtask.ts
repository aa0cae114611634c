import * as z from 'zod';
import {
  BudgetExceeded,
  DependencyFailed,
  JobNotFound,
  ModelCallDeferred,
  ModelCapacityExceeded,
  unusableAnswer,
} from '../shared/domain/errors';
import type { JobRepository } from '../shared/storage/job-repository';
import type { ModelGateway } from '../shared/model/gateway';
import { priced } from '../shared/domain/pricing';
import { ceilingsOf, refusalMessage, toMicroUsd, wasNotBilled } from '../shared/domain/budget';
import { workerWorstCase } from '../shared/model/worst-cases';
import { profileNamed } from '../shared/domain/profiles';
import { type DependencyResult, workerPrompt, workerSystemPrompt } from '../shared/model/prompts';
import { JobIdSchema, type PlannedSubtask, SubtaskIdSchema } from '../shared/domain/schemas';

/** The job operations a worker performs. */
export type WorkerStore = Pick<
  JobRepository,
  | 'beginSubtaskAttempt'
  | 'changeBudgetLedger'
  | 'completeSubtask'
  | 'failSubtask'
  | 'getJob'
  | 'getSubtask'
  | 'undoSubtaskAttempt'
>;

export const RunSubtaskEventSchema = z.object({ jobId: JobIdSchema, subtaskId: SubtaskIdSchema });
export type RunSubtaskEvent = z.infer<typeof RunSubtaskEventSchema>;

export interface WorkerSettings {
  model: string;
  maxTokens: number;
}

export interface WorkerDependencies {
  repository: WorkerStore;
  model: ModelGateway;
  settings: WorkerSettings;
  remainingMs: () => number;
  /** Told the attempt number once this invocation has claimed the subtask (for logs and retry metrics). */
  onAttemptStarted?: (attempt: number) => void;
}

/** The RunSubtask state's result: small, for the Map's output in the console. */
export interface SubtaskResult {
  subtaskId: string;
  status: 'SUCCEEDED';
  attempts: number;
}

/**
 * Runs one subtask: the worker model gets the whole task and context for orientation, the outputs of
 * the subtasks it depends on, and its own subtask to do. A subtask whose dependency failed fails at
 * once with DependencyFailed (never run on missing input). Idempotent: a retry after a stored success
 * returns that success without calling the model, and output and usage are written once.
 */
export async function runSubtask(event: RunSubtaskEvent, deps: WorkerDependencies): Promise<SubtaskResult> {
  // Only the job item and the items this subtask needs: reading the whole partition would make each
  // worker's reads grow with the plan's size.
  const job = await deps.repository.getJob(event.jobId);
  const plan = job?.plan;
  const subtask = plan?.subtasks.find((candidate) => candidate.id === event.subtaskId);
  if (!job || !plan || !subtask) {
    throw new JobNotFound(`Subtask ${event.subtaskId} of job ${event.jobId} does not exist`);
  }
  const dependencies = await dependencyResults(event.jobId, subtask, deps.repository);
  const profile = profileNamed(job.profile);
  const request = {
    model: profile.models?.worker ?? deps.settings.model,
    system: workerSystemPrompt(profile, plan),
    messages: workerPrompt(
      { task: job.task, context: job.context, templates: job.templates },
      plan,
      subtask,
      dependencies,
    ),
    maxTokens: profile.maxTokens?.worker ?? deps.settings.maxTokens,
    timeoutMs: deps.remainingMs(),
  };
  // While the governor has no capacity, retries come often: skip the attempt's writes (begin, undo).
  await deps.model.precheck?.(request);

  const attempt = await deps.repository.beginSubtaskAttempt(event.jobId, event.subtaskId);
  if (!attempt) throw new JobNotFound(`Subtask ${event.subtaskId} of job ${event.jobId} does not exist`);
  if (attempt.kind === 'already-succeeded') {
    return { subtaskId: event.subtaskId, status: 'SUCCEEDED', attempts: attempt.subtask.attempts };
  }
  // With a budget (the job's or its batch run's), the call's worst case is held in the ledgers first;
  // if it cannot be, the subtask fails without a model call (and without counting an attempt).
  const ceilings = ceilingsOf(job);
  const worst = ceilings
    ? workerWorstCase(
        job,
        profile,
        plan,
        subtask,
        { model: request.model, maxTokens: request.maxTokens },
        dependencies,
      )
    : undefined;
  if (ceilings && worst) {
    const hold = await deps.repository.changeBudgetLedger(event.jobId, {
      microUsd: worst.microUsd,
      outputTokens: worst.outputTokens,
      ceilings,
      enforce: true,
    });
    if (!hold.held) {
      await deps.repository.undoSubtaskAttempt(event.jobId, event.subtaskId, attempt.subtask.attempts);
      throw new BudgetExceeded(refusalMessage(`subtask "${subtask.id}"`, worst, ceilings, hold.over));
    }
  }
  deps.onAttemptStarted?.(attempt.subtask.attempts);

  const response = await deps.model
    .complete({ ...request, timeoutMs: deps.remainingMs() })
    .catch(async (error: unknown) => {
      if (ceilings && worst && wasNotBilled(error))
        await deps.repository.changeBudgetLedger(event.jobId, {
          microUsd: -worst.microUsd,
          outputTokens: -worst.outputTokens,
          ceilings,
        });
      // Deferred by the governor (or taken for the batch lane's next Message Batch): the model was not
      // asked, so this was no attempt.
      if (error instanceof ModelCapacityExceeded || error instanceof ModelCallDeferred) {
        await deps.repository.undoSubtaskAttempt(event.jobId, event.subtaskId, attempt.subtask.attempts);
      }
      throw error;
    });
  const usage = priced(response.model, response.usage, response.billing);
  if (ceilings && worst) {
    await deps.repository.changeBudgetLedger(event.jobId, {
      microUsd: toMicroUsd(usage.costUsd) - worst.microUsd,
      outputTokens: usage.outputTokens - worst.outputTokens,
      ceilings,
    });
  }
  const unusable = unusableAnswer('worker', response);
  if (unusable) {
    // The call is billed all the same: record it with the failure before the state machine's Catch does.
    await deps.repository.failSubtask(event.jobId, event.subtaskId, unusable, usage);
    throw unusable;
  }
  // An answer cut off at max_tokens is kept (it was paid for and is usually useful); its stop reason
  // marks it truncated in the job view, and synthesis is told.
  await deps.repository.completeSubtask(event.jobId, event.subtaskId, {
    output: response.text,
    usage,
    stopReason: response.stopReason,
  });
  return { subtaskId: event.subtaskId, status: 'SUCCEEDED', attempts: attempt.subtask.attempts };
}

/** The outputs this subtask builds on; throws DependencyFailed when any of them did not succeed. */
async function dependencyResults(
  jobId: string,
  subtask: PlannedSubtask,
  repository: WorkerStore,
): Promise<DependencyResult[]> {
  const stored = await Promise.all(subtask.dependsOn.map((id) => repository.getSubtask(jobId, id)));
  return subtask.dependsOn.map((id, index) => {
    const dependency = stored[index];
    if (dependency?.status !== 'SUCCEEDED' || dependency.output === undefined) {
      const why = dependency?.error
        ? `${dependency.error.name}: ${dependency.error.message}`
        : `it is ${dependency?.status ?? 'missing'}`;
      throw new DependencyFailed(`Not run: it depends on "${id}", which did not succeed (${why})`);
    }
    return { id, title: dependency.title, output: dependency.output };
  });
}
