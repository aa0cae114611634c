import { ModelEnvSchema, parseEnv } from '../shared/env';
import { InstrumentedModelGateway } from '../shared/instrumented-model-gateway';
import { repositoryFromEnv } from '../shared/job-repository';
import { remainingMsOf, lambdaEntry } from '../shared/lambda-handler';
import { createModelGateway } from '../shared/model-gateway';
import { METRIC, MetricUnit } from '../shared/observability';
import { sumUsage } from '../shared/pricing';
import { synthesizeJob, SynthesizeEventSchema } from './synthesize-job';

export const { createHandler, handler } = lambdaEntry(SynthesizeEventSchema, (rawEnv, observability) => {
  const env = parseEnv(ModelEnvSchema, rawEnv);
  const repository = repositoryFromEnv(env, observability.tracer);
  const model = new InstrumentedModelGateway(createModelGateway(env), 'synthesis', observability);
  const settings = { model: env.MODEL, maxTokens: env.MODEL_MAX_TOKENS };
  return async (event, context) => {
    const result = await synthesizeJob(event, {
      repository,
      model,
      settings,
      remainingMs: remainingMsOf(context),
    });
    if (result.status !== 'SUCCEEDED' && result.status !== 'PARTIAL') return result;
    // The job is finished: its cost is every recorded call's (planning, workers, synthesis).
    const stored = await repository.getJobWithSubtasks(event.jobId);
    if (stored) {
      const { job, subtasks } = stored;
      const usage = sumUsage([
        job.planUsage,
        ...subtasks.map((subtask) => subtask.usage),
        job.synthesisUsage,
      ]);
      observability.metrics.addMetric(METRIC.jobCostUsd, MetricUnit.NoUnit, usage.costUsd);
      observability.logger.info('Job finished', { status: result.status, ...usage });
    }
    return result;
  };
});
