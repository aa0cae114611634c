import type { LevelSummary } from './invariants';
import type { SoakReport } from './run-soak';

const percent = (level: number) => `${Math.round(level * 100)} %`;
const names = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([name, count]) => `${name} ${count}`)
    .join(', ') || '-';

/** The rows of the table: a label and how to read it from one level's summary. */
const ROWS: Array<[string, (level: LevelSummary) => string | number]> = [
  ['jobs', (level) => level.jobs.total],
  ['  SUCCEEDED', (level) => level.jobs.SUCCEEDED],
  ['  PARTIAL', (level) => level.jobs.PARTIAL],
  ['  FAILED', (level) => level.jobs.FAILED],
  [
    '  not terminal',
    (level) => level.jobs.total - level.jobs.SUCCEEDED - level.jobs.PARTIAL - level.jobs.FAILED,
  ],
  ['subtasks succeeded', (level) => level.subtasks.succeeded],
  ['subtasks failed', (level) => level.subtasks.failed],
  ['retries (Step Functions)', (level) => level.retries],
  ['model calls', (level) => level.modelCalls],
  ['  429 rate_limit', (level) => level.injected.rate_limit],
  ['  529 overloaded', (level) => level.injected.overloaded],
  ['  500 server_error', (level) => level.injected.server_error],
  ['  hang (past timeout)', (level) => level.injected.hang],
  ['  malformed plan', (level) => level.injected.malformed_plan],
  ['  429 beyond the provider limit', (level) => level.rateLimited],
  ['deferred by the governor', (level) => level.deferrals],
  ['model in-flight peak', (level) => level.peakInFlight || '-'],
  ['  latency spike', (level) => level.injected.spikes],
  ['worker crash before write', (level) => level.injected.crashesBeforeWrite],
  ['worker crash after write', (level) => level.injected.crashesAfterWrite],
  ['outputs produced', (level) => level.outputsProduced],
  ['outputs persisted', (level) => level.outputsPersisted],
  ['duplicates', (level) => level.duplicates],
  ['invariant violations', (level) => level.violations.length],
  ['wall clock', (level) => `${(level.wallClockMs / 1000).toFixed(1)} s`],
];

/**
 * The soak's result as text: one column per fault level, then the causes recorded per level and
 * every invariant violation with its job.
 */
export function formatSoakReport(report: SoakReport): string {
  const header = ['fault level', ...report.levels.map((level) => percent(level.level))];
  const rows = [
    header,
    ...ROWS.map(([label, read]) => [label, ...report.levels.map((level) => String(read(level)))]),
  ];
  const widths = header.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, column) => (column === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[column] ?? 0))).join(' | ')} |`;
  const separator = `|${widths.map((width, column) => (column === 0 ? '-'.repeat(width + 2) : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  const table = [line(header), separator, ...rows.slice(1).map(line)].join('\n');

  const causes = report.levels
    .map(
      (level) =>
        `${percent(level.level)}: FAILED jobs: ${names(level.causes.jobs)}; failed subtasks: ${names(level.causes.subtasks)}`,
    )
    .join('\n');
  const violations = report.levels.flatMap((level) =>
    level.violations.map(
      (violation) =>
        `${percent(level.level)} ${violation.jobId}: [${violation.invariant}] ${violation.detail}`,
    ),
  );
  const verdict =
    violations.length === 0
      ? 'All invariants held: every job terminal; every successful subtask output stored exactly once; usage counted once; PARTIAL/FAILED exactly when expected, with the cause recorded.'
      : `${violations.length} invariant violation(s):\n${violations.join('\n')}`;
  return [
    `Fault soak: ${report.jobsPerLevel} jobs per level, ${report.concurrency} at once, seed ${report.seed}, ` +
      (report.providerLimit
        ? `against a provider limit of ${report.providerLimit.maxInFlight} in flight per model ` +
          `${report.providerLimit.governed ? 'with' : 'without'} the governor, `
        : '') +
      `${(report.wallClockMs / 1000).toFixed(1)} s in all`,
    '',
    table,
    '',
    'Causes recorded',
    causes,
    '',
    verdict,
  ].join('\n');
}

/** True when no level recorded an invariant violation. */
export function soakPassed(report: SoakReport): boolean {
  return report.levels.every((level) => level.violations.length === 0);
}
