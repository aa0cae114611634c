import { batchRepositoriesFromEnv } from '../shared/batch-dependencies';
import { lambdaEntry } from '../shared/lambda-handler';
import { recordBatchItem, RecordBatchItemEventSchema } from './record-batch-item';

export const { createHandler, handler } = lambdaEntry(RecordBatchItemEventSchema, (rawEnv) => {
  const deps = batchRepositoriesFromEnv(rawEnv);
  return async (event) => recordBatchItem(event, deps);
});
