import './polyfills';
import { EventEmitter } from 'node:events';
import { StateMachine } from 'aws-local-stepfunctions';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './synthesized-stack';
import type { ExecutionStore, StoredExecution } from './execution-store';
import {
  HISTORY_EVENT_LIMIT,
  HISTORY_LIMIT_CAUSE,
  installEngineSemantics,
  PAYLOAD_LIMIT_BYTES,
  withInlineMapConcurrency,
  withPayloadLimits,
  withTaskTokenTimeouts,
} from './engine';
import { LocalTaskTokens } from './task-tokens';

type StateMachineDefinition = ConstructorParameters<typeof StateMachine>[0];
type RunOptions = NonNullable<Parameters<StateMachine['run']>[1]>;
export type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
export type ExecutionEvent =
  ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

/** One event of `GetExecutionHistory`, in the shape the Step Functions API returns. */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  [details: string]: unknown;
}

export interface LocalStateMachine {
  name: string;
  definition: Record<string, unknown>;
  taskHandlers: TaskHandlers;
  retryIntervalOverrides?: Record<string, number | number[]>;
}

export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  startDate: Date;
  stopDate?: Date;
  history: HistoryEvent[];
  events: ExecutionEvent[];
}

/** A Step Functions API error: `code` is what the SDK reports as the error's name. */
export class StepFunctionsError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

interface RunningExecution {
  record: ExecutionRecord;
  emitter: EventEmitter;
  abort: () => void;
  finished: Promise<ExecutionRecord>;
}

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;

/**
 * The Step Functions service, locally: state machines registered by ARN, executions run by
 * aws-local-stepfunctions, with the API's semantics (execution names unique per state machine,
 * describe/stop/list/history). The HTTP endpoint in `step-functions-endpoint.ts` speaks its wire
 * protocol. With a `store` (execution-store.ts), every execution and its history is also recorded
 * in the local DynamoDB, so names stay taken for 90 days across restarts, and the `find…` methods
 * answer for executions of other processes sharing the data folder too.
 */
export class LocalStepFunctions {
  private readonly machines = new Map<string, LocalStateMachine & { arn: string; createdAt: Date }>();
  private readonly executions = new Map<string, RunningExecution>();
  /** Machines whose definition an execution has already validated. */
  private readonly validated = new WeakSet<object>();
  private stopPoll: NodeJS.Timeout | undefined;
  private readonly statusListeners = new Set<(record: ExecutionRecord) => void>();
  /** The tasks parked on a `.waitForTaskToken` token, answered by SendTaskSuccess and the like. */
  readonly taskTokens = new LocalTaskTokens();

  /**
   * Called with the record whenever an execution starts or ends, as Step Functions sends an
   * "Execution Status Change" event to EventBridge (see event-rules.ts). Returns the unsubscribe.
   */
  onStatusChange(listener: (record: ExecutionRecord) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  private emitStatusChange(record: ExecutionRecord): void {
    for (const listener of this.statusListeners) listener({ ...record });
  }

  constructor(private readonly store?: ExecutionStore) {
    installEngineSemantics();
  }

  register(machine: LocalStateMachine): string {
    const arn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${machine.name}`;
    const taskHandlers = Object.fromEntries(
      Object.entries(machine.taskHandlers).map(([state, handler]) => [
        state,
        withPayloadLimits(state, handler),
      ]),
    );
    this.machines.set(arn, { ...machine, taskHandlers, arn, createdAt: new Date() });
    return arn;
  }

  stateMachineArns(): string[] {
    return [...this.machines.keys()];
  }

  stateMachines(): (LocalStateMachine & { arn: string; createdAt: Date })[] {
    return [...this.machines.values()];
  }

  stateMachine(stateMachineArn: string): LocalStateMachine & { arn: string; createdAt: Date } {
    const machine = this.machines.get(stateMachineArn);
    if (!machine)
      throw new StepFunctionsError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${stateMachineArn}'`,
      );
    return machine;
  }

