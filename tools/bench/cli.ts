/** `npm run bench`: the orchestrator's latency, speedup, throughput, cloud cost and bundles, measured locally. */
import '../../local/runtime/polyfills';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_BATCHES_DIR } from '../../lambdas/shared/batches/catalog';
import { DEFAULT_MODELS, INLINE_MAP_MAX_CONCURRENCY, parseConfig } from '../../lib/config';
import { LocalOrchestrator } from '../../local/runtime/stack';
import { runMain } from '../../local/cli/run-main';
import { synthesizeLocalStack } from '../../local/runtime/synthesis';
import { AWS_PRICES } from './aws-prices';
import { BENCH_USAGE, type BenchOptions, BenchUsageError, parseBenchArgs } from './bench-args';
import { type BundleMeasurement, measureBundle } from './bundles';
import {
  benchStackOptions,
  BENCH_REQUEST,
  type GovernorMeasurement,
  measureGovernor,
  measureJob,
  measureThroughput,
  type SimulatedLatency,
  type ThroughputMeasurement,
} from './local-jobs';
import { median } from './measurements';
import {
  type BenchTargets,
  bundleTable,
  costTable,
  governorTable,
  latencyTable,
  type ScenarioResult,
  startupTable,
  targetLines,
  throughputTable,
} from './report';
import { runSequentialBaseline } from './sequential-baseline';
import {
  BENCH_BATCH_PROCESSING_MS,
  type BatchLaneMeasurement,
  batchLaneTable,
  measureBatchLane,
} from './batch-lanes';
import { measureStartup, STARTUP_TARGET_MS, type StartupMeasurement } from './startup';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const LATENCY_MS = { plan: 400, worker: 800, synthesis: 400 };
const DEFAULT_MAX_CONCURRENCY = parseConfig({}).maxConcurrency;
/** Every subtask at once where the Map allows it: max(N, the default), at most an inline Map's 40. */
const scenarioConcurrency = (subtasks: number) =>
  Math.min(Math.max(subtasks, DEFAULT_MAX_CONCURRENCY), INLINE_MAP_MAX_CONCURRENCY);
const TARGETS = {
  ratioAtN16: 1.1,
  speedupPerSubtask: 0.8,
  workerBundleBytes: 1_000_000,
  workerInitMs: 300,
  governedShare429: 0.05,
  governedSpanOverIdeal: 1.2,
  batchCostRatio: 0.55,
};

const log = (line: string) => process.stderr.write(`${line}\n`);

async function runScenario(
  subtasks: number,
  maxConcurrency: number,
  options: BenchOptions,
  latency: SimulatedLatency,
): Promise<ScenarioResult> {
  const orchestrator = await LocalOrchestrator.start(benchStackOptions(subtasks, maxConcurrency, latency));
  try {
    log(`N = ${subtasks}, MaxConcurrency ${maxConcurrency}: warm-up job, then ${options.repeat} measured`);
    // The first job pays for loading the handler modules and opening connections; Lambda would
    // pay that once per container, not per job.
    await measureJob(orchestrator);
    const runs = [];
    for (let run = 0; run < options.repeat; run++) runs.push(await measureJob(orchestrator));
    const byRatio = [...runs].sort(
      (a, b) => a.endToEndMs / a.criticalPathMs - b.endToEndMs / b.criticalPathMs,
    );
    const middle = byRatio[Math.floor((byRatio.length - 1) / 2)];
    if (!middle) throw new Error('no measured runs');

    const baseUrl = orchestrator.simulatedModel?.url ?? '';
    const sequentialMs = [];
    const sequentialWorkersMs = [];
    for (let run = 0; run < options.repeat; run++) {
      const sequential = await runSequentialBaseline({
        baseUrl,
        request: { ...BENCH_REQUEST, context: { ...BENCH_REQUEST.context } },
        subtasks,
        config: orchestrator.config,
      });
      sequentialMs.push(sequential.elapsedMs);
      sequentialWorkersMs.push(sequential.workersMs);
    }
    const sequentialMedianMs = median(sequentialMs);
    return {
      subtasks,
      maxConcurrency,
      runs,
      median: middle,
      ratio: middle.endToEndMs / middle.criticalPathMs,
      sequentialMs,
      sequentialMedianMs,
      speedup: sequentialMedianMs / middle.endToEndMs,
      fanOutSpeedup: median(sequentialWorkersMs) / middle.fanOutMs,
    };
  } finally {
    await orchestrator.close();
  }
}

