import { jobRolesOf, parseEnv, PlanEnvSchema } from '../shared/runtime/env';
import { repositoryFromEnv } from '../shared/storage/job-repository';
import { remainingMsOf, lambdaEntry } from '../shared/runtime/lambda-handler';
import { modelGatewayFromEnv } from '../shared/model/gateway-from-env';
import { ExecutionInputSchema } from '../shared/domain/schemas';
import { type Env } from '../shared/runtime/env';
import { planJob, type PlanSettings } from './plan-job';

/**
 * The plan function's entry. `extraSettings` is a seam for development tools (the benchmark plans an
 * exact number of subtasks through it); the deployed function uses none.
 */
export const planEntry = (extraSettings: (env: Env) => Partial<PlanSettings> = () => ({})) =>
  lambdaEntry(ExecutionInputSchema, (rawEnv, observability) => {
    const env = parseEnv(PlanEnvSchema, rawEnv);
    const repository = repositoryFromEnv(env, observability.tracer);
    const model = modelGatewayFromEnv(env, 'orchestrator', observability);
    const settings = {
      model: env.MODEL,
      maxTokens: env.MODEL_MAX_TOKENS,
      maxSubtasks: env.MAX_SUBTASKS,
      repairAttempts: env.PLAN_REPAIR_ATTEMPTS,
      roles: jobRolesOf(env),
      defaults: { approval: env.DEFAULT_APPROVAL ?? ('none' as const), budget: env.DEFAULT_BUDGET },
      ...extraSettings(rawEnv),
    };
    return (event, context) =>
      planJob(event, { repository, model, settings, remainingMs: remainingMsOf(context) });
  });

export const { createHandler, handler } = planEntry();
