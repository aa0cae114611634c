import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { LambdaHandler } from '../../lambdas/shared/runtime/lambda-handler';
import type { LocalFunctionSpec } from './synthesized-stack';

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

/** One deployed function, run in-process from the same handler module, with its template environment. */
export class LocalLambdaFunction {
  private handler: LambdaHandler<unknown> | undefined;
  invocations = 0;

  constructor(
    readonly spec: LocalFunctionSpec,
    private readonly environment: Env,
  ) {}

  private async load(): Promise<LambdaHandler<unknown>> {
    if (!this.handler) {
      const module = (await import(this.spec.entry)) as HandlerModule;
      if (typeof module.createHandler !== 'function') {
        throw new Error(`${this.spec.entry} does not export createHandler`);
      }
      this.handler = module.createHandler(this.environment);
    }
    return this.handler;
  }

  /** Invokes like Lambda does: JSON in, JSON out, the function's timeout enforced, errors as errorType/Cause. */
  async invoke(payload: unknown): Promise<unknown> {
    this.invocations++;
    const handler = await this.load();
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
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new LambdaFunctionError(
              'Sandbox.Timedout',
              `Task timed out after ${this.spec.timeoutSeconds} seconds`,
            ),
          ),
        timeoutMs,
      );
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
    }
  }
}

/**
 * Emulates the `arn:aws:states:::lambda:invoke` integration for aws-local-stepfunctions (which does
 * not emulate it): the Task's Parameters arrive as `{ FunctionName, Payload }`, and the result is the
 * integration's envelope `{ StatusCode, ExecutedVersion, Payload }`.
 */
export function lambdaInvokeIntegration(functions: ReadonlyMap<string, LocalLambdaFunction>) {
  return async (
    input: unknown,
  ): Promise<{ StatusCode: number; ExecutedVersion: string; Payload: unknown }> => {
    const parameters = (input ?? {}) as { FunctionName?: unknown; Payload?: unknown };
    const name = String(parameters.FunctionName ?? '');
    const fn = functions.get(name);
    if (!fn) {
      throw new LambdaFunctionError('Lambda.ResourceNotFoundException', `Function not found: ${name}`);
    }
    const payload = await fn.invoke(parameters.Payload);
    return { StatusCode: 200, ExecutedVersion: '$LATEST', Payload: payload };
  };
}
