import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { type Env, parseEnv } from './env';

/** The service name every function logs, traces and publishes metrics under, unless configured otherwise. */
export const DEFAULT_SERVICE_NAME = 'orchestrator-workers';

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'] as const;
const flag = (fallback: boolean) => z.stringbool().default(fallback);

/**
 * Powertools settings. The stack sets them on every function (see `WorkflowFunction`); without them
 * (the local runtime, tests calling `createHandler`) a function logs nothing and publishes no metrics,
 * so CLI output and test output stay clean.
 */
export const ObservabilityEnvSchema = z.object({
  POWERTOOLS_SERVICE_NAME: z.string().min(1).default(DEFAULT_SERVICE_NAME),
  /** Metrics are published only with a namespace, and not when POWERTOOLS_METRICS_DISABLED is true. */
  POWERTOOLS_METRICS_NAMESPACE: z.string().min(1).optional(),
  POWERTOOLS_METRICS_DISABLED: flag(false),
  /** Tracing also needs the Lambda runtime: Powertools turns it off anywhere else. */
  POWERTOOLS_TRACE_ENABLED: flag(true),
  LOG_LEVEL: z
    .string()
    .transform((level) => level.toUpperCase())
    .pipe(z.enum(LOG_LEVELS))
    .default('SILENT'),
});

/** Logger, metrics and tracer of one function, configured from its environment. */
export interface Observability {
  readonly logger: Logger;
  /** Flushed after every invocation (the `logMetrics` middleware), under the `service` dimension. */
  readonly metrics: Metrics;
  readonly tracer: Tracer;
  /**
   * A separate set of metrics under extra dimensions (one model call's `role` and `model`), published
   * together as one EMF record by its own `publishStoredMetrics()`.
   */
  metricsWith(dimensions: Record<string, string>): Metrics;
}

export { METRIC } from './metric-names';
export { MetricUnit };

/**
 * Powertools reads its metrics on/off switch from `process.env` only, but our functions take their
 * environment as an argument (the local runtime runs every function in one process, each with its
 * template environment). This honours the switch given at construction. (The cold-start metric, which
 * bypasses it, is only ever published in Lambda: it needs AWS_LAMBDA_INITIALIZATION_TYPE.)
 */
class SwitchableMetrics extends Metrics {
  constructor(
    private readonly settings: {
      enabled: boolean;
      namespace: string | undefined;
      serviceName: string;
      defaultDimensions: Record<string, string>;
      logger: Logger;
    },
  ) {
    super({
      ...(settings.namespace ? { namespace: settings.namespace } : {}),
      serviceName: settings.serviceName,
      defaultDimensions: settings.defaultDimensions,
      logger: settings.logger,
    });
  }

  override publishStoredMetrics(): this {
    if (this.settings.enabled) return super.publishStoredMetrics();
    this.clearMetrics();
    this.clearDimensions();
    this.clearMetadata();
    return this;
  }

  withDimensions(dimensions: Record<string, string>): Metrics {
    return new SwitchableMetrics({
      ...this.settings,
      defaultDimensions: { ...this.settings.defaultDimensions, ...dimensions },
    });
  }
}

/** Builds a function's logger, metrics and tracer from its environment. Call once per container. */
export function createObservability(rawEnv: Env): Observability {
  const env = parseEnv(ObservabilityEnvSchema, rawEnv);
  const serviceName = env.POWERTOOLS_SERVICE_NAME;
  const logger = new Logger({ serviceName, logLevel: env.LOG_LEVEL });
  const metrics = new SwitchableMetrics({
    enabled: env.POWERTOOLS_METRICS_NAMESPACE !== undefined && !env.POWERTOOLS_METRICS_DISABLED,
    namespace: env.POWERTOOLS_METRICS_NAMESPACE,
    serviceName,
    defaultDimensions: {},
    // Metrics warns on every invocation that records none (the bookkeeping functions); only errors matter.
    logger: logger.createChild({ logLevel: env.LOG_LEVEL === 'SILENT' ? 'SILENT' : 'ERROR' }),
  });
  const tracer = new Tracer({ serviceName, enabled: env.POWERTOOLS_TRACE_ENABLED });
  return {
    logger,
    metrics,
    tracer,
    metricsWith: (dimensions) => metrics.withDimensions(dimensions),
  };
}

/** The ids an event carries that tie a log line to a job, subtask or batch run. */
export function correlationKeys(event: unknown): Record<string, string | number> {
  if (typeof event !== 'object' || event === null) return {};
  const fields = event as Record<string, unknown>;
  const item =
    typeof fields.item === 'object' && fields.item !== null ? (fields.item as Record<string, unknown>) : {};
  const keys: Record<string, string | number> = {};
  const jobId = fields.jobId ?? item.jobId;
  if (typeof jobId === 'string') keys.jobId = jobId;
  if (typeof fields.subtaskId === 'string') keys.subtaskId = fields.subtaskId;
  if (typeof fields.runId === 'string') keys.runId = fields.runId;
  if (typeof item.index === 'number') keys.itemIndex = item.index;
  return keys;
}

/**
 * The Powertools middlewares every function runs under, outermost first: Lambda context and a clean
 * set of keys on every log line, an X-Ray segment around the handler, metrics flushed after every
 * invocation (with a ColdStart metric), and one error log line naming the failure.
 */
export function observabilityMiddlewares<E = unknown, R = unknown>(
  observability: Observability,
): MiddlewareObj<E, R, Error, Context>[] {
  const { logger, metrics, tracer } = observability;
  return [
    injectLambdaContext(logger, { resetKeys: true }) as MiddlewareObj<E, R, Error, Context>,
    captureLambdaHandler(tracer) as MiddlewareObj<E, R, Error, Context>,
    logMetrics(metrics, { captureColdStartMetric: true }) as MiddlewareObj<E, R, Error, Context>,
    {
      onError: (request) => {
        const { error } = request;
        // An inner middleware already answered (the API's error responses): not a failed invocation.
        if (request.response !== undefined) return;
        logger.error('Invocation failed', {
          error: { name: error?.name ?? 'Error', message: error?.message ?? String(error) },
        });
      },
    },
  ];
}

/** Middy middleware: puts the parsed event's job, subtask and batch-run ids on every log line. */
export function appendCorrelationKeys(logger: Logger): MiddlewareObj<unknown, unknown, Error, Context> {
  return {
    before: (request) => {
      logger.appendKeys(correlationKeys(request.event));
    },
  };
}