  async startExecution(params: {
    stateMachineArn: string;
    name?: string;
    input?: string;
  }): Promise<ExecutionRecord> {
    const machine = this.machines.get(params.stateMachineArn);
    if (!machine)
      throw new StepFunctionsError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${params.stateMachineArn}'`,
      );
    const name = params.name ?? crypto.randomUUID();
    if (!NAME_PATTERN.test(name)) throw new StepFunctionsError('InvalidName', `Invalid Name: '${name}'`);
    const inputText = params.input ?? '{}';
    if (Buffer.byteLength(inputText, 'utf8') > PAYLOAD_LIMIT_BYTES) {
      // The API's own length constraint on `input`, checked before the input is parsed.
      throw new StepFunctionsError(
        'ValidationException',
        `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${PAYLOAD_LIMIT_BYTES}`,
      );
    }
    let input: unknown;
    try {
      input = JSON.parse(inputText);
    } catch {
      throw new StepFunctionsError(
        'InvalidExecutionInput',
        'Invalid State Machine Execution Input: not JSON',
      );
    }
    const executionArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${machine.name}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      // As in AWS (Standard): the same name and input while running is idempotent; anything else is a conflict.
      if (existing.record.status === 'RUNNING' && existing.record.input === inputText) return existing.record;
      throw new StepFunctionsError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }

    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: params.stateMachineArn,
      name,
      status: 'RUNNING',
      input: inputText,
      startDate: new Date(),
      history: [],
      events: [],
    };
    const holder = await this.store?.claim(record);
    if (holder) {
      // Taken by another process, or before a restart, within 90 days: the same rule as above.
      if (holder.status === 'RUNNING' && holder.input === inputText) return fromStored(holder);
      throw new StepFunctionsError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    // The definition is validated (asl-validator, about 0.1 s of CPU) by the first execution only.
    const stateMachine = new StateMachine(
      withTaskTokenTimeouts(
        withInlineMapConcurrency(machine.definition),
      ) as unknown as StateMachineDefinition,
      {
        validationOptions: this.validated.has(machine) ? { noValidate: true } : { checkArn: false },
      },
    );
    this.validated.add(machine);
    const run = stateMachine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: machine.taskHandlers,
        ...(machine.retryIntervalOverrides ? { retryIntervalOverrides: machine.retryIntervalOverrides } : {}),
      },
      context: {
        Execution: { Id: executionArn, Name: name },
        StateMachine: { Id: params.stateMachineArn, Name: machine.name },
        Task: this.taskTokens.contextFor(executionArn, machine.name),
      } as NonNullable<RunOptions['context']>,
    });
    const emitter = new EventEmitter();
    emitter.setMaxListeners(0);
    const consumed = (async () => {
      for await (const event of run.eventLogs) {
        if (record.history.length >= HISTORY_EVENT_LIMIT) continue;
        record.events.push(event);
        const before = record.history.length;
        record.history.push(...toHistoryEvents(event, record.history.length));
        if (record.history.length >= HISTORY_EVENT_LIMIT) failOnHistoryLimit(record, run.abort);
        this.store?.appendHistory(executionArn, record.history.slice(before));
        emitter.emit('event', event);
      }
    })();
    const finished = run.result
      .then(
        (output) => {
          if (record.status === 'RUNNING')
            Object.assign(record, { status: 'SUCCEEDED', output: JSON.stringify(output) });
        },
        (error: unknown) => {
          if (record.status === 'RUNNING') Object.assign(record, describeFailure(error));
        },
      )
      .then(async () => {
        this.taskTokens.endExecution(executionArn);
        record.stopDate ??= new Date();
        await consumed.catch(() => undefined);
        await this.store?.finish(record);
        emitter.emit('end');
        this.emitStatusChange(record);
        return record;
      });
    this.executions.set(executionArn, { record, emitter, abort: run.abort, finished });
    this.emitStatusChange(record);
    this.pollStopRequests();
    return record;
  }

  describeExecution(executionArn: string): ExecutionRecord {
    return this.get(executionArn).record;
  }

  /** Stops a running execution (status ABORTED, with the error and cause given). */
  stopExecution(executionArn: string, error?: string, cause?: string): ExecutionRecord {
    const execution = this.get(executionArn);
    if (execution.record.status === 'RUNNING') {
      Object.assign(execution.record, { status: 'ABORTED', stopDate: new Date(), error, cause });
      const aborted: HistoryEvent = {
        id: execution.record.history.length + 1,
        previousEventId: execution.record.history.length,
        timestamp: Date.now() / 1000,
        type: 'ExecutionAborted',
        executionAbortedEventDetails: { ...(error ? { error } : {}), ...(cause ? { cause } : {}) },
      };
      execution.record.history.push(aborted);
      this.store?.appendHistory(executionArn, [aborted]);
      execution.abort();
    }
    return execution.record;
  }

  listExecutions(params: { stateMachineArn: string; statusFilter?: ExecutionStatus }): ExecutionRecord[] {
    if (!this.machines.has(params.stateMachineArn)) {
      throw new StepFunctionsError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${params.stateMachineArn}'`,
      );
    }
    return [...this.executions.values()]
      .map((execution) => execution.record)
      .filter((record) => record.stateMachineArn === params.stateMachineArn)
      .filter((record) => !params.statusFilter || record.status === params.statusFilter)
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
  }

  /** Resolves when the execution has ended and all its events are recorded. */
  waitForExecution(executionArn: string): Promise<ExecutionRecord> {
    return this.get(executionArn).finished;
  }

  /** The engine's events for one execution: those so far, then live ones until it ends. */
  async *watch(executionArn: string): AsyncGenerator<ExecutionEvent> {
    const { record, emitter } = this.get(executionArn);
    const queue: ExecutionEvent[] = [...record.events];
    let ended = record.stopDate !== undefined && record.status !== 'RUNNING';
    let wake: (() => void) | undefined;
    const onEvent = (event: ExecutionEvent) => {
      queue.push(event);
      wake?.();
    };
    const onEnd = () => {
      ended = true;
      wake?.();
    };
    emitter.on('event', onEvent);
    emitter.on('end', onEnd);
    try {
      for (;;) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      emitter.off('event', onEvent);
      emitter.off('end', onEnd);
    }
  }

  /** An execution of this process, or (with a store) of any process sharing the data folder. */
  async findExecution(executionArn: string): Promise<ExecutionRecord> {
    const local = this.executions.get(executionArn);
    if (local) return local.record;
    const stored = await this.store?.get(executionArn);
    if (!stored)
      throw new StepFunctionsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return fromStored(stored);
  }

  /** `listExecutions` over every process sharing the data folder (this one's records are the freshest). */
  async findExecutions(params: {
    stateMachineArn: string;
    statusFilter?: ExecutionStatus;
  }): Promise<ExecutionRecord[]> {
    const local = this.listExecutions({ stateMachineArn: params.stateMachineArn });
    const byArn = new Map(local.map((record) => [record.executionArn, record]));
    for (const stored of (await this.store?.list(params.stateMachineArn)) ?? []) {
      if (!byArn.has(stored.executionArn)) byArn.set(stored.executionArn, fromStored(stored));
    }
    return [...byArn.values()]
      .filter((record) => !params.statusFilter || record.status === params.statusFilter)
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
  }

  /** The history of an execution of this process, or (with a store) of any process. */
  async executionHistory(executionArn: string): Promise<HistoryEvent[]> {
    const local = this.executions.get(executionArn);
    if (local) return local.record.history;
    await this.findExecution(executionArn);
    return (await this.store?.history(executionArn)) ?? [];
  }

  /** Stops an execution of this process now, or asks the process that runs it to. */
  async requestStop(executionArn: string, error?: string, cause?: string): Promise<ExecutionRecord> {
    if (this.executions.has(executionArn)) return this.stopExecution(executionArn, error, cause);
    const stored = await this.findExecution(executionArn);
    if (stored.status === 'RUNNING' && this.store) {
      const owner = await this.store.get(executionArn);
      if (owner) await this.store.requestStop(owner, error, cause);
      return { ...stored, stopDate: new Date() };
    }
    return stored;
  }

  /** While this process runs executions, it takes the stop requests other processes leave for it. */
  private pollStopRequests(): void {
    const store = this.store;
    if (!store || this.stopPoll) return;
    this.stopPoll = setInterval(() => {
      if (this.running().length === 0) {
        clearInterval(this.stopPoll);
        this.stopPoll = undefined;
        return;
      }
      void store.takeStopRequests().then(
        (requests) => {
          for (const request of requests) {
            if (this.executions.has(request.executionArn))
              this.stopExecution(request.executionArn, request.error, request.cause);
          }
        },
        () => undefined,
      );
    }, 1_000);
    this.stopPoll.unref();
  }

  running(): ExecutionRecord[] {
    return [...this.executions.values()].map((e) => e.record).filter((record) => record.status === 'RUNNING');
  }

  private get(executionArn: string): RunningExecution {
    const execution = this.executions.get(executionArn);
    if (!execution)
      throw new StepFunctionsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }
}

