/**
 * Runs benchmark jobs through the local stack (the synthesized state machine in
 * aws-local-stepfunctions, dynalite, the simulated model) and measures them.
 */
import type { LocalOrchestrator, ExecutionRecord } from '../../local/runtime/stack';
import { exactSubtaskPlan } from './exact-subtask-plan';
import type { LatencyByRole } from '../../local/simulated-model';
import {
  type CloudCost,
  cloudCost,
  criticalPathMs,
  type FunctionUsage,
  idealLimitedWallMs,
  modelSpanMs,
  modelTimeline,
  type StateEvent,
  stateTransitions,
  taskTime,
  timeOutsideTasksMs,
} from './measurements';
import { AWS_PRICES } from './aws-prices';

/** A job whose plan is one wave of independent variations, so N workers can all run at once. */
export const BENCH_REQUEST = {
  task: 'Write a product description for a new eco-friendly water bottle',
  profile: 'marketing',
  context: { targetAudience: 'hikers' },
} as const;

export interface SimulatedLatency {
  latencyMs: LatencyByRole;
  jitterMs: number;
  seed: number;
}

/** The local stack set up to plan exactly `subtasks` subtasks and run `maxConcurrency` at a time. */
export function benchStackOptions(subtasks: number, maxConcurrency: number, latency: SimulatedLatency) {
  return {
    model: { kind: 'simulated' as const, options: latency },
    config: {
      maxSubtasks: Math.max(subtasks, 10),
      maxConcurrency,
      // A 64-subtask plan and its synthesis are longer than the default token limits allow.
      maxTokens: { orchestrator: 32_000, worker: 4_096, synthesis: 32_000 },
    },
    ...exactSubtaskPlan(subtasks),
  };
}

/** What one job measured. Times in milliseconds. */
export interface JobMeasurement {
  jobId: string;
  subtasks: number;
  waves: number;
  endToEndMs: number;
  /** Model time on the critical path: plan + each wave's workers (MaxConcurrency at a time) + synthesis. */
  criticalPathMs: number;
  /** Time during which no Task (Lambda) was running: the engine's own share of the path. */
  engineMs: number;
  /** The fan-out: from entering RunWaves to leaving it (every wave's workers). */
  fanOutMs: number;
  stateTransitions: number;
  cost: CloudCost;
}

export function stateEventsOf(record: ExecutionRecord): StateEvent[] {
  return record.events.map((event) => ({
    type: event.type,
    timestamp: event.timestamp,
    ...('state' in event ? { state: { name: event.state.name, type: event.state.type } } : {}),
  }));
}

/** The Lambda function (its local ARN) behind each Task state of a definition, Map item processors included. */
export function taskFunctionArns(definition: Record<string, unknown>): Map<string, string> {
  const arns = new Map<string, string>();
  const visit = (machine: unknown) => {
    const states = (machine as { States?: Record<string, Record<string, unknown>> }).States ?? {};
    for (const [name, state] of Object.entries(states)) {
      const functionName = (state.Parameters as { FunctionName?: unknown } | undefined)?.FunctionName;
      if (state.Type === 'Task' && typeof functionName === 'string') arns.set(name, functionName);
      if (state.ItemProcessor) visit(state.ItemProcessor);
    }
  };
  visit(definition);
  return arns;
}

/** Memory of each function as configured in the synthesized template, by local ARN. */
function memoryByArn(orchestrator: LocalOrchestrator): Map<string, number> {
  return new Map(
    orchestrator.stack.functions.map((fn) => {
      const memory = orchestrator.stack.template.Resources[fn.logicalId]?.Properties?.MemorySize;
      return [fn.arn, typeof memory === 'number' ? memory : 128] as const;
    }),
  );
}

