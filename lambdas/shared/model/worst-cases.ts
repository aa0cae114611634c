import {
  type Estimate,
  inputTokenBound,
  sumEstimate,
  toMicroUsd,
  worstCase,
  type WorstCase,
} from '../domain/budget';
import type { Profile } from '../domain/profiles';
import type { CallUsage, JobRecord, Plan, PlannedSubtask } from '../domain/schemas';
import {
  type DependencyResult,
  type SubtaskOutcome,
  synthesisPrompt,
  synthesisSystemPrompt,
  workerPrompt,
  workerSystemPrompt,
} from './prompts';
import type { ModelMessage } from './gateway';

/** A message's text, its blocks one per line (as gateway.ts's messageText; kept here so budget checks bundle no model SDK). */
const messageText = (message: ModelMessage): string =>
  typeof message.content === 'string'
    ? message.content
    : message.content.map((block) => block.text).join('\n');

/** The model and token limit of one role, as the deployment sets them (a profile may override both). */
export interface RoleCall {
  model: string;
  maxTokens: number;
}

export interface JobRoles {
  worker: RoleCall;
  synthesis: RoleCall;
}

/** The role's call for this profile: the profile's model and limit where it sets them. */
export function roleFor(
  profile: Profile,
  role: 'orchestrator' | 'worker' | 'synthesis',
  fallback: RoleCall,
): RoleCall {
  return {
    model: profile.models?.[role] ?? fallback.model,
    maxTokens: profile.maxTokens?.[role] ?? fallback.maxTokens,
  };
}

const promptTexts = (system: string, messages: readonly ModelMessage[]) => [
  system,
  ...messages.map(messageText),
];

/** A call's worst case from its exact prompt. */
export function promptWorstCase(
  call: RoleCall,
  system: string,
  messages: readonly ModelMessage[],
  extra: { texts?: readonly string[]; tokens?: number } = {},
): WorstCase {
  return worstCase(
    call.model,
    inputTokenBound([...promptTexts(system, messages), ...(extra.texts ?? [])], extra.tokens ?? 0),
    call.maxTokens,
  );
}

type JobInput = Pick<JobRecord, 'task' | 'context' | 'templates'>;
const taskInput = (job: JobInput) => ({ task: job.task, context: job.context, templates: job.templates });

/**
 * A worker call's worst case. With `dependencies`, the exact prompt; without, each dependency's
 * output is bounded by the worker's `max_tokens` (it has not been written yet).
 */
export function workerWorstCase(
  job: JobInput,
  profile: Profile,
  plan: Plan,
  subtask: PlannedSubtask,
  worker: RoleCall,
  dependencies?: readonly DependencyResult[],
): WorstCase {
  const known = dependencies ?? subtask.dependsOn.map((id) => ({ id, title: titleOf(plan, id), output: '' }));
  const pending = dependencies ? 0 : subtask.dependsOn.length * worker.maxTokens;
  return promptWorstCase(
    worker,
    workerSystemPrompt(profile, plan),
    workerPrompt(taskInput(job), plan, subtask, known),
    { tokens: pending },
  );
}

/**
 * Room a failed subtask's line is given in the synthesis reservation (error messages are usually
 * short). Only the reservation uses it: the check before synthesis prices the exact prompt and holds
 * more if it must, so the ceiling holds whatever the messages say.
 */
const FAILED_LINE_TOKENS = 1_024;
/** The synthesis prompt's closing words about truncated results, and the attribute that flags one. */
const TRUNCATION_ALLOWANCE_TOKENS = 256;

/**
 * The synthesis call's worst case. With `outcomes`, the exact prompt; without, every subtask is
 * bounded by the larger of its worker's `max_tokens` and the longest failure line.
 */
export function synthesisWorstCase(
  job: JobInput,
  profile: Profile,
  plan: Plan,
  roles: JobRoles,
  outcomes?: readonly SubtaskOutcome[],
): WorstCase {
  const assumed: SubtaskOutcome[] =
    outcomes?.slice() ??
    plan.subtasks.map((subtask) => ({
      id: subtask.id,
      title: subtask.title,
      status: 'SUCCEEDED',
      output: '',
    }));
  const pending = outcomes
    ? 0
    : plan.subtasks.length * Math.max(roles.worker.maxTokens, FAILED_LINE_TOKENS) +
      TRUNCATION_ALLOWANCE_TOKENS;
  return promptWorstCase(
    roles.synthesis,
    synthesisSystemPrompt(profile),
    synthesisPrompt(taskInput(job), plan, assumed),
    { tokens: pending },
  );
}

/**
 * The job's estimate once it is planned: the planning calls as recorded, each worker's and the
 * synthesis's worst case. An upper bound: retries of a failed call are not in it.
 */
export function jobEstimate(
  job: JobInput,
  profile: Profile,
  plan: Plan,
  roles: JobRoles,
  planUsage: Pick<
    CallUsage,
    'inputTokens' | 'outputTokens' | 'cacheReadTokens' | 'cacheWriteTokens' | 'costUsd'
  >,
): Estimate {
  const workers = plan.subtasks.map((subtask) => workerWorstCase(job, profile, plan, subtask, roles.worker));
  return sumEstimate([
    {
      inputTokens: planUsage.inputTokens + planUsage.cacheReadTokens + planUsage.cacheWriteTokens,
      outputTokens: planUsage.outputTokens,
      microUsd: toMicroUsd(planUsage.costUsd),
    },
    ...workers,
    synthesisWorstCase(job, profile, plan, roles),
  ]);
}

function titleOf(plan: Plan, id: string): string {
  return plan.subtasks.find((subtask) => subtask.id === id)?.title ?? id;
}
