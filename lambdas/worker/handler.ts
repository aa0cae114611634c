import { ModelEnvSchema, parseEnv } from '../shared/env';
import { repositoryFromEnv } from '../shared/job-repository';
import { remainingMsOf, lambdaEntry } from '../shared/lambda-handler';
import { createModelGateway } from '../shared/model-gateway';
import { runSubtask, RunSubtaskEventSchema } from './run-subtask';

export const { createHandler, handler } = lambdaEntry(RunSubtaskEventSchema, (rawEnv) => {
  const env = parseEnv(ModelEnvSchema, rawEnv);
  const repository = repositoryFromEnv(env);
  const model = createModelGateway(env);
  const settings = { model: env.MODEL, maxTokens: env.MODEL_MAX_TOKENS };
  return (event, context) =>
    runSubtask(event, { repository, model, settings, remainingMs: remainingMsOf(context) });
});
