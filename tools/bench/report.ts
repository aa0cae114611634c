/** The benchmark's printed tables. */
import type { BundleMeasurement } from './bundles';
import type { GovernorMeasurement, JobMeasurement, ThroughputMeasurement } from './local-jobs';
import type { StartupMeasurement } from './startup';

/** One latency scenario: N subtasks at a MaxConcurrency, the orchestrated runs and the sequential loop. */
export interface ScenarioResult {
  subtasks: number;
  maxConcurrency: number;
  runs: JobMeasurement[];
  /** The run with the median end-to-end/critical-path ratio. */
  median: JobMeasurement;
  ratio: number;
  sequentialMs: number[];
  sequentialMedianMs: number;
  speedup: number;
  /** Sequential worker calls against the orchestrated fan-out (RunWaves): the parallel part alone. */
  fanOutSpeedup: number;
}

export interface BenchTargets {
  ratioAtN16: { target: number; measured: number | null; met: boolean | null };
  /** `measured`: the fan-out speedup ÷ N of each scenario within its MaxConcurrency. */
  speedup: { target: string; measured: string; met: boolean | null };
  workerBundleBytes: { target: number; measured: number | null; met: boolean | null };
  workerInitMs: { target: number; measured: number | null; met: boolean | null };
  /** Time to first model call of a warm `npm start` (median). */
  startupWarmMs: { target: number; measured: number | null; met: boolean | null };
  /** The governed shared-rate-limit row. */
  governed: { target: string; measured: string; met: boolean | null };
  /** The batch lane's model cost per item ÷ on demand's (with 0 Lambda-seconds waiting). */
  batchCostRatio?: { target: number; measured: number | null; met: boolean | null };
}

