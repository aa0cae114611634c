import './polyfills';
import { ExecutionAbortedError, ExecutionError, StateMachine } from 'aws-local-stepfunctions';

/**
 * Where aws-local-stepfunctions is more forgiving than Step Functions, the local binding makes it
 * as strict: payload limits, Map failure, the inline Map's concurrency, the history limit. Each
 * adjustment is small and kept here, rather than in a fork of the engine.
 */

/** Step Functions' limit on an execution's input and every state's input and output (UTF-8 bytes). */
export const PAYLOAD_LIMIT_BYTES = 262_144;
/** The most events one execution's history holds; the last of them is the failure. */
export const HISTORY_EVENT_LIMIT = 25_000;
/** An inline Map runs at most this many iterations at once, whatever its MaxConcurrency. */
export const INLINE_MAP_MAX_CONCURRENCY = 40;

export const HISTORY_LIMIT_CAUSE = `The execution reached the maximum number of history events (${HISTORY_EVENT_LIMIT}).`;

export const payloadBytes = (value: unknown): number =>
  Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');

/**
 * `States.DataLimitExceeded`: terminal, as in AWS, where neither Retry nor a Catch (not even
 * `States.ALL`) handles it. The engine honours `isRetryable` and `isCatchable` on errors.
 */
export class DataLimitExceeded extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor(message: string) {
    super(message);
    this.name = 'States.DataLimitExceeded';
  }
}

const exceeds = (value: unknown) => payloadBytes(value) > PAYLOAD_LIMIT_BYTES;

/** Fails a Task whose input (after Parameters) or result is over the limit, as the service does. */
export function withPayloadLimits<Input, Result>(
  stateName: string,
  handler: (input: Input) => Result | Promise<Result>,
): (input: Input) => Promise<Result> {
  return async (input) => {
    if (exceeds(input)) {
      throw new DataLimitExceeded(
        `The state/task '${stateName}' has an input with a size exceeding the maximum number of bytes service limit.`,
      );
    }
    const result = await handler(input);
    if (exceeds(result)) {
      throw new DataLimitExceeded(
        `The state/task '${stateName}' returned a result with a size exceeding the maximum number of bytes service limit.`,
      );
    }
    return result;
  };
}

type Definition = Record<string, unknown>;

/**
 * The definition the engine runs: each inline Map's MaxConcurrency capped at 40 (AWS runs at most
 * 40 iterations of an inline Map at once; 0 or none already means 40 in the engine).
 */
export function withInlineMapConcurrency<T extends Definition>(definition: T): T {
  // A JSON copy, not structuredClone: the engine tells objects from values by their prototype, which must be this realm's.
  const copy = JSON.parse(JSON.stringify(definition)) as T;
  const visit = (machine: unknown) => {
    const states = (machine as { States?: Record<string, Definition> }).States ?? {};
    for (const state of Object.values(states)) {
      if (state.Type === 'Map') {
        const processor = (state.ItemProcessor ?? state.Iterator) as Definition | undefined;
        const mode = (processor?.ProcessorConfig as { Mode?: string } | undefined)?.Mode ?? 'INLINE';
        const limit = Number(state.MaxConcurrency ?? 0);
        if (mode === 'INLINE' && limit > INLINE_MAP_MAX_CONCURRENCY)
          state.MaxConcurrency = INLINE_MAP_MAX_CONCURRENCY;
        if (processor) visit(processor);
      }
      for (const branch of (state.Branches as unknown[] | undefined) ?? []) visit(branch);
    }
  };
  visit(copy);
  return copy;
}

/** Node's timers wait at most this long (2^31 − 1 ms); a longer timeout would fire at once. */
export const MAX_LOCAL_TIMER_SECONDS = 2_147_483;

/**
 * The definition with every `.waitForTaskToken` Task that sets no TimeoutSeconds waiting as long as
 * a local timer can: the engine times any Task out after 60 s by default, while AWS lets a callback
 * wait for as long as the execution runs.
 */
