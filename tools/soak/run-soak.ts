import { DEFAULT_MODELS } from '../../lib/config';
import { LocalOrchestrator } from '../../local/runtime/stack';
import { type SimulatedModel, startSimulatedModel } from '../../local/simulated-model';
import { createRandom } from '../../local/simulated-model/random';
import { CompletingWriteFaults } from './completing-write-faults';
import { type FaultMix, faultMixFor } from './fault-mix';
import { FaultProxy, type FaultProxyHooks, type ProxyVerdict } from './fault-proxy';
import { checkJob, retryRulesOf, summarizeLevel, type JobObservation, type LevelSummary } from './invariants';
import { SoakLedger } from './soak-ledger';
import { soakJobRequests } from './soak-jobs';
import { WorkerCrashes } from './worker-crashes';

export interface SoakOptions {
  /** Jobs per fault level. */
  jobs: number;
  /** Fault levels, each 0..0.5 (see `faultMixFor`). */
  levels: number[];
  seed: number;
  /** Jobs running at once. */
  concurrency: number;
  /** Latency spike length in milliseconds; default 1000. */
  spikeMs?: number;
  /** Share of completing writes that crash their worker, instead of the level's (tests force crashes with it). */
  crashRate?: number;
  /**
   * Timeout of the model-calling functions. A hung model call ends `ModelTimeout` 5 s before it;
   * default 10 s.
   */
  functionTimeoutSeconds?: number;
  /**
   * Runs against a provider limit: the simulated model answers 429 (with `retry-after`) to any request
   * beyond `maxInFlight` of one model, and with `governed` the deployment's `modelLimits` give every
   * model that `maxInFlight`. Retry waits are then the policy's own, scaled down by `retryTimeScale`
   * (default 0.02), instead of the fixed short waits.
   */
  providerLimit?: { maxInFlight: number; governed: boolean; retryTimeScale?: number };
  /** Progress lines (one per finished level), e.g. to stderr. */
  log?: (line: string) => void;
}

export interface SoakReport {
  seed: number;
  jobsPerLevel: number;
  concurrency: number;
  providerLimit?: { maxInFlight: number; governed: boolean };
  levels: LevelSummary[];
  wallClockMs: number;
}

/** Milliseconds each Retry waits locally instead of the policy's backoff (the policy's counts still apply). */
const SHORT_RETRY_WAIT_MS = 10;
const RETRIED_STATES = ['Plan', 'RunSubtask', 'Synthesize', 'RecordSubtaskFailure', 'MarkFailed'];
// The salts only make the streams differ from the model's own fault stream.
const SPIKE_SEED_SALT = 0x2545f491;
const CRASH_SEED_SALT = 0x9e3779b9;

/** Delays a share of model calls by a latency spike, counting them. */
class LatencySpikes implements FaultProxyHooks {
  rate = 0;
  spikeMs = 0;
  injected = 0;

  constructor(private readonly random: () => number) {}

  decide(): ProxyVerdict {
    if (this.rate <= 0 || this.random() >= this.rate) return { kind: 'forward' };
    this.injected += 1;
    return { kind: 'forward', delayMs: this.spikeMs };
  }
}