async function runThroughput(
  options: BenchOptions,
  latency: SimulatedLatency,
): Promise<ThroughputMeasurement> {
  const subtasks = options.throughputSubtasks;
  const orchestrator = await LocalOrchestrator.start(
    benchStackOptions(subtasks, scenarioConcurrency(subtasks), latency),
  );
  try {
    log(`Throughput: ${options.jobs} jobs of N = ${subtasks} at once`);
    await measureJob(orchestrator);
    return await measureThroughput(orchestrator, options.jobs, subtasks);
  } finally {
    await orchestrator.close();
  }
}

/** Retry waits scaled like the model's latency: the simulated worker answers in 0.8 s, a real one in about 20 s. */
const GOVERNOR_RETRY_TIME_SCALE = 0.04;

async function runGovernor(options: BenchOptions, latency: SimulatedLatency): Promise<GovernorMeasurement[]> {
  const rows: GovernorMeasurement[] = [];
  for (const governed of [false, true]) {
    const limit = options.governorLimit;
    const stack = benchStackOptions(
      options.governorSubtasks,
      Math.max(options.governorSubtasks, 10),
      latency,
    );
    const orchestrator = await LocalOrchestrator.start({
      ...stack,
      model: { kind: 'simulated', options: { ...latency, limits: { maxInFlight: limit } } },
      config: {
        ...stack.config,
        ...(governed
          ? {
              modelLimits: Object.fromEntries(
                Object.values(DEFAULT_MODELS).map((id) => [id, { maxInFlight: limit }]),
              ),
            }
          : {}),
      },
      retryTimeScale: GOVERNOR_RETRY_TIME_SCALE,
    });
    try {
      log(
        `Governor ${governed ? 'on' : 'off'}: ${options.governorJobs} jobs × ${options.governorSubtasks} workers against ${limit} in flight`,
      );
      rows.push(
        await measureGovernor(orchestrator, {
          jobs: options.governorJobs,
          subtasksPerJob: options.governorSubtasks,
          limit,
          governed,
        }),
      );
    } finally {
      await orchestrator.close();
    }
  }
  return rows;
}

async function runBatchLanes(
  options: BenchOptions,
  latency: SimulatedLatency,
): Promise<BatchLaneMeasurement[]> {
  if (options.batchItems === 0) return [];
  const rows: BatchLaneMeasurement[] = [];
  for (const lane of ['on-demand', 'batch'] as const) {
    log(`Batch lane: ${options.batchItems} items, model calls ${lane}`);
    rows.push(await measureBatchLane(lane, options.batchItems, latency));
  }
  return rows;
}

/** The batch lane's model cost per item against on demand's, and its verdict. */
function batchTarget(rows: readonly BatchLaneMeasurement[]) {
  const onDemand = rows.find((row) => row.modelCalls === 'on-demand');
  const batch = rows.find((row) => row.modelCalls === 'batch');
  const ratio = onDemand && batch ? batch.costPerItemUsd / onDemand.costPerItemUsd : null;
  return {
    target: TARGETS.batchCostRatio,
    measured: ratio,
    met: ratio === null ? null : ratio <= TARGETS.batchCostRatio && (batch?.lambdaSecondsWaiting ?? 1) === 0,
  };
}

const batchLaneSection = (rows: readonly BatchLaneMeasurement[], options: BenchOptions) =>
  rows.length === 0
    ? []
    : [
        `Batch lane (the same ${options.batchItems} items on demand and through Message Batches; simulated batches take ${BENCH_BATCH_PROCESSING_MS / 1000} s, real ones minutes to hours)`,
        batchLaneTable(rows),
      ];

