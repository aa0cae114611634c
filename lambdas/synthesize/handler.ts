import { ModelEnvSchema, parseEnv } from '../shared/runtime/env';
import { repositoryFromEnv } from '../shared/storage/job-repository';
import { remainingMsOf, lambdaEntry } from '../shared/runtime/lambda-handler';
import { modelGatewayFromEnv } from '../shared/model/gateway-from-env';
import { METRIC, MetricUnit } from '../shared/runtime/observability';
import { synthesizeJob, SynthesizeEventSchema } from './synthesize-job';

export const { createHandler, handler } = lambdaEntry(SynthesizeEventSchema, (rawEnv, observability) => {
  const env = parseEnv(ModelEnvSchema, rawEnv);
  const repository = repositoryFromEnv(env, observability.tracer);
  const model = modelGatewayFromEnv(env, 'synthesis', observability);
  const settings = { model: env.MODEL, maxTokens: env.MODEL_MAX_TOKENS };
  return async (event, context) => {
    const result = await synthesizeJob(event, {
      repository,
      model,
      settings,
      remainingMs: remainingMsOf(context),
    });
    // Only the invocation that finished the job reports its cost, so a retried Synthesize counts it once.
    if (result.costUsd !== undefined) {
      observability.metrics.addMetric(METRIC.jobCostUsd, MetricUnit.NoUnit, result.costUsd);
      observability.logger.info('Job finished', { status: result.status, costUsd: result.costUsd });
    }
    return result;
  };
});
