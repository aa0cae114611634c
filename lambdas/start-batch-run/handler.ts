import { batchRepositoriesFromEnv } from '../shared/batch-dependencies';
import { lambdaEntry } from '../shared/lambda-handler';
import { startBatchRun, StartBatchRunEventSchema } from './start-batch-run';

export const { createHandler, handler } = lambdaEntry(StartBatchRunEventSchema, (rawEnv) => {
  const deps = batchRepositoriesFromEnv(rawEnv);
  return async (event) => startBatchRun(event, deps);
});