async function measureBundles(options: BenchOptions): Promise<BundleMeasurement[]> {
  const stack = synthesizeLocalStack(parseConfig({}));
  const outDir = path.join(path.dirname(path.resolve(options.out)), 'bundles');
  const measured: BundleMeasurement[] = [];
  for (const fn of stack.functions) {
    const name = path.basename(path.dirname(fn.entry));
    log(`Bundle: ${name}`);
    const environment = {
      ...fn.environment,
      AWS_REGION: 'us-east-1',
      ...(fn.environment.BATCHES_DIR ? { BATCHES_DIR: DEFAULT_BATCHES_DIR } : {}),
    };
    measured.push(await measureBundle({ name, entry: fn.entry, environment }, outDir, options.initSamples));
  }
  return measured;
}

function targetsOf(
  scenarios: ScenarioResult[],
  bundles: BundleMeasurement[],
  startup: StartupMeasurement,
  governor: GovernorMeasurement[],
): BenchTargets {
  const governed = governor.find((row) => row.governed);
  const n16 = scenarios.find((scenario) => scenario.subtasks === 16 && scenario.maxConcurrency >= 16);
  const withinConcurrency = scenarios.filter((scenario) => scenario.subtasks <= scenario.maxConcurrency);
  const worker = bundles.find((bundle) => bundle.name === 'worker');
  return {
    ratioAtN16: {
      target: TARGETS.ratioAtN16,
      measured: n16?.ratio ?? null,
      met: n16 ? n16.ratio <= TARGETS.ratioAtN16 : null,
    },
    speedup: {
      target: `of the fan-out ≥ ${TARGETS.speedupPerSubtask} × N while N ≤ MaxConcurrency`,
      measured: withinConcurrency
        .map(
          (scenario) => `N=${scenario.subtasks} ${(scenario.fanOutSpeedup / scenario.subtasks).toFixed(2)}`,
        )
        .join(', '),
      met:
        withinConcurrency.length === 0
          ? null
          : withinConcurrency.every(
              (scenario) => scenario.fanOutSpeedup >= TARGETS.speedupPerSubtask * scenario.subtasks,
            ),
    },
    workerBundleBytes: {
      target: TARGETS.workerBundleBytes,
      measured: worker?.bytes ?? null,
      met: worker ? worker.bytes <= TARGETS.workerBundleBytes : null,
    },
    workerInitMs: {
      target: TARGETS.workerInitMs,
      measured: worker?.initMs ?? null,
      met: worker ? worker.initMs <= TARGETS.workerInitMs : null,
    },
    startupWarmMs: {
      target: STARTUP_TARGET_MS,
      measured: startup.warmMedianMs,
      met: startup.warmMedianMs <= STARTUP_TARGET_MS,
    },
    governed: {
      target: `every job succeeds, in-flight peak ≤ the limit, < ${TARGETS.governedShare429 * 100} % answered 429, model span ≤ ${TARGETS.governedSpanOverIdeal} × ideal`,
      measured: governed
        ? `${governed.succeeded}/${governed.jobs} succeeded, peak ${governed.peakInFlight}/${governed.limit}, ${(governed.rateLimitedShare * 100).toFixed(1)} % 429, span ${(governed.modelSpanMs / governed.idealMs).toFixed(2)} × (wall ${(governed.wallMs / governed.idealMs).toFixed(2)} ×)`
        : '-',
      met: governed
        ? governed.succeeded === governed.jobs &&
          governed.peakInFlight <= governed.limit &&
          governed.rateLimitedShare < TARGETS.governedShare429 &&
          governed.modelSpanMs / governed.idealMs <= TARGETS.governedSpanOverIdeal
        : null,
    },
  };
}