/**
 * Runs `jobs` jobs at each fault level through the local stack (the synthesized state machine,
 * the handlers, dynalite, the simulated model over HTTP), with a proxy in front of the model
 * (latency spikes) and one in front of DynamoDB (workers crashing at their completing write), and
 * checks every job against the invariants.
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const started = Date.now();
  const ledger = new SoakLedger();
  const crashes = new WorkerCrashes(ledger);
  const writeFaults = new CompletingWriteFaults(
    ledger,
    crashes,
    createRandom(options.seed ^ CRASH_SEED_SALT),
  );
  const spikes = new LatencySpikes(createRandom(options.seed ^ SPIKE_SEED_SALT));
  const timeout = options.functionTimeoutSeconds ?? 10;

  let model: SimulatedModel | undefined;
  let modelProxy: FaultProxy | undefined;
  let dynamoProxy: FaultProxy | undefined;
  let orchestrator: LocalOrchestrator | undefined;
  try {
    const limit = options.providerLimit;
    model = await startSimulatedModel({
      seed: options.seed,
      latencyMs: { plan: 40, worker: 80, synthesis: 40 },
      jitterMs: 40,
      ...(limit ? { limits: { maxInFlight: limit.maxInFlight } } : {}),
    });
    modelProxy = await FaultProxy.start(spikes, model.url);
    dynamoProxy = await FaultProxy.start(writeFaults);
    orchestrator = await LocalOrchestrator.start({
      // The simulated model behind the spike proxy, reached as any Messages-API server is.
      model: { kind: 'anthropic', apiKey: 'simulated-model-local-key', baseUrl: modelProxy.url },
      ...(limit
        ? { retryTimeScale: limit.retryTimeScale ?? 0.02 }
        : {
            retryIntervalOverrides: Object.fromEntries(
              RETRIED_STATES.map((name) => [name, SHORT_RETRY_WAIT_MS]),
            ),
          }),
      ...(limit?.governed
        ? {
            config: {
              modelLimits: Object.fromEntries(
                Object.values(DEFAULT_MODELS).map((id) => [id, { maxInFlight: limit.maxInFlight }]),
              ),
            },
          }
        : {}),
      functionTimeoutSeconds: { plan: timeout, worker: timeout, synthesize: timeout },
      functionEnvironment: { DYNAMODB_ENDPOINT: dynamoProxy.url },
    });
    dynamoProxy.setTarget(orchestrator.dynamodb.endpoint);
    crashes.attach(orchestrator.functionFor('worker'));
    const retryRules = retryRulesOf(orchestrator.stack.orchestrator.definition);

    const levels: LevelSummary[] = [];
    for (const [index, level] of options.levels.entries()) {
      const mix = faultMixFor(level, options.spikeMs);
      if (options.crashRate !== undefined) mix.crashRate = options.crashRate;
      const requests = soakJobRequests(options.jobs, options.seed + index);
      const summary = await runLevel(mix, requests, {
        orchestrator,
        model,
        spikes,
        writeFaults,
        ledger,
        retryRules,
        concurrency: options.concurrency,
        ...(limit ? { providerLimit: limit } : {}),
      });
      levels.push(summary);
      options.log?.(
        `level ${Math.round(level * 100)} %: ${summary.jobs.total} jobs in ${(summary.wallClockMs / 1000).toFixed(1)} s, ` +
          `${summary.violations.length} invariant violation(s)`,
      );
    }
    return {
      seed: options.seed,
      jobsPerLevel: options.jobs,
      concurrency: options.concurrency,
      ...(limit ? { providerLimit: { maxInFlight: limit.maxInFlight, governed: limit.governed } } : {}),
      levels,
      wallClockMs: Date.now() - started,
    };
  } finally {
    // Held connections first, so no dead worker's request reaches DynamoDB while it shuts down.
    await dynamoProxy?.close();
    await modelProxy?.close();
    await orchestrator?.close();
    await model?.close();
  }
}

interface LevelContext {
  orchestrator: LocalOrchestrator;
  model: SimulatedModel;
  spikes: LatencySpikes;
  writeFaults: CompletingWriteFaults;
  ledger: SoakLedger;
  retryRules: ReturnType<typeof retryRulesOf>;
  concurrency: number;
  providerLimit?: { maxInFlight: number; governed: boolean };
}

async function runLevel(
  mix: FaultMix,
  requests: ReturnType<typeof soakJobRequests>,
  context: LevelContext,
): Promise<LevelSummary> {
  const { orchestrator, model, spikes, writeFaults, ledger } = context;
  model.setFaults(mix.modelFaults);
  spikes.rate = mix.spikeRate;
  spikes.spikeMs = mix.spikeMs;
  spikes.injected = 0;
  writeFaults.settings = { crashRate: mix.crashRate };
  const firstRequest = model.requests.length;
  const started = Date.now();

  const observations: JobObservation[] = [];
  let next = 0;
  const runNext = async (): Promise<void> => {
    while (next < requests.length) {
      const request = requests[next++];
      if (!request) return;
      const execution = await orchestrator.startJob(request);
      const record = await execution.finished;
      observations.push({
        jobId: execution.jobId,
        execution: { status: record.status, ...(record.error ? { error: record.error } : {}) },
        events: record.events,
        stored: await orchestrator.repository.getJobWithSubtasks(execution.jobId),
        ledger: ledger.forJob(execution.jobId),
      });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, context.concurrency) }, runNext));

  const modelRequests = model.requests.slice(firstRequest);
  return summarizeLevel({
    level: mix.level,
    wallClockMs: Date.now() - started,
    jobs: observations.map((observation) => checkJob(observation, context.retryRules)),
    modelRequests,
    spikes: spikes.injected,
    ...(context.providerLimit
      ? {
          providerLimit: {
            ...context.providerLimit,
            peakInFlight: Math.max(0, ...Object.values(model.stats().peakInFlight)),
          },
        }
      : {}),
  });
}
