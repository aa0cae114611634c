import { randomUUID } from 'node:crypto';
import { StepFunctionsError } from './step-functions';

/**
 * The `.waitForTaskToken` integration, which aws-local-stepfunctions does not run: a Task whose
 * Parameters take `$$.Task.Token` is started (its Lambda invoked), then parks until
 * SendTaskSuccess / SendTaskFailure answers the token, its TimeoutSeconds pass (`States.Timeout`) or
 * no SendTaskHeartbeat comes within HeartbeatSeconds (`States.HeartbeatTimeout`). The API's answers
 * for tokens that no longer wait are AWS's: `TaskTimedOut`, `TaskDoesNotExist`, `InvalidToken`.
 */

/** Local tokens name their state machine, so IAM can be checked against it, as AWS checks the token's. */
const TOKEN_PATTERN = /^local-task-token:([A-Za-z0-9_-]{1,80}):([0-9a-f-]{36})$/;

/** A Task's failure as Step Functions reports it; `name` is what Retry and Catch match. */
class TaskFailure extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

interface Waiting {
  executionArn: string;
  resolve(output: unknown): void;
  reject(error: Error): void;
  heartbeatSeconds: number | undefined;
  timers: NodeJS.Timeout[];
  heartbeat?: NodeJS.Timeout;
}

/** The state machine whose token this is, or undefined for a string that is no local token. */
export function stateMachineNameOfToken(token: string): string | undefined {
  return TOKEN_PATTERN.exec(token)?.[1];
}

export class LocalTaskTokens {
  /** Minted by `$$.Task.Token`, not yet parked: the task is being started. */
  private readonly minted = new Map<string, string>();
  private readonly waiting = new Map<string, Waiting>();
  /** Tokens whose wait ended: how (so a late answer gets AWS's error). */
  private readonly ended = new Map<string, 'timed-out' | 'done'>();

  /** The `Task` of an execution's context object: each read of `Token` mints a fresh one. */
  contextFor(executionArn: string, stateMachineName: string): { readonly Token: string } {
    const mint = () => {
      const token = `local-task-token:${stateMachineName}:${randomUUID()}`;
      this.minted.set(token, executionArn);
      return token;
    };
    return {
      get Token() {
        return mint();
      },
    };
  }

  /** The token a Task's (processed) input carries; the Task's Parameters put it there. */
  tokenIn(input: unknown): string | undefined {
    if (typeof input === 'string') return this.minted.has(input) ? input : undefined;
    if (input === null || typeof input !== 'object') return undefined;
    for (const value of Object.values(input as Record<string, unknown>)) {
      const found = this.tokenIn(value);
      if (found) return found;
    }
    return undefined;
  }

  /**
   * Parks the task of `token` until it is answered. Call before starting the task's work, so an
   * answer sent while it starts is not lost; `started` is that work, whose failure fails the task.
   */
  async park(
    token: string,
    options: { timeoutSeconds?: number; heartbeatSeconds?: number },
    started: () => Promise<unknown>,
  ): Promise<unknown> {
    const executionArn = this.minted.get(token);
    if (!executionArn)
      throw new TaskFailure('States.Runtime', 'The task token was not minted by this execution');
    this.minted.delete(token);
    const answered = new Promise<unknown>((resolve, reject) => {
      const entry: Waiting = {
        executionArn,
        resolve,
        reject,
        heartbeatSeconds: options.heartbeatSeconds,
        timers: [],
      };
      this.waiting.set(token, entry);
      if (options.timeoutSeconds !== undefined)
        entry.timers.push(
          setTimeout(
            () => this.end(token, 'timed-out', new TaskFailure('States.Timeout', 'Task timed out')),
            options.timeoutSeconds * 1_000,
          ),
        );
      this.armHeartbeat(token, entry);
    });
    answered.catch(() => undefined);
    try {
      await started();
    } catch (error) {
      this.end(token, 'done');
      throw error;
    }
    return answered;
  }

  sendTaskSuccess(token: string, output: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(output);
    } catch {
      throw new StepFunctionsError('InvalidOutput', 'Invalid output: not JSON');
    }
    const entry = this.open(token);
    this.waiting.delete(token);
    this.clear(entry);
    this.ended.set(token, 'done');
    entry.resolve(parsed);
  }

  sendTaskFailure(token: string, error?: string, cause?: string): void {
    this.open(token);
    this.end(token, 'done', new TaskFailure(error ?? 'States.TaskFailed', cause ?? ''));
  }

  sendTaskHeartbeat(token: string): void {
    const entry = this.open(token);
    this.armHeartbeat(token, entry);
  }

  /** The execution ended (stopped, timed out): its parked tasks are gone, as in AWS. */
  endExecution(executionArn: string): void {
    for (const [token, entry] of this.waiting)
      if (entry.executionArn === executionArn)
        this.end(token, 'done', new TaskFailure('States.Runtime', 'The execution ended'));
    for (const [token, owner] of this.minted) if (owner === executionArn) this.minted.delete(token);
  }

  /** How many tasks wait for an answer (tests, the local server's shutdown). */
  waitingCount(): number {
    return this.waiting.size;
  }

  private open(token: string): Waiting {
    if (!TOKEN_PATTERN.test(token)) throw new StepFunctionsError('InvalidToken', 'Invalid token');
    const entry = this.waiting.get(token);
    if (entry) return entry;
    if (this.ended.get(token) === 'timed-out')
      throw new StepFunctionsError('TaskTimedOut', 'Task Timed Out: the task of this token timed out');
    throw new StepFunctionsError('TaskDoesNotExist', 'Task Does Not Exist: no task waits for this token');
  }

  private armHeartbeat(token: string, entry: Waiting): void {
    if (entry.heartbeatSeconds === undefined) return;
    if (entry.heartbeat) clearTimeout(entry.heartbeat);
    entry.heartbeat = setTimeout(
      () =>
        this.end(token, 'timed-out', new TaskFailure('States.HeartbeatTimeout', 'Task heartbeat timed out')),
      entry.heartbeatSeconds * 1_000,
    );
  }

  private end(token: string, how: 'timed-out' | 'done', error?: Error): void {
    const entry = this.waiting.get(token);
    if (!entry) return;
    this.waiting.delete(token);
    this.clear(entry);
    this.ended.set(token, how);
    if (error) entry.reject(error);
  }

  private clear(entry: Waiting): void {
    for (const timer of entry.timers) clearTimeout(timer);
    if (entry.heartbeat) clearTimeout(entry.heartbeat);
  }
}

/**
 * The handler of a `.waitForTaskToken` Task: starts its work (`start`, e.g. the Lambda invoke of
 * `lambda:invoke.waitForTaskToken`) with the token in its input, then waits for the answer with the
 * state's TimeoutSeconds and HeartbeatSeconds.
 */
export function waitForTaskTokenIntegration(
  tokens: LocalTaskTokens,
  start: (input: unknown) => Promise<unknown>,
  state: Readonly<Record<string, unknown>>,
) {
  const seconds = (value: unknown) => (typeof value === 'number' ? value : undefined);
  return async (input: unknown): Promise<unknown> => {
    const token = tokens.tokenIn(input);
    if (!token)
      throw new TaskFailure(
        'States.Runtime',
        'A .waitForTaskToken Task must pass $$.Task.Token in its Parameters',
      );
    const timeoutSeconds = seconds(state.TimeoutSeconds);
    const heartbeatSeconds = seconds(state.HeartbeatSeconds);
    return tokens.park(
      token,
      {
        ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
        ...(heartbeatSeconds !== undefined ? { heartbeatSeconds } : {}),
      },
      () => start(input),
    );
  };
}
