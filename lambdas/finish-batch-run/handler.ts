import { batchRepositoriesFromEnv } from '../shared/storage/batch-repositories-from-env';
import { lambdaEntry } from '../shared/runtime/lambda-handler';
import { finishBatchRun, FinishBatchRunEventSchema } from './finish-batch-run';

export const { createHandler, handler } = lambdaEntry(FinishBatchRunEventSchema, (rawEnv, { tracer }) => {
  const deps = batchRepositoriesFromEnv(rawEnv, tracer);
  return async (event) => finishBatchRun(event, deps);
});
