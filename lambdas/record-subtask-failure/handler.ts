import { CommonEnvSchema, parseEnv } from '../shared/env';
import { repositoryFromEnv } from '../shared/job-repository';
import { lambdaEntry } from '../shared/lambda-handler';
import { recordSubtaskFailure, RecordSubtaskFailureEventSchema } from './record-subtask-failure';

export const { createHandler, handler } = lambdaEntry(RecordSubtaskFailureEventSchema, (rawEnv) => {
  const repository = repositoryFromEnv(parseEnv(CommonEnvSchema, rawEnv));
  return async (event) => recordSubtaskFailure(event, repository);
});
