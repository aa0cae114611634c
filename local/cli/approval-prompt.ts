import { formatUsd } from '../../lambdas/shared/domain/budget';
import type { JobView } from '../../lambdas/shared/views/job-view';

/** The plan and its estimate, as a person reads them before deciding (one line per subtask). */
export function approvalSummary(view: JobView): string[] {
  const subtasks = view.plan?.subtasks ?? [];
  const estimate = view.estimate;
  return [
    `The plan of job ${view.jobId} waits for approval: ${subtasks.length} subtask${subtasks.length === 1 ? '' : 's'}`,
    ...subtasks.map(
      (subtask) =>
        `  - ${subtask.id}: ${subtask.title}${subtask.dependsOn.length > 0 ? ` (after ${subtask.dependsOn.join(', ')})` : ''}`,
    ),
    ...(estimate
      ? [
          `Estimate (an upper bound: every call's prompt and max_tokens at the price table): at most ${formatUsd(estimate.costUsd)}, ${estimate.inputTokens} input / ${estimate.outputTokens} output tokens`,
        ]
      : []),
  ];
}

/** `Run 5 subtasks, at most $0.12? [y/N] ` */
export function approvalQuestion(view: JobView): string {
  const count = view.plan?.subtasks.length ?? 0;
  return `Run ${count} subtask${count === 1 ? '' : 's'}, at most ${formatUsd(view.estimate?.costUsd ?? 0)}? [y/N] `;
}

/** Only an explicit yes approves; anything else (Enter included) rejects. */
export const isYes = (answer: string): boolean => /^\s*(y|yes)\s*$/i.test(answer);
