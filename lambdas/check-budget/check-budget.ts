import * as z from 'zod';
import {
  affordable,
  ceilingsOf,
  isBudgeted,
  overBudgetMessage,
  refusalMessage,
} from '../shared/domain/budget';
import { BudgetExceeded, JobNotFound } from '../shared/domain/errors';
import { profileNamed } from '../shared/domain/profiles';
import { JobIdSchema, type JobRecord, SubtaskIdSchema, type SubtaskRecord } from '../shared/domain/schemas';
import { type JobRoles, roleFor, synthesisWorstCase, workerWorstCase } from '../shared/model/worst-cases';
import type { JobRepository } from '../shared/storage/job-repository';

/**
 * The budget checks the state machine makes, each a state of its own so its outcome shows in the
 * console: `reserve-synthesis` (before any worker starts), `wave` (before each wave), `synthesis`.
 */
export const CheckBudgetEventSchema = z.discriminatedUnion('check', [
  z.object({ check: z.literal('reserve-synthesis'), jobId: JobIdSchema }),
  z.object({
    check: z.literal('wave'),
    jobId: JobIdSchema,
    wave: z.number().int().nonnegative(),
    subtaskIds: z.array(SubtaskIdSchema),
  }),
  z.object({ check: z.literal('synthesis'), jobId: JobIdSchema }),
]);
export type CheckBudgetEvent = z.infer<typeof CheckBudgetEventSchema>;

export type BudgetStore = Pick<
  JobRepository,
  'changeBudgetLedger' | 'failSubtask' | 'getJob' | 'getJobWithSubtasks'
>;

export interface CheckBudgetDependencies {
  repository: BudgetStore;
  /** The deployment's worker and synthesis calls (a profile may override them). */
  roles: JobRoles;
}

/** `reserve-synthesis` and `synthesis`: whether the job may go on; the reason when it may not. */
export interface SynthesisBudgetResult {
  jobId: string;
  withinBudget: boolean;
  reason: string | null;
}

/** `wave`: the subtasks the budget lets start, and those it failed with BudgetExceeded. */
export interface WaveBudgetResult {
  jobId: string;
  wave: number;
  subtaskIds: string[];
  overBudget: string[];
}

export async function checkBudget(
  event: CheckBudgetEvent,
  deps: CheckBudgetDependencies,
): Promise<SynthesisBudgetResult | WaveBudgetResult> {
  switch (event.check) {
    case 'reserve-synthesis':
      return reserveSynthesis(event.jobId, deps);
    case 'wave':
      return checkWave(event, deps);
    case 'synthesis':
      return checkSynthesis(event.jobId, deps);
  }
}

async function budgetedJob(jobId: string, repository: BudgetStore) {
  const job = await repository.getJob(jobId);
  if (!job?.plan) throw new JobNotFound(`Job ${jobId} has no stored plan`);
  return { job, plan: job.plan, ceilings: ceilingsOf(job) };
}

const rolesOf = (job: JobRecord, roles: JobRoles): JobRoles => {
  const profile = profileNamed(job.profile);
  return {
    worker: roleFor(profile, 'worker', roles.worker),
    synthesis: roleFor(profile, 'synthesis', roles.synthesis),
  };
};

/**
 * Before the first worker: holds the synthesis's worst case (every subtask's output at its
 * `max_tokens`), so the workers can never spend what the synthesis needs. Safe to retry.
 */
async function reserveSynthesis(
  jobId: string,
  deps: CheckBudgetDependencies,
): Promise<SynthesisBudgetResult> {
  const { job, plan, ceilings } = await budgetedJob(jobId, deps.repository);
  if (!ceilings) return { jobId, withinBudget: true, reason: null };
  if (job.synthesisHoldMicroUsd !== undefined) return { jobId, withinBudget: true, reason: null };
  const profile = profileNamed(job.profile);
  const worst = synthesisWorstCase(job, profile, plan, rolesOf(job, deps.roles));
  const change = await deps.repository.changeBudgetLedger(jobId, {
    microUsd: worst.microUsd,
    outputTokens: worst.outputTokens,
    ceilings,
    enforce: true,
    hold: { from: 'absent', to: { microUsd: worst.microUsd, outputTokens: worst.outputTokens } },
  });
  if (change.held) return { jobId, withinBudget: true, reason: null };
  const again = await deps.repository.getJob(jobId);
  if (again?.synthesisHoldMicroUsd !== undefined) return { jobId, withinBudget: true, reason: null };
  return {
    jobId,
    withinBudget: false,
    reason: refusalMessage('the synthesis', worst, ceilings, change.over),
  };
}