export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  return [
    line(headers),
    `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

const ms = (value: number) => `${Math.round(value)} ms`;
const usd = (value: number) => `$${value.toPrecision(3)}`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

export function latencyTable(scenarios: readonly ScenarioResult[]): string {
  return formatTable(
    [
      'N',
      'MaxConcurrency',
      'waves',
      'end-to-end',
      'critical path',
      'ratio',
      'sequential',
      'speedup',
      'fan-out speedup / N',
      'in Lambdas',
      'engine',
      'transitions',
      'overhead / transition',
      'engine / transition',
    ],
    scenarios.map((scenario) => {
      const job = scenario.median;
      return [
        String(scenario.subtasks),
        String(scenario.maxConcurrency),
        String(job.waves),
        ms(job.endToEndMs),
        ms(job.criticalPathMs),
        scenario.ratio.toFixed(3),
        ms(scenario.sequentialMedianMs),
        `${scenario.speedup.toFixed(1)}×`,
        (scenario.fanOutSpeedup / scenario.subtasks).toFixed(2),
        ms(job.endToEndMs - job.criticalPathMs - job.engineMs),
        ms(job.engineMs),
        String(job.stateTransitions),
        `${((job.endToEndMs - job.criticalPathMs) / job.stateTransitions).toFixed(1)} ms`,
        `${(job.engineMs / job.stateTransitions).toFixed(1)} ms`,
      ];
    }),
  );
}

export function throughputTable(throughput: ThroughputMeasurement): string {
  return formatTable(
    [
      'jobs at once',
      'N',
      'MaxConcurrency',
      'wall',
      'jobs/min',
      'mean end-to-end',
      'max end-to-end',
      'engine / transition',
    ],
    [
      [
        String(throughput.jobs),
        String(throughput.subtasksPerJob),
        String(throughput.maxConcurrency),
        ms(throughput.wallMs),
        throughput.jobsPerMinute.toFixed(0),
        ms(throughput.meanEndToEndMs),
        ms(throughput.maxEndToEndMs),
        `${throughput.engineMsPerTransition.toFixed(1)} ms`,
      ],
    ],
  );
}

export function costTable(scenarios: readonly ScenarioResult[]): string {
  const seen = new Set<number>();
  const perN = scenarios.filter((scenario) => !seen.has(scenario.subtasks) && seen.add(scenario.subtasks));
  return formatTable(
    [
      'N',
      'state transitions',
      'Lambda invocations',
      'Lambda GB-s',
      'Step Functions',
      'Lambda',
      'per job',
      'per 1,000 jobs',
    ],
    perN.map(({ subtasks, median: { cost } }) => [
      String(subtasks),
      String(cost.stateTransitions),
      String(cost.lambdaInvocations),
      cost.lambdaGbSeconds.toFixed(2),
      usd(cost.stepFunctionsUsd),
      usd(cost.lambdaUsd),
      usd(cost.totalUsd),
      `$${(cost.totalUsd * 1000).toFixed(2)}`,
    ]),
  );
}

export function startupTable(startup: StartupMeasurement): string {
  const runs = (values: readonly number[]) => values.map((value) => String(Math.round(value))).join(', ');
  return formatTable(
    ['npm start', 'time to first model call (median)', 'runs (ms)'],
    [
      ['cold (no template cache)', ms(startup.coldMedianMs), runs(startup.coldMs)],
      ['warm (template cached)', ms(startup.warmMedianMs), runs(startup.warmMs)],
    ],
  );
}

export function bundleTable(bundles: readonly BundleMeasurement[]): string {
  return formatTable(
    ['function', 'bundle', 'init (median)', 'largest parts'],
    bundles.map((bundle) => [
      bundle.name,
      `${kb(bundle.bytes)} (${bundle.bytes} B)`,
      `${bundle.initMs.toFixed(0)} ms`,
      bundle.largestPackages
        .slice(0, 3)
        .map((part) => `${part.name} ${kb(part.bytes)}`)
        .join(', '),
    ]),
  );
}

export function targetLines(targets: BenchTargets): string {
  const verdict = (met: boolean | null) => (met === null ? 'not measured' : met ? 'met' : 'MISSED');
  return [
    `ratio at N = 16 (MaxConcurrency ≥ N) ≤ ${targets.ratioAtN16.target}: ${targets.ratioAtN16.measured?.toFixed(3) ?? '-'} → ${verdict(targets.ratioAtN16.met)}`,
    `speedup ${targets.speedup.target}: ${targets.speedup.measured || '-'} → ${verdict(targets.speedup.met)}`,
    `worker bundle ≤ ${targets.workerBundleBytes.target} B: ${targets.workerBundleBytes.measured ?? '-'} → ${verdict(targets.workerBundleBytes.met)}`,
    `worker init ≤ ${targets.workerInitMs.target} ms: ${targets.workerInitMs.measured?.toFixed(0) ?? '-'} → ${verdict(targets.workerInitMs.met)}`,
    `warm npm start to first model call ≤ ${targets.startupWarmMs.target} ms: ${targets.startupWarmMs.measured?.toFixed(0) ?? '-'} → ${verdict(targets.startupWarmMs.met)}`,
    `governor: ${targets.governed.target}: ${targets.governed.measured} → ${verdict(targets.governed.met)}`,
    ...(targets.batchCostRatio
      ? [
          `batch-lane model cost per item ≤ ${targets.batchCostRatio.target}× on demand, 0 Lambda-s waiting: ${targets.batchCostRatio.measured?.toFixed(2) ?? '-'}× → ${verdict(targets.batchCostRatio.met)}`,
        ]
      : []),
  ].join('\n');
}

export function governorTable(rows: readonly GovernorMeasurement[]): string {
  return formatTable(
    [
      'governor',
      'jobs × workers',
      'limit in flight',
      'succeeded',
      'model calls',
      'answered 429',
      'in-flight peak',
      'wall',
      'model span',
      'ideal',
      'wall / ideal',
      'span / ideal',
      'worker calls/s (ideal)',
    ],
    rows.map((row) => [
      row.governed ? 'on' : 'off',
      `${row.jobs} × ${row.subtasksPerJob}`,
      String(row.limit),
      `${row.succeeded} of ${row.jobs}`,
      String(row.modelCalls),
      `${row.rateLimited} (${(row.rateLimitedShare * 100).toFixed(1)} %)`,
      String(row.peakInFlight),
      ms(row.wallMs),
      ms(row.modelSpanMs),
      ms(row.idealMs),
      (row.wallMs / row.idealMs).toFixed(2),
      (row.modelSpanMs / row.idealMs).toFixed(2),
      `${row.workerCallsPerSecond.toFixed(2)} (${row.idealWorkerCallsPerSecond.toFixed(2)})`,
    ]),
  );
}