/** As AWS does: event 25,000 is the execution's failure, `States.Runtime`, and nothing follows it. */
function failOnHistoryLimit(record: ExecutionRecord, abort: () => void): void {
  record.history.length = HISTORY_EVENT_LIMIT - 1;
  record.history.push({
    id: HISTORY_EVENT_LIMIT,
    previousEventId: HISTORY_EVENT_LIMIT - 1,
    timestamp: Date.now() / 1000,
    type: 'ExecutionFailed',
    executionFailedEventDetails: { error: 'States.Runtime', cause: HISTORY_LIMIT_CAUSE },
  });
  if (record.status === 'RUNNING')
    Object.assign(record, {
      status: 'FAILED',
      error: 'States.Runtime',
      cause: HISTORY_LIMIT_CAUSE,
      stopDate: new Date(),
    });
  abort();
}

function fromStored(stored: StoredExecution): ExecutionRecord {
  const { executionArn, stateMachineArn, name, status, input, output, error, cause, startDate, stopDate } =
    stored;
  return {
    executionArn,
    stateMachineArn,
    name,
    status,
    input,
    startDate,
    history: [],
    events: [],
    ...(output !== undefined ? { output } : {}),
    ...(error !== undefined ? { error } : {}),
    ...(cause !== undefined ? { cause } : {}),
    ...(stopDate !== undefined ? { stopDate } : {}),
  };
}

