import { CommonEnvSchema, parseEnv } from '../shared/runtime/env';
import { repositoryFromEnv } from '../shared/storage/job-repository';
import { lambdaEntry } from '../shared/runtime/lambda-handler';
import { METRIC, MetricUnit } from '../shared/runtime/observability';
import { recordSubtaskFailure, RecordSubtaskFailureEventSchema } from './record-subtask-failure';

export const { createHandler, handler } = lambdaEntry(
  RecordSubtaskFailureEventSchema,
  (rawEnv, observability) => {
    const repository = repositoryFromEnv(parseEnv(CommonEnvSchema, rawEnv), observability.tracer);
    return async (event) => {
      const result = await recordSubtaskFailure(event, repository);
      if (result.status === 'FAILED') {
        const metrics = observability.metricsWith({ errorName: result.error });
        metrics.addMetric(METRIC.subtasksFailed, MetricUnit.Count, 1);
        metrics.publishStoredMetrics();
        observability.logger.warn('Subtask failed for good', { error: result.error });
      }
      return result;
    };
  },
);
