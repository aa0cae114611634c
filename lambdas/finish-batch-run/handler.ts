import { batchRepositoriesFromEnv } from '../shared/batch-dependencies';
import { lambdaEntry } from '../shared/lambda-handler';
import { finishBatchRun, FinishBatchRunEventSchema } from './finish-batch-run';

export const { createHandler, handler } = lambdaEntry(FinishBatchRunEventSchema, (rawEnv) => {
  const deps = batchRepositoriesFromEnv(rawEnv);
  return async (event) => finishBatchRun(event, deps);
});
