import { CommonEnvSchema, parseEnv } from '../shared/env';
import { repositoryFromEnv } from '../shared/job-repository';
import { lambdaEntry } from '../shared/lambda-handler';
import { markJobFailed, MarkFailedEventSchema } from './mark-failed';

export const { createHandler, handler } = lambdaEntry(MarkFailedEventSchema, (rawEnv) => {
  const repository = repositoryFromEnv(parseEnv(CommonEnvSchema, rawEnv));
  return async (event) => markJobFailed(event, repository);
});
