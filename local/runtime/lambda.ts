import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { LambdaHandler } from '../../lambdas/shared/runtime/lambda-handler';
import type { LocalFunctionSpec } from './synthesized-stack';
import { AccessDenied, authorize, type LocalPrincipal } from './iam-roles';
import { loadOnDemand } from './load-on-demand';

type Env = Record<string, string | undefined>;
type HandlerModule = { createHandler: (env: Env) => LambdaHandler<unknown> };

/**
 * The error a `lambda:invoke` Task sees when the function fails: its name is the function's
 * `errorType` (what Retry and Catch match on) and its message is the JSON Cause AWS puts in the
 * state: `{"errorType","errorMessage","trace"}`.
 */
export class LambdaFunctionError extends Error {
  constructor(errorType: string, errorMessage: string, trace: string[] = []) {
    super(JSON.stringify({ errorType, errorMessage, trace }));
    this.name = errorType;
  }
}

/** A service integration's own failure (not the function's): the cause is the service's message. */
export class TaskServiceError extends Error {
  constructor(errorName: string, cause: string) {
    super(cause);
    this.name = errorName;
  }
}

/**
 * What one execution environment of a function gets on top of its template environment (its
 * role's credentials, as Lambda sets them), and how it is killed when it outlives its timeout.
 */
export interface SandboxProvider {
  open(spec: LocalFunctionSpec): { environment: Env; kill: () => void };
}

interface Sandbox {
  handler: LambdaHandler<unknown>;
  kill: () => void;
}

/**
 * One deployed function, run in-process from the same handler module, with its template
 * environment. Like Lambda, each concurrent invocation runs in its own sandbox (`createHandler` with
 * that sandbox's credentials), idle sandboxes are reused, and a sandbox whose invocation times out
 * is killed: the provider cuts its credentials and model route, so nothing it does after its
 * deadline lands.
 */
export class LocalLambdaFunction {
  private module: HandlerModule | undefined;
  private readonly idle: Sandbox[] = [];
  private readonly running = new Map<Promise<unknown>, Sandbox>();
  private closed = false;
  invocations = 0;

  constructor(
    readonly spec: LocalFunctionSpec,
    private readonly environment: Env,
    private readonly sandboxes?: SandboxProvider,
  ) {}

  private async sandbox(): Promise<Sandbox> {
    const reused = this.idle.pop();
    if (reused) return reused;
    if (!this.module) {
      const module = loadOnDemand<HandlerModule>(this.spec.entry);
      if (typeof module.createHandler !== 'function') {
        throw new Error(`${this.spec.entry} does not export createHandler`);
      }
      this.module = module;
    }
    const opened = this.sandboxes?.open(this.spec) ?? { environment: {}, kill: () => undefined };
    return {
      handler: this.module.createHandler({ ...this.environment, ...opened.environment }),
      kill: opened.kill,
    };
  }

  /**
   * Kills every sandbox and waits for the invocations still running to end (their AWS and model
   * calls now fail at once), so nothing of this function outlives the local stack.
   */
  async shutdown(): Promise<void> {
    this.closed = true;
    for (const sandbox of [...this.idle.splice(0), ...this.running.values()]) sandbox.kill();
    await Promise.allSettled(this.running.keys());
  }

  /** Invokes like Lambda does: JSON in, JSON out, the function's timeout enforced, errors as errorType/Cause. */
  async invoke(payload: unknown): Promise<unknown> {
    this.invocations++;
    if (this.closed) throw new LambdaFunctionError('Lambda.ServiceException', 'The local stack has stopped');
    const sandbox = await this.sandbox();
    const invocation = this.run(sandbox, payload);
    this.running.set(invocation, sandbox);
    try {
      return await invocation;
    } finally {
      this.running.delete(invocation);
    }
  }

  private async run(sandbox: Sandbox, payload: unknown): Promise<unknown> {
    const handler = sandbox.handler;
    const timeoutMs = this.spec.timeoutSeconds * 1000;
    const deadline = Date.now() + timeoutMs;
    const context = {
      functionName: this.spec.logicalId,
      functionVersion: '$LATEST',
      invokedFunctionArn: this.spec.arn,
      memoryLimitInMB: '512',
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${this.spec.logicalId}`,
      logStreamName: 'local',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    } satisfies Context;

    let timer: NodeJS.Timeout | undefined;
    let timedOutSandbox = false;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // In AWS the sandbox is frozen at its deadline and then discarded: it never acts again.
        timedOutSandbox = true;
        sandbox.kill();
        reject(
          new LambdaFunctionError(
            'Sandbox.Timedout',
            `Task timed out after ${this.spec.timeoutSeconds} seconds`,
          ),
        );
      }, timeoutMs);
    });
    try {
      const event: unknown = JSON.parse(JSON.stringify(payload ?? null));
      const result = await Promise.race([handler(event, context), timedOut]);
      return result === undefined ? null : JSON.parse(JSON.stringify(result));
    } catch (error) {
      if (error instanceof LambdaFunctionError) throw error;
      const failure = error instanceof Error ? error : new Error(String(error));
      throw new LambdaFunctionError(
        failure.name || 'Error',
        failure.message,
        (failure.stack ?? '').split('\n'),
      );
    } finally {
      clearTimeout(timer);
      if (!timedOutSandbox) this.idle.push(sandbox);
    }
  }
}

/**
 * Emulates the `arn:aws:states:::lambda:invoke` integration for aws-local-stepfunctions (which does
 * not emulate it): the Task's Parameters arrive as `{ FunctionName, Payload }`, and the result is the
 * integration's envelope `{ StatusCode, ExecutedVersion, Payload }`.
 */
export function lambdaInvokeIntegration(
  functions: ReadonlyMap<string, LocalLambdaFunction>,
  /** The state machine's role: the invoke is made with it, so it needs lambda:InvokeFunction. */
  caller?: LocalPrincipal,
) {
  return async (
    input: unknown,
  ): Promise<{ StatusCode: number; ExecutedVersion: string; Payload: unknown }> => {
    const parameters = (input ?? {}) as { FunctionName?: unknown; Payload?: unknown };
    const name = String(parameters.FunctionName ?? '');
    if (caller) {
      try {
        authorize(caller, { action: 'lambda:InvokeFunction', resource: name });
      } catch (error) {
        if (!(error instanceof AccessDenied)) throw error;
        // What the Lambda integration reports for a 403 from Lambda (the Java SDK's generic exception).
        throw new TaskServiceError(
          'Lambda.AWSLambdaException',
          `${error.message} (Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException; Request ID: ${randomUUID()}; Proxy: null)`,
        );
      }
    }
    const fn = functions.get(name);
    if (!fn) {
      throw new LambdaFunctionError('Lambda.ResourceNotFoundException', `Function not found: ${name}`);
    }
    const payload = await fn.invoke(parameters.Payload);
    return { StatusCode: 200, ExecutedVersion: '$LATEST', Payload: payload };
  };
}
