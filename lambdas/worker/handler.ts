import { ModelEnvSchema, parseEnv } from '../shared/runtime/env';
import { repositoryFromEnv } from '../shared/storage/job-repository';
import { remainingMsOf, lambdaEntry } from '../shared/runtime/lambda-handler';
import { modelGatewayFromEnv } from '../shared/model/gateway-from-env';
import { METRIC, MetricUnit } from '../shared/runtime/observability';
import { runSubtask, RunSubtaskEventSchema } from './run-subtask';

export const { createHandler, handler } = lambdaEntry(RunSubtaskEventSchema, (rawEnv, observability) => {
  const env = parseEnv(ModelEnvSchema, rawEnv);
  const repository = repositoryFromEnv(env, observability.tracer);
  const model = modelGatewayFromEnv(env, 'worker', observability);
  const settings = { model: env.MODEL, maxTokens: env.MODEL_MAX_TOKENS };
  // Step Functions retries RunSubtask outside the function; an attempt after the first is one retry.
  const onAttemptStarted = (attempt: number) => {
    observability.logger.appendKeys({ attempt });
    if (attempt > 1) observability.metrics.addMetric(METRIC.subtaskRetries, MetricUnit.Count, 1);
  };
  return (event, context) =>
    runSubtask(event, { repository, model, settings, remainingMs: remainingMsOf(context), onAttemptStarted });
});
