import { batchRepositoriesFromEnv } from '../shared/batch-dependencies';
import { lambdaEntry } from '../shared/lambda-handler';
import { finishBatchRun, FinishBatchRunEventSchema } from './finish-batch-run';

export const { createHandler, handler } = lambdaEntry(FinishBatchRunEventSchema, (rawEnv, { tracer }) => {
  const deps = batchRepositoriesFromEnv(rawEnv, tracer);
  return async (event) => finishBatchRun(event, deps);
});
