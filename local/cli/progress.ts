import type { JobView } from '../../lambdas/shared/views/job-view';
import type { UsageTotals } from '../../lambdas/shared/domain/pricing';
import type { ExecutionEvent } from '../runtime/stack';
import {
  ProgressModel,
  type ProgressChange,
  type ProgressState,
  type SubtaskProgress,
  type SubtaskUsage,
} from './progress-model';

/** What the progress reporter needs to know beyond the event stream. */
export interface ProgressSource {
  /** Called once the Plan state has finished, to list the planned subtasks. */
  loadPlan(): Promise<JobView['plan']>;
  /** Called when a subtask has succeeded, for its tokens. */
  loadSubtaskUsage?(subtaskId: string): Promise<SubtaskUsage | null>;
}

/** Shows progress: told of every change, and once more when the job has ended. */
export interface ProgressRenderer {
  onChange(change: ProgressChange, state: ProgressState, now: number): void;
  finish(state: ProgressState, now: number): void;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const count = (n: number) => n.toLocaleString('en-US');

function tokensText(usage: SubtaskUsage): string {
  const cache = [
    usage.cacheReadTokens > 0 ? `${count(usage.cacheReadTokens)} cache read` : '',
    usage.cacheWriteTokens > 0 ? `${count(usage.cacheWriteTokens)} cache write` : '',
  ].filter(Boolean);
  return `${count(usage.inputTokens)} in / ${count(usage.outputTokens)} out${cache.length > 0 ? ` (${cache.join(', ')})` : ''} tokens`;
}

/**
 * Folds the execution's events into a {@link ProgressModel} and hands each change to the renderer,
 * loading the plan when planning ends and a subtask's tokens when it succeeds.
 */
export async function reportProgress(
  events: AsyncIterable<ExecutionEvent>,
  source: ProgressSource,
  renderer: ProgressRenderer,
  now: () => number = Date.now,
): Promise<ProgressState> {
  const model = new ProgressModel(now());
  for await (const event of events) {
    for (const change of model.apply(event, now())) {
      if (change.kind === 'plan-finished') {
        for (const planned of model.setPlan(await source.loadPlan(), change.waves))
          renderer.onChange(planned, model.state, now());
        continue;
      }
      if (change.kind === 'succeeded' && source.loadSubtaskUsage) {
        model.setUsage(change.id, await source.loadSubtaskUsage(change.id));
      }
      renderer.onChange(change, model.state, now());
    }
  }
  renderer.finish(model.state, now());
  return model.state;
}

/** One line per change, as in a log: for pipes, files and CI. */
export class PlainProgressRenderer implements ProgressRenderer {
  constructor(private readonly write: (line: string) => void) {}

  onChange(change: ProgressChange, state: ProgressState, now: number): void {
    const at = `[${seconds(now - state.startedAt)}]`;
    const subtask = (id: string) => state.subtasks.find((candidate) => candidate.id === id);
    switch (change.kind) {
      case 'planning':
        return this.write(`${at} Planning: the orchestrator model is choosing subtasks…`);
      case 'planned':
        for (const line of planLines(state)) this.write(line.startsWith(' ') ? line : `${at} ${line}`);
        return;
      case 'wave':
        return this.write(`${at} Wave ${change.wave + 1}`);
      case 'started':
        return this.write(`${at}   → ${change.id} started`);
      case 'retrying':
        return this.write(`${at}   ↻ ${change.who}: retrying after ${change.error} (retry ${change.retry})`);
      case 'waiting':
        return this.write(`${at}   ⏸ ${change.who}: waiting for model capacity (modelLimits)`);
      case 'succeeded': {
        const done = subtask(change.id);
        const attempts = done && done.attempts > 1 ? ` after ${done.attempts} attempts` : '';
        const tokens = done?.usage ? ` · ${tokensText(done.usage)}` : '';
        return this.write(`${at}   ✓ ${change.id} done${attempts}${tokens}`);
      }
      case 'failed':
        return this.write(`${at}   ✗ ${change.id} failed: ${change.error} (the job goes on without it)`);
      case 'synthesizing':
        return this.write(`${at} Synthesizing the results…`);
      case 'failing':
        return this.write(`${at} The job failed; recording why…`);
      case 'plan-finished':
        return;
    }
  }