/** Runs one job alone and measures it against the model's own timings. */
export async function measureJob(orchestrator: LocalOrchestrator): Promise<JobMeasurement> {
  const model = orchestrator.simulatedModel;
  if (!model) throw new Error('The benchmark needs the simulated model');
  const firstRequest = model.requests.length;
  const execution = await orchestrator.startJob(BENCH_REQUEST);
  const record = await execution.finished;
  const view = await orchestrator.getJobView(execution.jobId);
  if (record.status !== 'SUCCEEDED' || view?.status !== 'SUCCEEDED') {
    throw new Error(
      `Benchmark job ${execution.jobId} ended ${view?.status ?? record.status}: ${record.error ?? view?.error?.name ?? ''}`,
    );
  }
  const waveSizes: number[] = [];
  for (const subtask of view.subtasks) waveSizes[subtask.wave] = (waveSizes[subtask.wave] ?? 0) + 1;
  const timeline = modelTimeline(model.requests.slice(firstRequest), waveSizes);
  return {
    ...measureExecution(orchestrator, record, execution.jobId),
    subtasks: view.subtasks.length,
    waves: waveSizes.length,
    criticalPathMs: criticalPathMs(timeline, orchestrator.config.maxConcurrency),
  };
}

/** What the execution history alone tells about a job: its duration, transitions, engine time and cost. */
export function measureExecution(
  orchestrator: LocalOrchestrator,
  record: ExecutionRecord,
  jobId: string,
): Omit<JobMeasurement, 'subtasks' | 'waves' | 'criticalPathMs'> {
  const events = stateEventsOf(record);
  const started = events.find((event) => event.type === 'ExecutionStarted');
  const ended = events.findLast((event) => event.type.startsWith('Execution'));
  if (!started || !ended || ended === started) throw new Error(`Execution ${jobId} has not finished`);
  const transitions = stateTransitions(events);
  const fanOutStart = events.find(
    (event) => event.type === 'StateEntered' && event.state?.name === 'RunWaves',
  );
  const fanOutEnd = events.find((event) => event.type === 'StateExited' && event.state?.name === 'RunWaves');
  const arns = taskFunctionArns(orchestrator.stack.orchestrator.definition);
  const memory = memoryByArn(orchestrator);
  const usage: FunctionUsage[] = [...taskTime(events)].map(([stateName, time]) => ({
    ...time,
    memoryMb: memory.get(arns.get(stateName) ?? '') ?? 128,
  }));
  return {
    jobId,
    endToEndMs: ended.timestamp - started.timestamp,
    engineMs: timeOutsideTasksMs(events),
    fanOutMs: fanOutStart && fanOutEnd ? fanOutEnd.timestamp - fanOutStart.timestamp : Number.NaN,
    stateTransitions: transitions,
    cost: cloudCost(transitions, usage, AWS_PRICES),
  };
}

/** Throughput of `jobs` jobs started at once on one local stack. */
export interface ThroughputMeasurement {
  jobs: number;
  subtasksPerJob: number;
  maxConcurrency: number;
  wallMs: number;
  jobsPerMinute: number;
  meanEndToEndMs: number;
  maxEndToEndMs: number;
  stateTransitions: number;
  /** Engine time (no Task running) per state transition, over all the jobs. */
  engineMsPerTransition: number;
}

