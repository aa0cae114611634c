import { z } from 'zod';
import { JobNotFound, ModelRequestRejected } from '../shared/errors';
import type { JobRepository } from '../shared/job-repository';
import type { ModelGateway } from '../shared/model-gateway';
import { priced } from '../shared/pricing';
import { WORKER_SYSTEM_PROMPT, workerPrompt } from '../shared/prompts';
import { JobIdSchema, SubtaskIdSchema } from '../shared/schemas';

export const RunSubtaskEventSchema = z.object({ jobId: JobIdSchema, subtaskId: SubtaskIdSchema });
export type RunSubtaskEvent = z.infer<typeof RunSubtaskEventSchema>;

export interface WorkerSettings {
  model: string;
  maxTokens: number;
}

export interface WorkerDependencies {
  repository: JobRepository;
  model: ModelGateway;
  settings: WorkerSettings;
  remainingMs: () => number;
}

/** The RunSubtask state's result: small, for the Map's output in the console. */
export interface SubtaskResult {
  subtaskId: string;
  status: 'SUCCEEDED';
  attempts: number;
}

/**
 * Runs one subtask: the worker model gets the whole task and context for orientation and its own
 * subtask to do. Idempotent: a retry after a stored success returns that success without calling
 * the model, and the output and usage are written once (a conditional write).
 */
export async function runSubtask(event: RunSubtaskEvent, deps: WorkerDependencies): Promise<SubtaskResult> {
  const attempt = await deps.repository.beginSubtaskAttempt(event.jobId, event.subtaskId);
  if (!attempt) throw new JobNotFound(`Subtask ${event.subtaskId} of job ${event.jobId} does not exist`);
  if (attempt.kind === 'already-succeeded') {
    return { subtaskId: event.subtaskId, status: 'SUCCEEDED', attempts: attempt.subtask.attempts };
  }

  const job = await deps.repository.getJob(event.jobId);
  if (!job?.plan) throw new JobNotFound(`Job ${event.jobId} has no stored plan`);
  const response = await deps.model.complete({
    model: deps.settings.model,
    system: WORKER_SYSTEM_PROMPT,
    messages: workerPrompt({ task: job.task, context: job.context }, job.plan, attempt.subtask),
    maxTokens: deps.settings.maxTokens,
    timeoutMs: deps.remainingMs(),
  });
  if (response.text.trim() === '') {
    throw new ModelRequestRejected(
      `The worker model returned no text (stop reason: ${response.stopReason ?? 'none'})`,
    );
  }
  await deps.repository.completeSubtask(event.jobId, event.subtaskId, {
    output: response.text,
    usage: priced(response.model, response.usage),
    stopReason: response.stopReason,
  });
  return { subtaskId: event.subtaskId, status: 'SUCCEEDED', attempts: attempt.subtask.attempts };
}
