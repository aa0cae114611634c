import * as z from 'zod';
import { AllSubtasksFailed, JobNotFound, unusableAnswer } from '../shared/domain/errors';
import type { JobRepository } from '../shared/storage/job-repository';
import type { ModelGateway } from '../shared/model/gateway';
import { priced, sumUsage } from '../shared/domain/pricing';
import { profileNamed } from '../shared/domain/profiles';
import { labelledOutputs, synthesisPrompt, synthesisSystemPrompt } from '../shared/model/prompts';
import { JobIdSchema, type SubtaskRecord } from '../shared/domain/schemas';

export const SynthesizeEventSchema = z.object({ jobId: JobIdSchema });
export type SynthesizeEvent = z.infer<typeof SynthesizeEventSchema>;

export interface SynthesisSettings {
  model: string;
  maxTokens: number;
}

export interface SynthesisDependencies {
  repository: Pick<
    JobRepository,
    'completeJob' | 'getJobWithSubtasks' | 'recordFailedSynthesisUsage' | 'setJobStatus'
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
  const response = await deps.model.complete({
    model: profile.models?.synthesis ?? deps.settings.model,
    system: synthesisSystemPrompt(profile),
    messages: synthesisPrompt(
      { task: job.task, context: job.context, templates: job.templates },
      plan,
      subtasks,
    ),
    maxTokens: profile.maxTokens?.synthesis ?? deps.settings.maxTokens,
    timeoutMs: deps.remainingMs(),
  });
  const usage = priced(response.model, response.usage, response.billing);
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
