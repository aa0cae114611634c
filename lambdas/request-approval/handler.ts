import { CommonEnvSchema, parseEnv } from '../shared/runtime/env';
import { repositoryFromEnv } from '../shared/storage/job-repository';
import { lambdaEntry } from '../shared/runtime/lambda-handler';
import { requestApproval, RequestApprovalEventSchema } from './request-approval';

export const { createHandler, handler } = lambdaEntry(RequestApprovalEventSchema, (rawEnv, observability) => {
  const repository = repositoryFromEnv(parseEnv(CommonEnvSchema, rawEnv), observability.tracer);
  return (event) => requestApproval(event, repository);
});