  finish(): void {}
}

function planLines(state: ProgressState): string[] {
  const lines = [
    `Plan: ${state.subtasks.length} subtasks${state.waveCount > 1 ? ` in ${state.waveCount} dependency waves` : ''}`,
  ];
  if (state.analysis) lines.push(`         ${state.analysis}`);
  for (const [i, subtask] of state.subtasks.entries()) {
    const after = subtask.dependsOn.length > 0 ? ` (after ${subtask.dependsOn.join(', ')})` : '';
    const wave = subtask.wave === null ? '' : ` [wave ${subtask.wave + 1}]`;
    lines.push(`         ${i + 1}. [${subtask.type}] ${subtask.id}: ${subtask.title}${after}${wave}`);
  }
  return lines;
}

// ANSI control sequences: move the cursor up n lines, clear from the cursor to the end of the screen.
const cursorUp = (lines: number) => (lines > 0 ? `\u001b[${lines}A` : '');
const CLEAR_DOWN = '\u001b[0J';

const STATUS_ICON: Record<SubtaskProgress['status'], string> = {
  queued: '·',
  running: '→',
  retrying: '↻',
  succeeded: '✓',
  failed: '✗',
};

const PHASE_TEXT: Record<ProgressState['phase'], string> = {
  starting: 'Starting',
  planning: 'Planning: the orchestrator model is choosing subtasks…',
  running: 'Running the subtasks',
  synthesizing: 'Synthesizing the results…',
  failing: 'The job failed; recording why…',
};

/** Cuts a line to the terminal's width, so no line wraps and the redraw counts stay right. */
function fit(line: string, width: number): string {
  const chars = [...line];
  return chars.length <= width ? line : `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

/** The live block: one line per subtask, then the job's phase (or that it finished) and elapsed time. */
export function progressFrame(state: ProgressState, now: number, width: number, finished = false): string[] {
  const idWidth = Math.min(32, Math.max(0, ...state.subtasks.map((subtask) => subtask.id.length)));
  const rows = state.subtasks.map((subtask) => {
    const elapsed =
      subtask.startedAt === null ? '' : seconds((subtask.finishedAt ?? now) - subtask.startedAt);
    const attempts = subtask.attempts === 1 ? '1 attempt' : `${subtask.attempts} attempts`;
    const detail =
      subtask.status === 'succeeded' && subtask.usage
        ? tokensText(subtask.usage)
        : subtask.error && (subtask.status === 'retrying' || subtask.status === 'failed')
          ? `after ${subtask.error}`
          : '';
    const columns = [
      `  ${STATUS_ICON[subtask.status]} ${subtask.id.padEnd(idWidth)}`,
      subtask.status.padEnd(9),
      subtask.attempts > 0 ? attempts.padEnd(10) : ''.padEnd(10),
      elapsed.padStart(6),
      detail,
    ];
    return fit(columns.join('  ').trimEnd(), width);
  });
  const footer = finished ? 'Finished' : PHASE_TEXT[state.phase];
  return [...rows, fit(`${footer} · ${seconds(now - state.startedAt)}`, width)];
}

export interface TtyRendererOptions {
  /** Shortest time between two redraws; the elapsed times tick at this rate. Default 150 ms. */
  intervalMs?: number;
  now?: () => number;
  /** Starts the redraw timer; returns its stop function. Tests pass one they drive by hand. */
  every?: (ms: number, tick: () => void) => () => void;
}

/** What the TTY renderer writes to: stderr, or a fake in tests. */
export interface TerminalOutput {
  write(text: string): unknown;
  columns?: number | undefined;
}

const realTimer = (ms: number, tick: () => void) => {
  const timer = setInterval(tick, ms);
  timer.unref();
  return () => clearInterval(timer);
};

/**
 * Redraws the subtask block in place on a terminal: the plan above it stays, the block is rewritten
 * (cursor up, clear, draw) at most every `intervalMs`, and the final state is left on screen.
 */
export class TtyProgressRenderer implements ProgressRenderer {
  private drawnLines = 0;
  private state: ProgressState | undefined;
  private finished = false;
  private stopTimer: (() => void) | undefined;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly every: NonNullable<TtyRendererOptions['every']>;

  constructor(
    private readonly output: TerminalOutput,
    options: TtyRendererOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 150;
    this.now = options.now ?? Date.now;
    this.every = options.every ?? realTimer;
  }

  onChange(change: ProgressChange, state: ProgressState, now: number): void {
    const first = this.state === undefined;
    this.state = state;
    this.stopTimer ??= this.every(this.intervalMs, () => this.draw([], this.now()));
    // The plan and retries of Plan or Synthesize scroll above the block at once; changes inside the
    // block show at the next tick, so a burst of events is one redraw.
    if (change.kind === 'planned') return this.draw(planLines(state).slice(0, 2), now);
    if (change.kind === 'retrying' && change.subtaskId === null) {
      return this.draw([`  ↻ ${change.who}: retrying after ${change.error} (retry ${change.retry})`], now);
    }
    if (first) this.draw([], now);
  }

  /**
   * Stops redrawing while something else writes to the terminal (the approval question); the next
   * change draws below it instead of over it.
   */
  pause(): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
    this.drawnLines = 0;
  }

  finish(state: ProgressState, now: number): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
    this.state = state;
    this.draw([], now, true);
    this.finished = true;
  }

  private draw(notes: string[], now: number, finished = false): void {
    if (!this.state || this.finished) return;
    // A pseudo-terminal may report 0 columns: treat it as unknown.
    const width = Math.max(20, (this.output.columns || 80) - 1);
    const frame = progressFrame(this.state, now, width, finished);
    const lines = [...notes.map((note) => fit(note, width)), ...frame];
    this.output.write(`${cursorUp(this.drawnLines)}${CLEAR_DOWN}${lines.join('\n')}\n`);
    this.drawnLines = frame.length;
  }
}

function usageRow(label: string, usage: UsageTotals, labelWidth: number): string {
  return [
    `  ${label.padEnd(labelWidth)}`,
    count(usage.inputTokens).padStart(9),
    count(usage.outputTokens).padStart(9),
    count(usage.cacheReadTokens).padStart(11),
    count(usage.cacheWriteTokens).padStart(12),
    `$${usage.costUsd.toFixed(4)}`.padStart(10),
  ].join(' ');
}

/**
 * The usage table of the closing summary: planning, each subtask, synthesis and the total, with
 * tokens by kind and the estimated cost.
 */
export function usageTable(view: JobView, options: { simulated: boolean }): string[] {
  const rows: [string, UsageTotals][] = [
    ['plan', view.usage.byRole.plan],
    ...view.subtasks.map((subtask): [string, UsageTotals] => [`subtask ${subtask.id}`, subtask.usage]),
    ['synthesis', view.usage.byRole.synthesis],
    ['total', view.usage],
  ];
  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const header = [
    `  ${''.padEnd(labelWidth)}`,
    'input'.padStart(9),
    'output'.padStart(9),
    'cache read'.padStart(11),
    'cache write'.padStart(12),
    'est. cost'.padStart(10),
  ].join(' ');
  return [
    `Tokens and estimated cost (USD, from the price table in lambdas/shared/domain/pricing.ts; an estimate, not a bill${
      options.simulated ? '; the simulated model’s tokens are simulated too' : ''
    }):`,
    header,
    ...rows.map(([label, usage]) => usageRow(label, usage, labelWidth)),
  ];
}

/** The closing line: status, time, subtasks and tokens. */
export function summaryLine(view: JobView, elapsedMs: number): string {
  const succeeded = view.subtasks.filter((subtask) => subtask.status === 'SUCCEEDED').length;
  const { inputTokens, outputTokens, cacheReadTokens, costUsd } = view.usage;
  const cached = cacheReadTokens > 0 ? ` (+${cacheReadTokens} read from cache)` : '';
  const cost = costUsd > 0 ? ` · est. $${costUsd.toFixed(4)}` : '';
  return `${view.status} in ${seconds(elapsedMs)} · ${succeeded}/${view.subtasks.length} subtasks succeeded · ${inputTokens} input${cached} / ${outputTokens} output tokens${cost} · job ${view.jobId}${view.consoleUrl ? ` · console ${view.consoleUrl}` : ''}`;
}
