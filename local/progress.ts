import type { JobView } from '../lambdas/shared/job-view';
import type { ExecutionEvent } from './local-orchestrator';

/** What the progress reporter needs to know beyond the event stream. */
export interface ProgressSource {
  /** Called once the Plan state has finished, to list the planned subtasks. */
  loadPlan(): Promise<JobView['plan']>;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/**
 * Turns the execution's event stream into human-readable progress lines: the plan, each subtask as
 * it starts, retries and finishes, and synthesis. Lines go to `write` (stderr in the CLI).
 */
export async function reportProgress(
  events: AsyncIterable<ExecutionEvent>,
  source: ProgressSource,
  write: (line: string) => void,
  now: () => number = Date.now,
): Promise<void> {
  const startedAt = now();
  const elapsed = () => seconds(now() - startedAt);
  let subtaskIds: string[] = [];
  const lastError = new Map<string, string>();
  const label = (index: number | undefined) =>
    index === undefined ? '?' : (subtaskIds[index] ?? `#${index + 1}`);

  for await (const event of events) {
    switch (event.type) {
      case 'StateEntered':
        if (event.state.name === 'Plan')
          write(`[${elapsed()}] Planning: the orchestrator model is choosing subtasks…`);
        if (event.state.name === 'Synthesize') write(`[${elapsed()}] Synthesizing the results…`);
        if (event.state.name === 'MarkFailed') write(`[${elapsed()}] The job failed; recording why…`);
        break;
      case 'StateExited':
        if (event.state.name === 'Plan') {
          const plan = await source.loadPlan();
          subtaskIds = plan?.subtasks.map((subtask) => subtask.id) ?? [];
          write(`[${elapsed()}] Plan: ${subtaskIds.length} subtasks`);
          if (plan?.analysis) write(`         ${plan.analysis}`);
          for (const [i, subtask] of (plan?.subtasks ?? []).entries()) {
            write(`         ${i + 1}. [${subtask.type}] ${subtask.id}: ${subtask.title}`);
          }
        }
        if (event.state.name === 'RunSubtask') {
          const output = event.state.output as { attempts?: number } | undefined;
          const attempts =
            output?.attempts && output.attempts > 1 ? ` after ${output.attempts} attempts` : '';
          write(`[${elapsed()}]   ✓ ${label(event.index)} done${attempts}`);
        }
        break;
      case 'StateFailed':
        lastError.set(`${event.state.name}:${event.index ?? ''}`, event.Error);
        break;
      case 'StateRetried': {
        const error = lastError.get(`${event.state.name}:${event.index ?? ''}`) ?? 'an error';
        const who = event.state.name === 'RunSubtask' ? label(event.index) : event.state.name;
        write(`[${elapsed()}]   ↻ ${who}: retrying after ${error} (retry ${event.retry.attempt})`);
        break;
      }
      case 'StateCaught':
        if (event.state.name === 'RunSubtask') {
          const error = lastError.get(`RunSubtask:${event.index ?? ''}`) ?? 'an error';
          write(`[${elapsed()}]   ✗ ${label(event.index)} failed: ${error} (the job goes on without it)`);
        }
        break;
      case 'MapIterationStarted':
        write(`[${elapsed()}]   → ${label(event.index)} started`);
        break;
      default:
        break;
    }
  }
}

/** The closing line: status, time, subtasks and tokens. */
export function summaryLine(view: JobView, elapsedMs: number): string {
  const succeeded = view.subtasks.filter((subtask) => subtask.status === 'SUCCEEDED').length;
  const { inputTokens, outputTokens, costUsd } = view.usage;
  const cost = costUsd > 0 ? ` · est. $${costUsd.toFixed(4)}` : '';
  return `${view.status} in ${seconds(elapsedMs)} · ${succeeded}/${view.subtasks.length} subtasks succeeded · ${inputTokens} input / ${outputTokens} output tokens${cost} · job ${view.jobId}${view.consoleUrl ? ` · console ${view.consoleUrl}` : ''}`;
}
