import { CommonEnvSchema, parseEnv } from '../shared/runtime/env';
import { repositoryFromEnv } from '../shared/storage/job-repository';
import { lambdaEntry } from '../shared/runtime/lambda-handler';
import { METRIC, MetricUnit } from '../shared/runtime/observability';
import { markJobFailed, MarkFailedEventSchema } from './mark-failed';

export const { createHandler, handler } = lambdaEntry(MarkFailedEventSchema, (rawEnv, observability) => {
  const repository = repositoryFromEnv(parseEnv(CommonEnvSchema, rawEnv), observability.tracer);
  return async (event) => {
    const result = await markJobFailed(event, repository);
    const metrics = observability.metricsWith({ errorName: result.error });
    metrics.addMetric(METRIC.jobsFailed, MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
    observability.logger.warn('Job failed', { error: { name: result.error, message: result.cause } });
    return result;
  };
});
