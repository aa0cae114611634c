import type { JobWithSubtasks } from '../storage/job-repository';
import { executionConsoleUrl } from './console-url';
import { sumUsage, type UsageTotals } from '../domain/pricing';
import type { JobStatus, SubtaskStatus } from '../domain/schemas';
import type { Estimate } from '../domain/budget';

/** The job view of docs/architecture.md: returned by `GET /jobs/{id}` and printed by the CLI with `--json`. */
export interface JobView {
  jobId: string;
  status: JobStatus;
  task: string;
  context: Record<string, unknown>;
  profile: string;
  plan: {
    analysis: string;
    subtasks: {
      id: string;
      type: string;
      title: string;
      description: string;
      dependsOn: string[];
      priority: number;
    }[];
    synthesisGuidance: string | null;
  } | null;
  subtasks: {
    id: string;
    status: SubtaskStatus;
    /** Dependency wave (0 = runs first). */
    wave: number;
    attempts: number;
    output: string | null;
    /** The output was cut off at the worker's token limit (kept, and flagged to synthesis). */
    truncated: boolean;
    error: { name: string; message: string } | null;
    /** This subtask's recorded model call: the stored answer, or a refused or empty one; zeros until then. */
    usage: UsageTotals & { model: string | null };
  }[];
  synthesis: string | null;
  /** Things a reader should know about an otherwise usable result, e.g. outputs cut off at max_tokens. */
  warnings: string[];
  /** Every recorded call summed; `costUsd` is an estimate from the price table in `pricing.ts`. */
  usage: UsageTotals & {
    /** The same, by role: the planning calls, all workers, and synthesis. */
    byRole: { plan: UsageTotals; workers: UsageTotals; synthesis: UsageTotals };
  };
  error: { name: string; message: string } | null;
  /** Upper bound for the whole job once it is planned (each call's prompt and max_tokens at the price table). */
  estimate: Estimate | null;
  /** The ceilings in force, or null when the job has none. */
  budget: { maxCostUsd: number | null; maxOutputTokens: number | null } | null;
  /** The decision on the plan (a person's, or the auto-approval's); null until there is one. */
  approval: {
    decision: 'approve' | 'reject';
    comment: string | null;
    at: string;
    by: 'person' | 'auto';
    subtasks: string[] | null;
  } | null;
  executionArn: string | null;
  /** Deep link to the execution: the AWS Step Functions console, or the local console; null if none. */
  consoleUrl: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface JobViewOptions {
  /** Where the local execution console runs (local servers only); deployed executions link to AWS. */
  localConsoleUrl?: string;
}

/** Builds the public view from the stored items; job usage is summed from every recorded call. */
export function toJobView({ job, subtasks }: JobWithSubtasks, options: JobViewOptions = {}): JobView {
  return {
    jobId: job.jobId,
    status: job.status,
    task: job.task,
    context: job.context,
    profile: job.profile,
    plan: job.plan
      ? {
          analysis: job.plan.analysis,
          subtasks: job.plan.subtasks.map(({ id, type, title, description, dependsOn, priority }) => ({
            id,
            type,
            title,
            description,
            dependsOn,
            priority,
          })),
          synthesisGuidance: job.plan.synthesisGuidance ?? null,
        }
      : null,
    subtasks: subtasks.map((subtask) => ({
      id: subtask.id,
      status: subtask.status,
      wave: subtask.wave,
      attempts: subtask.attempts,
      output: subtask.output ?? null,
      truncated: subtask.stopReason === 'max_tokens',
      error: subtask.error ?? null,
      usage: { ...sumUsage([subtask.usage]), model: subtask.usage?.model ?? null },
    })),
    synthesis: job.synthesis ?? null,
    warnings: jobWarnings({ job, subtasks }),
    usage: {
      ...sumUsage([job.planUsage, ...subtasks.map((subtask) => subtask.usage), job.synthesisUsage]),
      byRole: {
        plan: sumUsage([job.planUsage]),
        workers: sumUsage(subtasks.map((subtask) => subtask.usage)),
        synthesis: sumUsage([job.synthesisUsage]),
      },
    },
    error: job.error ?? null,
    estimate: job.estimate ?? null,
    budget: job.budget
      ? { maxCostUsd: job.budget.maxCostUsd ?? null, maxOutputTokens: job.budget.maxOutputTokens ?? null }
      : null,
    approval: job.approvalDecision
      ? {
          decision: job.approvalDecision.decision,
          comment: job.approvalDecision.comment,
          at: job.approvalDecision.at,
          by: job.approvalDecision.by,
          subtasks: job.approvalDecision.subtasks ?? null,
        }
      : null,
    executionArn: job.executionArn ?? null,
    consoleUrl: executionConsoleUrl(job.executionArn, options.localConsoleUrl),
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
  };
}

const TRUNCATED = 'max_tokens';

function jobWarnings({ job, subtasks }: JobWithSubtasks): string[] {
  const warnings = subtasks
    .filter((subtask) => subtask.status === 'SUCCEEDED' && subtask.stopReason === TRUNCATED)
    .map((subtask) => `The output of subtask "${subtask.id}" was cut off at the worker's token limit.`);
  if (job.synthesis !== undefined && job.synthesisStopReason === TRUNCATED) {
    warnings.push("The deliverable was cut off at the synthesis call's token limit.");
  }
  return warnings;
}