export function withTaskTokenTimeouts<T extends Definition>(definition: T): T {
  const copy = JSON.parse(JSON.stringify(definition)) as T;
  const visit = (machine: unknown) => {
    const states = (machine as { States?: Record<string, Definition> }).States ?? {};
    for (const state of Object.values(states)) {
      if (
        state.Type === 'Task' &&
        String(state.Resource).endsWith('.waitForTaskToken') &&
        state.TimeoutSeconds === undefined &&
        state.TimeoutSecondsPath === undefined
      )
        state.TimeoutSeconds = MAX_LOCAL_TIMER_SECONDS;
      const processor = (state.ItemProcessor ?? state.Iterator) as Definition | undefined;
      if (processor) visit(processor);
      for (const branch of (state.Branches as unknown[] | undefined) ?? []) visit(branch);
    }
  };
  visit(copy);
  return copy;
}

type Run = ReturnType<StateMachine['run']>;
type RunOptions = Parameters<StateMachine['run']>[1];
interface EventLogger {
  dispatchStateEnteredEvent(name: string, type: string, input: unknown): void;
  dispatchStateExitedEvent(name: string, type: string, input: unknown, output: unknown): void;
}
interface Patchable {
  run(input: unknown, options?: RunOptions): Run;
  execute(input: unknown, options: { eventLogger: EventLogger }, cleanup: () => void): Promise<unknown>;
}

let installed = false;

/**
 * Patches the engine's `StateMachine` (the class its Map and Parallel states also use):
 *
 * - **Map failure**: a Map runs all its iterations through one `StateMachine` instance. When one
 *   of them fails, the Map fails: the engine stops those in flight, but its queue would still start
 *   the rest; here they are never started, as in AWS.
 * - **State payloads**: every state's input and output over 256 KiB fails the execution with
 *   `States.DataLimitExceeded`.
 */
export function installEngineSemantics(): void {
  if (installed) return;
  installed = true;
  const prototype = StateMachine.prototype as unknown as Patchable;
  const groups = new WeakMap<object, { failed: boolean; live: Set<() => void> }>();
  const run = prototype.run;
  prototype.run = function (this: object, input, options) {
    let group = groups.get(this);
    if (!group) groups.set(this, (group = { failed: false, live: new Set() }));
    if (group.failed) {
      const result = Promise.reject(new ExecutionAbortedError());
      result.catch(() => undefined);
      return { abort: () => undefined, eventLogs: (async function* () {})(), result } as unknown as Run;
    }
    const execution = run.call(this, input, options);
    const iterations = group;
    iterations.live.add(execution.abort);
    execution.result.then(
      () => iterations.live.delete(execution.abort),
      (error: unknown) => {
        iterations.live.delete(execution.abort);
        if (!(error instanceof ExecutionError)) return;
        iterations.failed = true;
        for (const abort of iterations.live) abort();
        iterations.live.clear();
      },
    );
    return execution;
  };
  const execute = prototype.execute;
  prototype.execute = function (this: unknown, input, options, cleanup) {
    const logger = options.eventLogger;
    const entered = logger.dispatchStateEnteredEvent.bind(logger);
    const exited = logger.dispatchStateExitedEvent.bind(logger);
    logger.dispatchStateEnteredEvent = (name, type, stateInput) => {
      entered(name, type, stateInput);
      if (exceeds(stateInput))
        throw new DataLimitExceeded(
          `The state/task '${name}' has an input with a size exceeding the maximum number of bytes service limit.`,
        );
    };
    logger.dispatchStateExitedEvent = (name, type, stateInput, output) => {
      if (exceeds(output))
        throw new DataLimitExceeded(
          `The state/task '${name}' returned a result with a size exceeding the maximum number of bytes service limit.`,
        );
      exited(name, type, stateInput, output);
    };
    return execute.call(this, input, options, cleanup);
  };
}