function describeFailure(error: unknown): Pick<ExecutionRecord, 'status' | 'error' | 'cause'> {
  if (!(error instanceof Error)) return { status: 'FAILED', error: 'Error', cause: String(error) };
  if (error.name === 'ExecutionAbortedError') return { status: 'ABORTED' };
  if (error.name === 'ExecutionTimeoutError') return { status: 'TIMED_OUT', error: 'States.Timeout' };
  const cause = error.cause instanceof Error ? error.cause : undefined;
  return { status: 'FAILED', error: cause?.name ?? error.name, cause: cause?.message ?? error.message };
}

const json = (value: unknown) => (value === undefined ? undefined : JSON.stringify(value));

/** Maps one engine event onto the history events the Step Functions API would show for it. */
export function toHistoryEvents(event: ExecutionEvent, countSoFar: number): HistoryEvent[] {
  const base = (offset: number, type: string, details: Record<string, unknown>): HistoryEvent => ({
    id: countSoFar + offset + 1,
    previousEventId: countSoFar + offset,
    timestamp: event.timestamp / 1000,
    type,
    ...details,
  });
  switch (event.type) {
    case 'ExecutionStarted':
      return [base(0, 'ExecutionStarted', { executionStartedEventDetails: { input: json(event.input) } })];
    case 'ExecutionSucceeded':
      return [
        base(0, 'ExecutionSucceeded', { executionSucceededEventDetails: { output: json(event.output) } }),
      ];
    case 'ExecutionFailed':
      return [
        base(0, 'ExecutionFailed', {
          executionFailedEventDetails: { error: event.Error, cause: String(event.Cause ?? '') },
        }),
      ];
    case 'ExecutionAborted':
      return [];
    case 'ExecutionTimeout':
      return [base(0, 'ExecutionTimedOut', { executionTimedOutEventDetails: { error: 'States.Timeout' } })];
    case 'StateEntered':
      return [
        base(0, `${event.state.type}StateEntered`, {
          stateEnteredEventDetails: { name: event.state.name, input: json(event.state.input) },
        }),
      ];
    case 'StateExited':
      return [
        base(0, `${event.state.type}StateExited`, {
          stateExitedEventDetails: { name: event.state.name, output: json(event.state.output) },
        }),
      ];
    case 'StateFailed':
      return [
        base(0, event.state.type === 'Task' ? 'TaskFailed' : `${event.state.type}StateFailed`, {
          [event.state.type === 'Task' ? 'taskFailedEventDetails' : 'stateFailedEventDetails']: {
            error: event.Error,
            cause: String(event.Cause ?? ''),
            name: event.state.name,
          },
        }),
      ];
    case 'StateRetried':
      // AWS shows a retry as the task being scheduled again after its failure.
      return [
        base(0, 'TaskScheduled', {
          taskScheduledEventDetails: { name: event.state.name, retry: event.retry.attempt },
        }),
      ];
    case 'StateCaught':
      return [];
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
      return [
        base(0, event.type, {
          mapIterationEventDetails: { name: event.parentState.name, index: event.index },
        }),
      ];
    case 'MapIterationFailed':
      return [
        base(0, 'MapIterationFailed', {
          mapIterationEventDetails: {
            name: event.parentState.name,
            index: event.index,
            error: event.Error,
            cause: String(event.Cause ?? ''),
          },
        }),
      ];
    default:
      return [];
  }
}
