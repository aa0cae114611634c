import { parseEnv, PlanEnvSchema } from '../shared/runtime/env';
import { InstrumentedModelGateway } from '../shared/model/instrumented-gateway';
import { repositoryFromEnv } from '../shared/storage/job-repository';
import { remainingMsOf, lambdaEntry } from '../shared/runtime/lambda-handler';
import { createModelGateway } from '../shared/model/gateway';
import { ExecutionInputSchema } from '../shared/domain/schemas';
import { planJob } from './plan-job';

export const { createHandler, handler } = lambdaEntry(ExecutionInputSchema, (rawEnv, observability) => {
  const env = parseEnv(PlanEnvSchema, rawEnv);
  const repository = repositoryFromEnv(env, observability.tracer);
  const model = new InstrumentedModelGateway(createModelGateway(env), 'orchestrator', observability);
  const settings = {
    model: env.MODEL,
    maxTokens: env.MODEL_MAX_TOKENS,
    maxSubtasks: env.MAX_SUBTASKS,
    repairAttempts: env.PLAN_REPAIR_ATTEMPTS,
    ...(env.EXACT_SUBTASK_COUNT ? { exactSubtaskCount: env.EXACT_SUBTASK_COUNT } : {}),
  };
  return (event, context) =>
    planJob(event, { repository, model, settings, remainingMs: remainingMsOf(context) });
});
