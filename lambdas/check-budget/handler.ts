import { CheckBudgetEnvSchema, jobRolesOf, parseEnv } from '../shared/runtime/env';
import { repositoryFromEnv } from '../shared/storage/job-repository';
import { lambdaEntry } from '../shared/runtime/lambda-handler';
import { checkBudget, CheckBudgetEventSchema } from './check-budget';

export const { createHandler, handler } = lambdaEntry(CheckBudgetEventSchema, (rawEnv, observability) => {
  const env = parseEnv(CheckBudgetEnvSchema, rawEnv);
  const repository = repositoryFromEnv(env, observability.tracer);
  const roles = jobRolesOf(env);
  return (event) => checkBudget(event, { repository, roles });
});
