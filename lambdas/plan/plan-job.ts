import { zodOutputFormat } from '@anthropic-ai/sdk/helpers/zod';
import { InvalidPlan, JobNotFound } from '../shared/errors';
import type { JobRepository } from '../shared/job-repository';
import type { ModelGateway, ModelMessage } from '../shared/model-gateway';
import { priced, sumUsage } from '../shared/pricing';
import { ORCHESTRATOR_SYSTEM_PROMPT, planPrompt, planRepairPrompt } from '../shared/prompts';
import {
  type CallUsage,
  type ExecutionInput,
  type JobRecord,
  PlanSchema,
  TERMINAL_JOB_STATUSES,
} from '../shared/schemas';
import { type PlanBounds, validatePlan } from './plan-validation';

export interface PlanSettings {
  model: string;
  maxTokens: number;
  bounds: PlanBounds;
  /** Repair attempts after the first answer; the model is called at most 1 + repairAttempts times. */
  repairAttempts: number;
}

export interface PlanDependencies {
  repository: JobRepository;
  model: ModelGateway;
  settings: PlanSettings;
  /** Milliseconds the caller may still spend (the Lambda's remaining time less a margin). */
  remainingMs: () => number;
}

/** What the Plan state passes on: ids only, so the state payload stays small. */
export interface PlanResult {
  jobId: string;
  subtaskIds: string[];
  /** How many model calls planning took (1 = the first answer was valid). */
  planAttempts: number;
}

/** The JSON Schema sent as structured output; zod remains the judge of what comes back. */
export const PLAN_JSON_SCHEMA = zodOutputFormat(PlanSchema).schema;

/**
 * Plans a job: asks the orchestrator model for subtasks as structured output, validates them, sends
 * validation problems back for repair a bounded number of times, and stores the plan with one item per
 * subtask. Safe to retry: once a plan is stored, a repeated invocation returns it without a model call.
 */
export async function planJob(input: ExecutionInput, deps: PlanDependencies): Promise<PlanResult> {
  const job = await loadOrCreateJob(input, deps.repository);
  if (job.plan) {
    return {
      jobId: job.jobId,
      subtaskIds: job.plan.subtasks.map((s) => s.id),
      planAttempts: job.planAttempts ?? 1,
    };
  }
  if (TERMINAL_JOB_STATUSES.includes(job.status)) {
    throw new JobNotFound(`Job ${job.jobId} is already ${job.status}; not planning it`);
  }
  await deps.repository.setJobStatus(job.jobId, 'PLANNING');

  const { settings } = deps;
  const firstTurn = planPrompt({ task: job.task, context: job.context }, settings.bounds);
  let messages: ModelMessage[] = firstTurn;
  const usages: CallUsage[] = [];
  let problems: string[] = [];

  for (let attempt = 1; attempt <= settings.repairAttempts + 1; attempt++) {
    const response = await deps.model.complete({
      model: settings.model,
      system: ORCHESTRATOR_SYSTEM_PROMPT,
      messages,
      maxTokens: settings.maxTokens,
      jsonSchema: PLAN_JSON_SCHEMA,
      timeoutMs: deps.remainingMs(),
    });
    usages.push(priced(response.model, response.usage));

    const validation = validatePlan(response.text, settings.bounds);
    problems = validation.ok ? [] : validation.problems;
    if (response.stopReason === 'max_tokens') {
      problems = [
        `The answer was cut off at the token limit (${settings.maxTokens}); keep descriptions shorter.`,
        ...problems,
      ];
    }
    if (response.stopReason === 'refusal') problems = ['The model declined to plan this task.', ...problems];

    if (validation.ok && problems.length === 0) {
      const total = sumUsage(usages);
      await deps.repository.savePlan(
        job.jobId,
        validation.plan,
        { ...total, model: response.model },
        attempt,
      );
      return {
        jobId: job.jobId,
        subtaskIds: validation.plan.subtasks.map((s) => s.id),
        planAttempts: attempt,
      };
    }
    messages = planRepairPrompt(messages, response.text, problems);
  }

  throw new InvalidPlan(
    `The plan was still invalid after ${settings.repairAttempts + 1} attempts: ${problems.join(' ')}`,
    problems,
  );
}

async function loadOrCreateJob(input: ExecutionInput, repository: JobRepository): Promise<JobRecord> {
  const existing = await repository.getJob(input.jobId);
  if (existing) return existing;
  if (!input.request) {
    throw new JobNotFound(
      `Job ${input.jobId} does not exist and the execution input carries no request to create it`,
    );
  }
  await repository.createJob({ jobId: input.jobId, status: 'QUEUED', ...input.request });
  const created = await repository.getJob(input.jobId);
  if (!created) throw new JobNotFound(`Job ${input.jobId} could not be read back after creating it`);
  return created;
}
