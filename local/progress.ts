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
  const lastError = new Map<string, string>();
  const started = new Set<string>();
  // Inside the Map, every state's input names its subtask ({ jobId, subtaskId }).
  const subtaskOf = (event: { state: { input: unknown } }) =>
    String((event.state.input as { subtaskId?: unknown } | null)?.subtaskId ?? '?');

  for await (const event of events) {
    switch (event.type) {
      case 'StateEntered':
        if (event.state.name === 'RunSubtask' && !started.has(subtaskOf(event))) {
          started.add(subtaskOf(event));
          write(`[${elapsed()}]   → ${subtaskOf(event)} started`);
        }
        if (event.state.name === 'RunSubtasks') {
          const wave = (event.state.input as { wave?: number } | null)?.wave;
          if (typeof wave === 'number') write(`[${elapsed()}] Wave ${wave + 1}`);
        }
        if (event.state.name === 'Plan')
          write(`[${elapsed()}] Planning: the orchestrator model is choosing subtasks…`);
        if (event.state.name === 'Synthesize') write(`[${elapsed()}] Synthesizing the results…`);
        if (event.state.name === 'MarkFailed') write(`[${elapsed()}] The job failed; recording why…`);
        break;
      case 'StateExited':
        if (event.state.name === 'Plan') {
          const plan = await source.loadPlan();
          const waves =
            (event.state.output as { plan?: { waves?: string[][] } } | undefined)?.plan?.waves ?? [];
          const waveOf = new Map(waves.flatMap((wave, index) => wave.map((id) => [id, index + 1] as const)));
          const subtasks = plan?.subtasks ?? [];
          write(
            `[${elapsed()}] Plan: ${subtasks.length} subtasks${waves.length > 1 ? ` in ${waves.length} dependency waves` : ''}`,
          );
          if (plan?.analysis) write(`         ${plan.analysis}`);
          for (const [i, subtask] of subtasks.entries()) {
            const after = subtask.dependsOn.length > 0 ? ` (after ${subtask.dependsOn.join(', ')})` : '';
            const wave = waves.length > 1 ? ` [wave ${waveOf.get(subtask.id) ?? '?'}]` : '';
            write(`         ${i + 1}. [${subtask.type}] ${subtask.id}: ${subtask.title}${after}${wave}`);
          }
        }
        if (event.state.name === 'RunSubtask') {
          const output = event.state.output as { attempts?: number } | undefined;
          const attempts =
            output?.attempts && output.attempts > 1 ? ` after ${output.attempts} attempts` : '';
          write(`[${elapsed()}]   ✓ ${subtaskOf(event)} done${attempts}`);
        }
        break;
      case 'StateFailed':
        lastError.set(`${event.state.name}:${subtaskOf(event)}`, event.Error);
        break;
      case 'StateRetried': {
        const error = lastError.get(`${event.state.name}:${subtaskOf(event)}`) ?? 'an error';
        const who = event.state.name === 'RunSubtask' ? subtaskOf(event) : event.state.name;
        write(`[${elapsed()}]   ↻ ${who}: retrying after ${error} (retry ${event.retry.attempt})`);
        break;
      }
      case 'StateCaught':
        if (event.state.name === 'RunSubtask') {
          const error = lastError.get(`RunSubtask:${subtaskOf(event)}`) ?? 'an error';
          write(`[${elapsed()}]   ✗ ${subtaskOf(event)} failed: ${error} (the job goes on without it)`);
        }
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
