import * as z from 'zod';
import { AllSubtasksFailed, BudgetExceeded, JobNotFound, unusableAnswer } from '../shared/domain/errors';
import { type Ceilings, ceilingsOf, refusalMessage, toMicroUsd, wasNotBilled } from '../shared/domain/budget';
import { synthesisWorstCase } from '../shared/model/worst-cases';
import type { JobRecord, SubtaskRecord } from '../shared/domain/schemas';
import type { JobRepository } from '../shared/storage/job-repository';
import type { ModelGateway } from '../shared/model/gateway';
import { priced, sumUsage } from '../shared/domain/pricing';
import { profileNamed } from '../shared/domain/profiles';
import { labelledOutputs, synthesisPrompt, synthesisSystemPrompt } from '../shared/model/prompts';
import { JobIdSchema } from '../shared/domain/schemas';

export const SynthesizeEventSchema = z.object({ jobId: JobIdSchema });
export type SynthesizeEvent = z.infer<typeof SynthesizeEventSchema>;

export interface SynthesisSettings {
  model: string;
  maxTokens: number;
}

export interface SynthesisDependencies {
  repository: Pick<
    JobRepository,
    | 'changeBudgetLedger'
    | 'completeJob'
    | 'getJobWithSubtasks'
    | 'recordFailedSynthesisUsage'
    | 'setJobStatus'
  >;
  model: ModelGateway;
  settings: SynthesisSettings;
  remainingMs: () => number;
}

export interface SynthesisResult {
  jobId: string;
  status: 'SUCCEEDED' | 'PARTIAL' | 'FAILED' | 'CANCELLED';
  succeeded: number;
  failed: number;
  /** The whole job's estimated cost, set only by the invocation that finished the job (for the metric). */
  costUsd?: number;
}

const describeFailure = (subtask: SubtaskRecord) =>
  `${subtask.id} (${subtask.error ? subtask.error.name : `never finished: ${subtask.status}`})`;

/**
 * Combines the successful subtasks into the deliverable. The job ends SUCCEEDED when every subtask
 * succeeded, PARTIAL when some failed (they are named to the model and in the job's error), and
 * fails with AllSubtasksFailed when there is nothing to combine.
 */
export async function synthesizeJob(
  event: SynthesizeEvent,
  deps: SynthesisDependencies,
): Promise<SynthesisResult> {
  const stored = await deps.repository.getJobWithSubtasks(event.jobId);
  const plan = stored?.job.plan;
  if (!stored || !plan) throw new JobNotFound(`Job ${event.jobId} has no stored plan`);
  const { job, subtasks } = stored;
  const succeeded = subtasks.filter((subtask) => subtask.status === 'SUCCEEDED');
  const failed = subtasks.filter((subtask) => subtask.status !== 'SUCCEEDED');
  const counts = { succeeded: succeeded.length, failed: failed.length };

  if (job.status === 'SUCCEEDED' || job.status === 'PARTIAL' || job.status === 'CANCELLED') {
    return { jobId: job.jobId, status: job.status, ...counts };
  }
  if (succeeded.length === 0) {
    throw new AllSubtasksFailed(
      `All ${subtasks.length} subtasks failed, so there is nothing to synthesize: ${failed.map(describeFailure).join(', ')}`,
    );
  }
  await deps.repository.setJobStatus(job.jobId, 'SYNTHESIZING');

  const profile = profileNamed(job.profile);
  const call = {
    model: profile.models?.synthesis ?? deps.settings.model,
    maxTokens: profile.maxTokens?.synthesis ?? deps.settings.maxTokens,
  };
  const ceilings = ceilingsOf(job);
  const worst = ceilings ? await holdSynthesis(job, subtasks, call, ceilings, deps) : undefined;
  const response = await deps.model
    .complete({
      model: call.model,
      system: synthesisSystemPrompt(profile),
      messages: synthesisPrompt(
        { task: job.task, context: job.context, templates: job.templates },
        plan,
        subtasks,
      ),
      maxTokens: call.maxTokens,
      timeoutMs: deps.remainingMs(),
    })
    .catch(async (error: unknown) => {
      if (ceilings && worst && wasNotBilled(error))
        await deps.repository.changeBudgetLedger(job.jobId, {
          microUsd: -worst.microUsd,
          outputTokens: -worst.outputTokens,
          ceilings,
        });
      throw error;
    });
  const usage = priced(response.model, response.usage, response.billing);
  if (ceilings && worst) {
    await deps.repository.changeBudgetLedger(job.jobId, {
      microUsd: toMicroUsd(usage.costUsd) - worst.microUsd,
      outputTokens: usage.outputTokens - worst.outputTokens,
      ceilings,
    });
  }
  const unusable = unusableAnswer('synthesis', response);
  if (unusable) {
    // Billed all the same; the Catch then marks the job FAILED, its subtasks' outputs kept.
    await deps.repository.recordFailedSynthesisUsage(job.jobId, usage);
    throw unusable;
  }
  // Profiles such as marketing keep every output, labelled, with the synthesis as a comparison below.
  const synthesis = profile.synthesis.includeOutputs
    ? `${labelledOutputs(subtasks)}\n\n## Comparison and recommendation\n\n${response.text.trim()}`
    : response.text;
  const status = failed.length > 0 ? 'PARTIAL' : 'SUCCEEDED';
  const completed = await deps.repository.completeJob(job.jobId, {
    status,
    synthesis,
    usage,
    stopReason: response.stopReason,
    ...(failed.length > 0
      ? {
          error: {
            name: 'SubtasksFailed',
            message: `${failed.length} of ${subtasks.length} subtasks failed: ${failed.map(describeFailure).join(', ')}`,
          },
        }
      : {}),
  });
  if (!completed) return { jobId: job.jobId, status, ...counts };
  const costUsd = sumUsage([job.planUsage, ...subtasks.map((subtask) => subtask.usage), usage]).costUsd;
  return { jobId: job.jobId, status, ...counts, costUsd };
}

/**
 * Holds the synthesis call's worst case in the job's budget ledger: the first attempt takes over
 * the reservation made before the workers started (adding or giving back the difference to the
 * exact prompt's worst case); a retry holds its own. Throws BudgetExceeded when it does not fit.
 */
async function holdSynthesis(
  job: JobRecord,
  subtasks: readonly SubtaskRecord[],
  call: { model: string; maxTokens: number },
  ceilings: Ceilings,
  deps: SynthesisDependencies,
) {
  const plan = job.plan;
  if (!plan) throw new JobNotFound(`Job ${job.jobId} has no stored plan`);
  const profile = profileNamed(job.profile);
  const worst = synthesisWorstCase(job, profile, plan, { worker: call, synthesis: call }, subtasks);
  const hold = {
    microUsd: job.synthesisHoldMicroUsd ?? 0,
    outputTokens: job.synthesisHoldOutputTokens ?? 0,
  };
  const change = await deps.repository.changeBudgetLedger(job.jobId, {
    microUsd: worst.microUsd - hold.microUsd,
    outputTokens: worst.outputTokens - hold.outputTokens,
    ceilings,
    enforce: true,
    ...(job.synthesisHoldMicroUsd !== undefined
      ? { hold: { from: hold, to: { microUsd: 0, outputTokens: 0 } } }
      : {}),
  });
  if (!change.held) throw new BudgetExceeded(refusalMessage('the synthesis', worst, ceilings, change.over));
  return worst;
}
