import {
  BudgetExceeded,
  InvalidPlan,
  JobNotFound,
  ModelRefused,
  refusalDetail,
} from '../shared/domain/errors';
import {
  type ApprovalPolicy,
  type Budget,
  ceilingsOf,
  formatUsd,
  isBudgeted,
  needsApproval,
  refusalMessage,
  toMicroUsd,
  wasNotBilled,
} from '../shared/domain/budget';
import { jobEstimate, type JobRoles, promptWorstCase, roleFor } from '../shared/model/worst-cases';
import type { JobRepository } from '../shared/storage/job-repository';
import type { ModelGateway, ModelMessage } from '../shared/model/gateway';
import { mergeCalls, priced } from '../shared/domain/pricing';
import { profileNamed } from '../shared/domain/profiles';
import { orchestratorSystemPrompt, planPrompt, planRepairPrompt } from '../shared/model/prompts';
import {
  type CallUsage,
  type ExecutionInput,
  type JobRecord,
  TERMINAL_JOB_STATUSES,
} from '../shared/domain/schemas';
import { planJsonSchema } from './plan-schema';
import { validatePlan } from './plan-validation';
import { dependencyWaves } from './plan-waves';

/** The job operations planning performs. */
export type PlanStore = Pick<
  JobRepository,
  'changeBudgetLedger' | 'createJob' | 'getJob' | 'recordFailedPlanningUsage' | 'savePlan' | 'startPlanning'
>;

export interface PlanSettings {
  /** Default model and token limit; a profile may override them. */
  model: string;
  maxTokens: number;
  /** Ceiling on subtasks whatever the profile allows (the deployment's fan-out limit). */
  maxSubtasks: number;
  /** Repair attempts after the first answer; the model is called at most 1 + repairAttempts times. */
  repairAttempts: number;
  /** Benchmarks only: exactly this many subtasks (capped by maxSubtasks) instead of the profile's range. */
  exactSubtaskCount?: number;
  /** The worker's and synthesis's model and token limit (a profile may override them), for the estimate. */
  roles: JobRoles;
  /** The deployment's defaults for jobs whose request and profile set none. */
  defaults: { approval: ApprovalPolicy; budget?: Budget | undefined };
  /**
   * The Message Batches lane: no approval and no budget, whatever the profile or the deployment says
   * (the lane cannot honour them; StartBatchRun refuses runs that ask for them explicitly).
   */
  withoutReviewOrBudget?: boolean;
}

export interface PlanDependencies {
  repository: PlanStore;
  model: ModelGateway;
  settings: PlanSettings;
  /** Milliseconds the caller may still spend (the Lambda's remaining time less a margin). */
  remainingMs: () => number;
}

/** What the Plan state passes on: ids only, so the state payload stays small. */
export interface PlanResult {
  jobId: string;
  subtaskIds: string[];
  /** Subtask ids by dependency wave; the state machine runs the waves one after another. */
  waves: string[][];
  /** How many model calls planning took (1 = the first answer was valid). */
  planAttempts: number;
  /** The job has a budget: the state machine checks it before each wave and before synthesis. */
  budgeted: boolean;
  /** The plan waits for a person's decision (AwaitApproval). */
  awaitApproval: boolean;
}

/**
 * Plans a job: asks the orchestrator model (with the job profile's prompt) for subtasks as
 * structured output, validates them against the profile (bounds, types) and the plan rules (unique
 * ids, known dependencies, no cycles), sends problems back for repair a bounded number of times,
 * then stores the plan, its dependency waves and one item per subtask. Safe to retry: once a plan
 * is stored, a repeated invocation returns it without a model call.
 */
