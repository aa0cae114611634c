import middy, { type MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import type { Env } from './env';
import { InvalidEvent } from '../domain/errors';
import {
  appendCorrelationKeys,
  createObservability,
  type Observability,
  observabilityMiddlewares,
} from './observability';

/** Time kept back from the Lambda deadline so a slow model call fails as ModelTimeout, not a Lambda timeout. */
export const DEADLINE_MARGIN_MS = 5_000;

export const remainingMsOf = (context: Pick<Context, 'getRemainingTimeInMillis'>) => () =>
  Math.max(0, context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS);

/** Middy middleware: validates the incoming event with zod and hands the parsed value to the handler. */
export function parseEvent<S extends z.ZodType>(schema: S): MiddlewareObj<unknown, unknown, Error, Context> {
  return {
    before: (request) => {
      const result = schema.safeParse(request.event);
      if (!result.success) {
        const problems = result.error.issues.map(
          (issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`,
        );
        throw new InvalidEvent(`Invalid event: ${problems.join('; ')}`);
      }
      request.event = result.data;
    },
  };
}

export type LambdaHandler<R> = (event: unknown, context: Context) => Promise<R>;

/**
 * Builds a Lambda entry point from a pure function. `createHandler(env)` wires dependencies once per
 * container (the local runtime calls it with the function's environment from the synthesized
 * template); `handler` is what Lambda invokes, built from `process.env` on the first invocation.
 * Every function runs under Powertools (structured logs carrying the event's job and subtask ids,
 * metrics, X-Ray); `wire` gets the function's logger, metrics and tracer for its own use.
 */
export function lambdaEntry<S extends z.ZodType, R>(
  eventSchema: S,
  wire: (env: Env, observability: Observability) => (event: z.infer<S>, context: Context) => Promise<R>,
): { createHandler: (env: Env) => LambdaHandler<R>; handler: LambdaHandler<R> } {
  const createHandler = (env: Env): LambdaHandler<R> => {
    const observability = createObservability(env);
    const run = wire(env, observability);
    const wrapped = middy<unknown, R, Error, Context>()
      .use(observabilityMiddlewares(observability))
      .use(parseEvent(eventSchema))
      .use(appendCorrelationKeys(observability.logger))
      .handler((event, context) => run(event as z.infer<S>, context));
    return (event, context) => wrapped(event, context);
  };
  let fromProcessEnv: LambdaHandler<R> | undefined;
  const handler: LambdaHandler<R> = (event, context) => {
    fromProcessEnv ??= createHandler(process.env);
    return fromProcessEnv(event, context);
  };
  return { createHandler, handler };
}