export async function measureThroughput(
  orchestrator: LocalOrchestrator,
  jobs: number,
  subtasksPerJob: number,
): Promise<ThroughputMeasurement> {
  const startedAt = Date.now();
  const executions = await Promise.all(
    Array.from({ length: jobs }, () => orchestrator.startJob(BENCH_REQUEST)),
  );
  const records = await Promise.all(executions.map((execution) => execution.finished));
  const wallMs = Date.now() - startedAt;
  const failed = records.filter((record) => record.status !== 'SUCCEEDED');
  if (failed.length > 0) {
    throw new Error(
      `${failed.length} of ${jobs} throughput jobs did not succeed (${failed[0]?.error ?? ''})`,
    );
  }
  const measured = records.map((record, index) =>
    measureExecution(orchestrator, record, executions[index]?.jobId ?? record.name),
  );
  const transitions = measured.reduce((total, job) => total + job.stateTransitions, 0);
  const engineMs = measured.reduce((total, job) => total + job.engineMs, 0);
  const endToEnd = measured.map((job) => job.endToEndMs);
  return {
    jobs,
    subtasksPerJob,
    maxConcurrency: orchestrator.config.maxConcurrency,
    wallMs,
    jobsPerMinute: (jobs / wallMs) * 60_000,
    meanEndToEndMs: endToEnd.reduce((total, ms) => total + ms, 0) / jobs,
    maxEndToEndMs: Math.max(...endToEnd),
    stateTransitions: transitions,
    engineMsPerTransition: engineMs / transitions,
  };
}

/** Many jobs against a model that answers 429 beyond `limit` requests in flight per model. */
export interface GovernorMeasurement {
  governed: boolean;
  jobs: number;
  subtasksPerJob: number;
  limit: number;
  succeeded: number;
  partialOrFailed: number;
  modelCalls: number;
  /** Calls answered 429 because they were beyond the limit. */
  rateLimited: number;
  rateLimitedShare: number;
  /** The most requests of one model open at once at the model. */
  peakInFlight: number;
  wallMs: number;
  /** From the first call's arrival at the model to its last answer: what the limits govern. */
  modelSpanMs: number;
  /** Planning, workers and synthesis each at `limit` in flight, from the answered calls' durations. */
  idealMs: number;
  /** Worker calls answered per second, and the ideal: limit ÷ mean worker latency. */
  workerCallsPerSecond: number;
  idealWorkerCallsPerSecond: number;
}

export async function measureGovernor(
  orchestrator: LocalOrchestrator,
  options: { jobs: number; subtasksPerJob: number; limit: number; governed: boolean },
): Promise<GovernorMeasurement> {
  const model = orchestrator.simulatedModel;
  if (!model) throw new Error('The benchmark needs the simulated model');
  // A warm-up job alone first: it loads the handler modules, as a Lambda container would once.
  await (
    await orchestrator.startJob(BENCH_REQUEST)
  ).finished;
  const first = model.requests.length;
  const startedAt = Date.now();
  const executions = await Promise.all(
    Array.from({ length: options.jobs }, (_, index) =>
      orchestrator.startJob({ ...BENCH_REQUEST, task: `${BENCH_REQUEST.task} (${index + 1})` }),
    ),
  );
  await Promise.all(executions.map((execution) => execution.finished));
  const wallMs = Date.now() - startedAt;
  const views = await Promise.all(executions.map((execution) => orchestrator.getJobView(execution.jobId)));
  const calls = model.requests.slice(first);
  const rateLimited = calls.filter((call) => call.limited !== undefined).length;
  const workers = calls.filter((call) => call.role === 'worker' && call.status === 200);
  const meanWorkerMs =
    workers.reduce((total, call) => total + ((call.answeredAtMs ?? 0) - call.receivedAtMs), 0) /
    Math.max(1, workers.length);
  const succeeded = views.filter((view) => view?.status === 'SUCCEEDED').length;
  return {
    governed: options.governed,
    jobs: options.jobs,
    subtasksPerJob: options.subtasksPerJob,
    limit: options.limit,
    succeeded,
    partialOrFailed: options.jobs - succeeded,
    modelCalls: calls.length,
    rateLimited,
    rateLimitedShare: rateLimited / Math.max(1, calls.length),
    peakInFlight: Math.max(0, ...Object.values(model.stats().peakInFlight)),
    wallMs,
    modelSpanMs: modelSpanMs(calls),
    idealMs: idealLimitedWallMs(calls, options.limit),
    workerCallsPerSecond: (workers.length / wallMs) * 1000,
    idealWorkerCallsPerSecond: (options.limit / meanWorkerMs) * 1000,
  };
}