/**
 * Before a wave: lets through, in start order, the subtasks whose worst case still fits together
 * under the budget (dependency outputs as written), and fails the rest with BudgetExceeded without
 * a model call. Subtasks whose dependency failed go through: the worker fails them DependencyFailed.
 * The workers still hold their own worst case when they start, so a wave's estimate never decides alone.
 */
async function checkWave(
  event: Extract<CheckBudgetEvent, { check: 'wave' }>,
  deps: CheckBudgetDependencies,
): Promise<WaveBudgetResult> {
  const stored = await deps.repository.getJobWithSubtasks(event.jobId);
  const job = stored?.job;
  const plan = job?.plan;
  if (!stored || !job || !plan) throw new JobNotFound(`Job ${event.jobId} has no stored plan`);
  // The job's own ceiling is checked here; a batch run's is shared with jobs running elsewhere, so
  // only the workers' holds (made as each one starts) can check it truthfully.
  const budget = isBudgeted(job.budget) ? job.budget : undefined;
  const result: WaveBudgetResult = { jobId: event.jobId, wave: event.wave, subtaskIds: [], overBudget: [] };
  if (!budget) return { ...result, subtaskIds: event.subtaskIds };
  const profile = profileNamed(job.profile);
  const worker = rolesOf(job, deps.roles).worker;
  const byId = new Map<string, SubtaskRecord>(stored.subtasks.map((subtask) => [subtask.id, subtask]));
  const ledger = {
    committedMicroUsd: job.budgetCommittedMicroUsd ?? 0,
    committedOutputTokens: job.budgetCommittedOutputTokens ?? 0,
  };
  for (const subtaskId of event.subtaskIds) {
    const subtask = plan.subtasks.find((candidate) => candidate.id === subtaskId);
    const record = byId.get(subtaskId);
    if (!subtask || !record)
      throw new JobNotFound(`Subtask ${subtaskId} of job ${event.jobId} does not exist`);
    const dependencies = subtask.dependsOn.map((id) => byId.get(id));
    const runnable = dependencies.every((dependency) => dependency?.status === 'SUCCEEDED');
    if (record.status === 'SUCCEEDED' || !runnable) {
      result.subtaskIds.push(subtaskId);
      continue;
    }
    const worst = workerWorstCase(
      job,
      profile,
      plan,
      subtask,
      worker,
      dependencies.map((dependency) => ({
        id: dependency?.id ?? '',
        title: dependency?.title ?? '',
        output: dependency?.output ?? '',
      })),
    );
    if (affordable(budget, ledger, worst)) {
      ledger.committedMicroUsd += worst.microUsd;
      ledger.committedOutputTokens += worst.outputTokens;
      result.subtaskIds.push(subtaskId);
    } else {
      const error = new BudgetExceeded(overBudgetMessage(`subtask "${subtaskId}"`, worst, budget));
      await deps.repository.failSubtask(event.jobId, subtaskId, { name: error.name, message: error.message });
      result.overBudget.push(subtaskId);
    }
  }
  return result;
}

/**
 * Before synthesis: prices the exact synthesis prompt and sets the hold to it, giving back what the
 * reservation held beyond it, or holding more when it must (and saying so when that does not fit).
 */
async function checkSynthesis(jobId: string, deps: CheckBudgetDependencies): Promise<SynthesisBudgetResult> {
  const stored = await deps.repository.getJobWithSubtasks(jobId);
  const job = stored?.job;
  const plan = job?.plan;
  if (!stored || !job || !plan) throw new JobNotFound(`Job ${jobId} has no stored plan`);
  const ceilings = ceilingsOf(job);
  // Nothing to synthesize: Synthesize fails it with AllSubtasksFailed, the more truthful error.
  if (!ceilings || !stored.subtasks.some((subtask) => subtask.status === 'SUCCEEDED'))
    return { jobId, withinBudget: true, reason: null };
  const profile = profileNamed(job.profile);
  const worst = synthesisWorstCase(job, profile, plan, rolesOf(job, deps.roles), stored.subtasks);
  const hold = { microUsd: job.synthesisHoldMicroUsd ?? 0, outputTokens: job.synthesisHoldOutputTokens ?? 0 };
  const change = await deps.repository.changeBudgetLedger(jobId, {
    microUsd: worst.microUsd - hold.microUsd,
    outputTokens: worst.outputTokens - hold.outputTokens,
    ceilings,
    enforce: true,
    hold: {
      from: job.synthesisHoldMicroUsd === undefined ? 'absent' : hold,
      to: { microUsd: worst.microUsd, outputTokens: worst.outputTokens },
    },
  });
  if (change.held) return { jobId, withinBudget: true, reason: null };
  return {
    jobId,
    withinBudget: false,
    reason: refusalMessage('the synthesis', worst, ceilings, change.over),
  };
}
