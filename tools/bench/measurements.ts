/**
 * The benchmark's arithmetic, kept free of I/O so it is tested directly: critical paths from
 * measured per-call times, state transitions and Lambda time from an execution history, and what a
 * job costs in the cloud.
 */
import type { AwsPrices } from './aws-prices';

/** A state-level event of an execution, as aws-local-stepfunctions reports it (times in epoch ms). */
export interface StateEvent {
  type: string;
  timestamp: number;
  state?: { name: string; type: string };
}

/** One call the model answered, with when it arrived and when it was answered (epoch ms). */
export interface ModelCall {
  role: 'plan' | 'worker' | 'synthesis' | 'other';
  receivedAtMs: number;
  answeredAtMs: number | null;
}

/** Model time on a job's path: each planning call, each wave's worker calls, each synthesis call. */
export interface ModelTimeline {
  planMs: number[];
  /** Worker call durations by dependency wave, in the order the calls arrived. */
  waveWorkerMs: number[][];
  synthesisMs: number[];
}

/**
 * How long a wave takes when its calls run at most `maxConcurrency` at a time, each next one starting
 * as soon as a slot frees (what a Map with MaxConcurrency does), in the order given. With
 * `maxConcurrency` at least the number of calls, this is the slowest call.
 */
export function waveMakespanMs(durationsMs: readonly number[], maxConcurrency: number): number {
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
    throw new Error(`maxConcurrency must be a positive integer, not ${maxConcurrency}`);
  }
  const slotsFreeAt: number[] = [];
  for (const duration of durationsMs) {
    if (slotsFreeAt.length < maxConcurrency) {
      slotsFreeAt.push(duration);
      continue;
    }
    const earliest = Math.min(...slotsFreeAt);
    slotsFreeAt[slotsFreeAt.indexOf(earliest)] = earliest + duration;
  }
  return slotsFreeAt.length === 0 ? 0 : Math.max(...slotsFreeAt);
}

/**
 * The shortest the job could take with the model as it answered and no other cost: planning, then
 * each wave one after another (its workers `maxConcurrency` at a time), then synthesis.
 */
export function criticalPathMs(timeline: ModelTimeline, maxConcurrency: number): number {
  const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
  const waves = timeline.waveWorkerMs.map((wave) => waveMakespanMs(wave, maxConcurrency));
  return sum(timeline.planMs) + sum(waves) + sum(timeline.synthesisMs);
}

/**
 * A single job's model timeline from the model's request log. Worker calls are assigned to waves in
 * arrival order (a wave's calls all arrive after the previous wave's), so the log must hold exactly
 * one job with no retried calls: the benchmark runs without faults.
 */
export function modelTimeline(calls: readonly ModelCall[], waveSizes: readonly number[]): ModelTimeline {
  const durationOf = (call: ModelCall) => {
    if (call.answeredAtMs === null) throw new Error(`A ${call.role} call was never answered`);
    return call.answeredAtMs - call.receivedAtMs;
  };
  const byRole = (role: ModelCall['role']) =>
    calls
      .filter((call) => call.role === role)
      .sort((a, b) => a.receivedAtMs - b.receivedAtMs)
      .map(durationOf);
  const workers = byRole('worker');
  const expected = waveSizes.reduce((total, size) => total + size, 0);
  if (workers.length !== expected) {
    throw new Error(`Expected ${expected} worker calls (one per subtask), found ${workers.length}`);
  }
  let next = 0;
  const waveWorkerMs = waveSizes.map((size) => workers.slice(next, (next += size)));
  return { planMs: byRole('plan'), waveWorkerMs, synthesisMs: byRole('synthesis') };
}

const isEntered = (event: StateEvent) => event.type === 'StateEntered';
const isTaskEnd = (event: StateEvent) =>
  event.state?.type === 'Task' && (event.type === 'StateExited' || event.type === 'StateFailed');

/**
 * State transitions Step Functions Standard would bill for this history: one per state entered
 * (Map iterations' states included) and one per retry.
 */
export function stateTransitions(events: readonly StateEvent[]): number {
  return events.filter((event) => isEntered(event) || event.type === 'StateRetried').length;
}

/**
 * Per Task state name: how many times it ran (each a Lambda invocation, retries included) and the
 * milliseconds it ran in total (the sum of exits less the sum of entries, so concurrent runs of one
 * state need no pairing).
 */