async function main(argv: string[]): Promise<number> {
  let options: BenchOptions | null;
  try {
    options = parseBenchArgs(argv);
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    process.stderr.write(`error: ${error.message}\n\n${BENCH_USAGE}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(`${BENCH_USAGE}\n`);
    return 0;
  }
  const startedAt = Date.now();
  const latency: SimulatedLatency = { latencyMs: LATENCY_MS, jitterMs: options.jitterMs, seed: options.seed };

  if (options.batchOnly) {
    const batchLanes = await runBatchLanes(options, latency);
    const target = batchTarget(batchLanes);
    mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
    writeFileSync(
      options.out,
      `${JSON.stringify({ measuredAt: new Date().toISOString(), batchLanes, target }, null, 2)}\n`,
    );
    const verdict = target.met ? 'met' : 'MISSED';
    process.stdout.write(
      `${[...batchLaneSection(batchLanes, options), `batch-lane model cost per item ≤ ${TARGETS.batchCostRatio}× on demand, 0 Lambda-s waiting: ${target.measured?.toFixed(2) ?? '—'}× → ${verdict}`, `JSON in ${options.out}`].join('\n\n')}\n`,
    );
    return 0;
  }
  // First, while nothing else of the bench runs: child processes, each timed from its launch.
  log(`Start-up: npm start launched ${options.startupRuns} times cold and warm`);
  const startup = await measureStartup(options.startupRuns, log);
  const startupSection = [
    `Start-up: launch of npm start to its first model call (median of ${options.startupRuns}; warm run to exit ${Math.round(startup.warmExitMedianMs)} ms)`,
    startupTable(startup),
  ];
  if (options.startupOnly) {
    const results = {
      measuredAt: new Date().toISOString(),
      machine: { cpus: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.arch()}` },
      startup,
      target: { startupWarmMs: STARTUP_TARGET_MS, met: startup.warmMedianMs <= STARTUP_TARGET_MS },
    };
    mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
    const verdict = results.target.met ? 'met' : 'MISSED';
    process.stdout.write(
      `${[...startupSection, `warm npm start to first model call ≤ ${STARTUP_TARGET_MS} ms: ${Math.round(startup.warmMedianMs)} → ${verdict}`, `JSON in ${options.out}`].join('\n\n')}\n`,
    );
    return 0;
  }

  const bundles = options.bundles ? await measureBundles(options) : [];
  const scenarios: ScenarioResult[] = [];
  for (const subtasks of options.subtaskCounts) {
    scenarios.push(await runScenario(subtasks, scenarioConcurrency(subtasks), options, latency));
    if (subtasks > DEFAULT_MAX_CONCURRENCY && subtasks === 16) {
      scenarios.push(await runScenario(subtasks, DEFAULT_MAX_CONCURRENCY, options, latency));
    }
  }
  const throughput = await runThroughput(options, latency);
  const governor = options.governorJobs > 0 ? await runGovernor(options, latency) : [];
  const batchLanes = await runBatchLanes(options, latency);
  const targets = {
    ...targetsOf(scenarios, bundles, startup, governor),
    batchCostRatio: batchTarget(batchLanes),
  };
  const wallSeconds = (Date.now() - startedAt) / 1000;

  const results = {
    measuredAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.arch()}` },
    wallSeconds,
    simulatedModel: latency,
    prices: AWS_PRICES,
    startup,
    scenarios,
    throughput,
    governor,
    batchLanes,
    bundles,
    targets,
  };
  mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);

  const sections = [
    ...startupSection,
    `Latency (simulated model: plan ${LATENCY_MS.plan} ms, worker ${LATENCY_MS.worker} ms, synthesis ${LATENCY_MS.synthesis} ms, + 0–${options.jitterMs} ms; median of ${options.repeat})`,
    latencyTable(scenarios),
    'Throughput',
    throughputTable(throughput),
    ...(governor.length > 0
      ? [
          `Shared rate limit (the model answers 429 beyond ${options.governorLimit} in flight per model; retry waits ×${GOVERNOR_RETRY_TIME_SCALE}, as the latency)`,
          governorTable(governor),
        ]
      : []),
    ...batchLaneSection(batchLanes, options),
    `Cloud cost per job (${AWS_PRICES.region} prices of ${AWS_PRICES.checkedOn}; model tokens not included)`,
    costTable(scenarios),
    ...(bundles.length > 0
      ? [`Bundles (init: median of ${options.initSamples} fresh processes)`, bundleTable(bundles)]
      : []),
    'Targets',
    targetLines(targets),
    `${wallSeconds.toFixed(0)} s on ${os.cpus().length} CPUs, Node ${process.version}; JSON in ${options.out}`,
  ];
  process.stdout.write(`${sections.join('\n\n')}\n`);
  return 0;
}

runMain(main);
