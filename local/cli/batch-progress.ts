import type { BatchRunView } from '../../lambdas/shared/views/batch-view';
import type { ExecutionEvent } from '../runtime/stack';

export interface BatchProgress {
  total: number;
  done: number;
  failed: number;
  running: number;
}

const FAILED_STATUSES = new Set(['FAILED', 'CANCELLED']);

/** `[████████░░░░░░░░] 5/10 · 4 done · 1 failed · 3 running` */
export function renderProgressBar(progress: BatchProgress, width = 24): string {
  const finished = progress.done + progress.failed;
  const filled = progress.total === 0 ? width : Math.round((finished / progress.total) * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  return `[${bar}] ${finished}/${progress.total} · ${progress.done} done · ${progress.failed} failed · ${progress.running} running`;
}

/**
 * Follows a batch execution's events and calls `update` whenever an item starts or finishes:
 * an item is running from its Map iteration's start until its outcome is recorded.
 */
export async function followBatchProgress(
  events: AsyncIterable<ExecutionEvent>,
  total: number,
  update: (progress: BatchProgress) => void,
): Promise<BatchProgress> {
  const progress: BatchProgress = { total, done: 0, failed: 0, running: 0 };
  for await (const event of events) {
    if (event.type === 'MapIterationStarted' && event.parentState.name === 'RunItems') {
      progress.running++;
      update({ ...progress });
    }
    if (
      event.type === 'StateExited' &&
      ['RecordItemResult', 'RecordItemFailure', 'ItemNotRecorded'].includes(event.state.name)
    ) {
      const status = (event.state.output as { status?: string } | undefined)?.status ?? 'FAILED';
      progress.running = Math.max(0, progress.running - 1);
      if (FAILED_STATUSES.has(status) || event.state.name === 'ItemNotRecorded') progress.failed++;
      else progress.done++;
      update({ ...progress });
    }
  }
  return progress;
}

const LANE_STEP = /^(Submit|Check)(Plans|Workers|Syntheses)$/;

/**
 * One line about the batch lane's progress for a state's end, or undefined for states worth no line:
 * a batch submitted, a batch ended and applied, a phase done, the deadline passed. (A check finding
 * the batch still in progress says nothing, so the lines do not repeat every poll.)
 */
export function describeLaneEvent(event: ExecutionEvent): string | undefined {
  if (event.type !== 'StateExited') return undefined;
  if (event.state.name === 'FinishLane') return 'Batch lane finished; every item is recorded';
  const match = LANE_STEP.exec(event.state.name);
  if (!match) return undefined;
  const [, kind, phase = ''] = match;
  const lane = (
    event.state.output as { lane?: { next?: string; batchId?: string | null; requests?: number } }
  )?.lane;
  const what = phase.toLowerCase();
  if (lane?.next === 'fallback') return `${phase}: the deadline has passed; what is left runs on demand`;
  if (kind === 'Submit' && lane?.next === 'await')
    return `${phase}: Message Batch ${lane.batchId ?? ''} · ${lane.requests ?? 0} requests`;
  if (kind === 'Submit' && lane?.next === 'done') return `${phase}: none left to submit`;
  if (kind === 'Check' && lane?.next === 'submit')
    return `${phase}: Message Batch ${lane.batchId ?? ''} ended; its ${what} are stored`;
  return undefined;
}

const pad = (text: string, width: number) =>
  text.length >= width ? text : text + ' '.repeat(width - text.length);
const clip = (text: string, width: number) => (text.length <= width ? text : `${text.slice(0, width - 1)}…`);

/** The closing table: one row per item, then the counts by status. */
export function batchSummaryTable(view: BatchRunView, elapsedMs: number): string {
  const rows = view.items.map((item) => [
    String(item.index + 1),
    item.status,
    item.jobId,
    clip(item.error ? `${item.error.name}: ${item.error.message}` : item.task, 70),
  ]);
  const header = ['#', 'status', 'job id', 'task / error'];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => pad(cell, widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  const counts = Object.entries(view.counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, count]) => `${count} ${status}`)
    .join(' · ');
  return [
    line(header),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map(line),
    '',
    costLine(view),
    ...(view.budget ? [budgetLine(view.budget)] : []),
    `Batch ${view.batchName} run ${view.runId}: ${view.status} in ${(elapsedMs / 1000).toFixed(1)}s · ${view.itemCount} items · ${counts}`,
  ].join('\n');
}

const usd = (amount: number) => `$${amount.toFixed(4)}`;

/** The run's budget and what its jobs committed against it (spent, once the run has ended). */
export function budgetLine(budget: NonNullable<BatchRunView['budget']>): string {
  const ceilings = [
    ...(budget.maxCostUsd !== null ? [`maxCostUsd ${usd(budget.maxCostUsd)}`] : []),
    ...(budget.maxOutputTokens !== null ? [`maxOutputTokens ${budget.maxOutputTokens}`] : []),
  ].join(', ');
  return `Run budget ${ceilings} · committed ${usd(budget.committedUsd)}`;
}

/** The run's model cost at the rate paid, what it would have cost on demand, and the saving. */
export function costLine(view: Pick<BatchRunView, 'modelCalls' | 'usage'>): string {
  const { costUsd, onDemandCostUsd } = view.usage;
  if (view.modelCalls !== 'batch') return `Model calls on demand · cost ${usd(costUsd)}`;
  const saved = onDemandCostUsd > 0 ? Math.round((1 - costUsd / onDemandCostUsd) * 100) : 0;
  return `Model calls batch · cost ${usd(costUsd)} at the batch rate · on demand ${usd(onDemandCostUsd)} · saved ${usd(onDemandCostUsd - costUsd)} (${saved} %)`;
}