export function taskTime(
  events: readonly StateEvent[],
): Map<string, { invocations: number; totalMs: number }> {
  const byState = new Map<string, { invocations: number; totalMs: number }>();
  const entry = (name: string) => {
    const existing = byState.get(name) ?? { invocations: 0, totalMs: 0 };
    byState.set(name, existing);
    return existing;
  };
  for (const event of events) {
    if (event.state?.type !== 'Task') continue;
    const totals = entry(event.state.name);
    if (isEntered(event)) {
      totals.invocations += 1;
      totals.totalMs -= event.timestamp;
    } else if (event.type === 'StateRetried') {
      // The retry fires after its wait; the next attempt runs from here.
      totals.invocations += 1;
      totals.totalMs -= event.timestamp;
    } else if (isTaskEnd(event)) {
      totals.totalMs += event.timestamp;
    }
  }
  return byState;
}

/**
 * Milliseconds of the execution during which no Task state was running: the time the engine itself
 * spent on the critical path (state transitions, Map bookkeeping, passing payloads).
 */
export function timeOutsideTasksMs(events: readonly StateEvent[]): number {
  const sorted = [...events].sort((a, b) => a.timestamp - b.timestamp);
  const first = sorted[0];
  const last = sorted.at(-1);
  if (!first || !last) return 0;
  let running = 0;
  let idleMs = 0;
  let previous = first.timestamp;
  for (const event of sorted) {
    if (running === 0) idleMs += event.timestamp - previous;
    previous = event.timestamp;
    if (event.state?.type !== 'Task') continue;
    if (isEntered(event)) running += 1;
    else if (isTaskEnd(event)) running = Math.max(0, running - 1);
  }
  return idleMs;
}

/** What one job costs in the cloud, apart from the model's tokens. */
export interface CloudCost {
  stateTransitions: number;
  lambdaInvocations: number;
  lambdaGbSeconds: number;
  stepFunctionsUsd: number;
  lambdaUsd: number;
  totalUsd: number;
}

/** One function's share of a job: its memory, how often it ran and for how long in total. */
export interface FunctionUsage {
  memoryMb: number;
  invocations: number;
  totalMs: number;
}

export function cloudCost(
  transitions: number,
  functions: readonly FunctionUsage[],
  prices: Pick<
    AwsPrices,
    'stepFunctionsStandardPerTransitionUsd' | 'lambdaArm64PerGbSecondUsd' | 'lambdaPerRequestUsd'
  >,
): CloudCost {
  // Lambda bills memory in GB of 1,024 MB and duration rounded up to the millisecond.
  const gbSeconds = functions.reduce(
    (total, fn) => total + (fn.memoryMb / 1024) * (Math.ceil(fn.totalMs) / 1000),
    0,
  );
  const invocations = functions.reduce((total, fn) => total + fn.invocations, 0);
  const stepFunctionsUsd = transitions * prices.stepFunctionsStandardPerTransitionUsd;
  const lambdaUsd = gbSeconds * prices.lambdaArm64PerGbSecondUsd + invocations * prices.lambdaPerRequestUsd;
  return {
    stateTransitions: transitions,
    lambdaInvocations: invocations,
    lambdaGbSeconds: gbSeconds,
    stepFunctionsUsd,
    lambdaUsd,
    totalUsd: stepFunctionsUsd + lambdaUsd,
  };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const at = (index: number) => sorted[index] ?? Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? at(middle) : (at(middle - 1) + at(middle)) / 2;
}

/**
 * The least time the calls could take at `limit` in flight per model, the phases in series: all
 * planning calls, then all worker calls, then all synthesis calls, each phase keeping `limit` calls
 * busy (the sum of its answered calls' durations ÷ limit). What "N ÷ latency" throughput gives.
 */
export function idealLimitedWallMs(calls: readonly ModelCall[], limit: number): number {
  const busy = (role: ModelCall['role']) =>
    calls
      .filter((call) => call.role === role && call.answeredAtMs !== null)
      .reduce((total, call) => total + ((call.answeredAtMs ?? 0) - call.receivedAtMs), 0);
  return (busy('plan') + busy('worker') + busy('synthesis')) / limit;
}

/**
 * From the first call's arrival at the model to the last answer: the stretch the model's limits
 * govern, without the time before any call could be made (creating and starting the jobs).
 */
export function modelSpanMs(calls: readonly ModelCall[]): number {
  if (calls.length === 0) return 0;
  const first = Math.min(...calls.map((call) => call.receivedAtMs));
  const last = Math.max(...calls.map((call) => call.answeredAtMs ?? call.receivedAtMs));
  return last - first;
}