export async function planJob(input: ExecutionInput, deps: PlanDependencies): Promise<PlanResult> {
  const job = await loadOrCreateJob(input, deps.repository);
  if (job.plan) {
    const subtaskIds = job.plan.subtasks.map((subtask) => subtask.id);
    return {
      jobId: job.jobId,
      subtaskIds,
      waves: job.waves ?? [subtaskIds],
      planAttempts: job.planAttempts ?? 1,
      budgeted: ceilingsOf(job) !== undefined,
      awaitApproval: job.status === 'AWAITING_APPROVAL',
    };
  }
  if (TERMINAL_JOB_STATUSES.includes(job.status)) {
    throw new JobNotFound(`Job ${job.jobId} is already ${job.status}; not planning it`);
  }
  const { settings } = deps;
  const profile = profileNamed(job.profile);
  const lane = settings.withoutReviewOrBudget === true;
  const approval = lane ? 'none' : (job.approval ?? profile.approval ?? settings.defaults.approval);
  const chosenBudget = lane ? undefined : (job.budget ?? profile.budget ?? settings.defaults.budget);
  const budget = isBudgeted(chosenBudget) ? chosenBudget : undefined;
  await deps.repository.startPlanning(job.jobId, { approval, ...(budget ? { budget } : {}) });
  const ceilings = ceilingsOf({ budget, runBudget: job.runBudget });

  const model = profile.models?.orchestrator ?? settings.model;
  const maxTokens = profile.maxTokens?.orchestrator ?? settings.maxTokens;
  const max = Math.min(settings.exactSubtaskCount ?? profile.subtasks.max, settings.maxSubtasks);
  const min = settings.exactSubtaskCount === undefined ? Math.min(profile.subtasks.min, max) : max;
  const bounds = { min, max };
  const allowedTypes = profile.subtaskTypes ? Object.keys(profile.subtaskTypes) : undefined;
  const jsonSchema = planJsonSchema(profile, bounds);

  let messages: ModelMessage[] = planPrompt(
    { task: job.task, context: job.context, templates: job.templates },
    profile,
    bounds,
  );
  const usages: CallUsage[] = [];
  let problems: string[] = [];

  for (let attempt = 1; attempt <= settings.repairAttempts + 1; attempt++) {
    const system = orchestratorSystemPrompt(profile);
    // With a budget (the job's or its batch run's), the call's worst case is held before it is made.
    const call = ceilings
      ? promptWorstCase({ model, maxTokens }, system, messages, { texts: [JSON.stringify(jsonSchema)] })
      : undefined;
    if (call && ceilings) {
      const hold = await deps.repository.changeBudgetLedger(job.jobId, {
        microUsd: call.microUsd,
        outputTokens: call.outputTokens,
        ceilings,
        enforce: true,
      });
      if (!hold.held) {
        if (usages.length > 0) {
          await deps.repository.recordFailedPlanningUsage(
            job.jobId,
            mergeCalls(usages.at(-1)?.model ?? model, usages),
            attempt - 1,
          );
        }
        throw new BudgetExceeded(
          refusalMessage(
            attempt === 1 ? 'the planning call' : `planning repair attempt ${attempt - 1}`,
            call,
            ceilings,
            hold.over,
          ),
        );
      }
    }
    const response = await deps.model
      .complete({ model, system, messages, maxTokens, jsonSchema, timeoutMs: deps.remainingMs() })
      .catch(async (error: unknown) => {
        if (call && ceilings && wasNotBilled(error))
          await deps.repository.changeBudgetLedger(job.jobId, {
            microUsd: -call.microUsd,
            outputTokens: -call.outputTokens,
            ceilings,
          });
        throw error;
      });
    const callUsage = priced(response.model, response.usage, response.billing);
    usages.push(callUsage);
    if (call && ceilings) {
      // What the worst case held beyond the call's real cost goes back to the budget.
      await deps.repository.changeBudgetLedger(job.jobId, {
        microUsd: toMicroUsd(callUsage.costUsd) - call.microUsd,
        outputTokens: callUsage.outputTokens - call.outputTokens,
        ceilings,
      });
    }
    if (response.stopReason === 'refusal') {
      // A refusal is an answer about the task, not a malformed plan: repairing would only repeat it.
      await deps.repository.recordFailedPlanningUsage(job.jobId, mergeCalls(response.model, usages), attempt);
      throw new ModelRefused(
        `The orchestrator model declined to plan this task${refusalDetail(response.text)}`,
      );
    }

    const validation = validatePlan(response.text, bounds, allowedTypes);
    problems = validation.ok ? [] : validation.problems;
    if (response.stopReason === 'max_tokens') {
      problems = [
        `The answer was cut off at the token limit (${maxTokens}); keep descriptions shorter.`,
        ...problems,
      ];
    }

    if (validation.ok && problems.length === 0) {
      const plan = profile.fields.synthesisGuidance
        ? validation.plan
        : { ...validation.plan, synthesisGuidance: undefined };
      const waves = dependencyWaves(plan);
      const planUsage = mergeCalls(response.model, usages);
      const roles = {
        worker: roleFor(profile, 'worker', settings.roles.worker),
        synthesis: roleFor(profile, 'synthesis', settings.roles.synthesis),
      };
      const estimate = jobEstimate(job, profile, plan, roles, planUsage);
      const awaitApproval = needsApproval(approval, estimate);
      const autoApproved =
        typeof approval === 'object' && !awaitApproval
          ? {
              decision: 'approve' as const,
              comment: `Approved automatically: the estimate ${formatUsd(estimate.costUsd)} is under ${formatUsd(approval.autoApproveUnderUsd)}`,
              at: new Date().toISOString(),
              by: 'auto' as const,
            }
          : undefined;
      await deps.repository.savePlan(job.jobId, plan, waves, planUsage, attempt, {
        estimate,
        awaitApproval,
        ...(autoApproved ? { approvalDecision: autoApproved } : {}),
      });
      return {
        jobId: job.jobId,
        subtaskIds: plan.subtasks.map((subtask) => subtask.id),
        waves,
        planAttempts: attempt,
        budgeted: ceilings !== undefined,
        awaitApproval,
      };
    }
    messages = planRepairPrompt(messages, response.text, problems);
  }

  const lastModel = usages.at(-1)?.model ?? model;
  await deps.repository.recordFailedPlanningUsage(
    job.jobId,
    mergeCalls(lastModel, usages),
    settings.repairAttempts + 1,
  );
  throw new InvalidPlan(
    `The plan was still invalid after ${settings.repairAttempts + 1} attempts: ${problems.join(' ')}`,
    problems,
  );
}

async function loadOrCreateJob(input: ExecutionInput, repository: PlanStore): Promise<JobRecord> {
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
