import { batchRepositoriesFromEnv } from '../shared/storage/batch-repositories-from-env';
import { lambdaEntry } from '../shared/runtime/lambda-handler';
import { recordBatchItem, RecordBatchItemEventSchema } from './record-batch-item';

export const { createHandler, handler } = lambdaEntry(RecordBatchItemEventSchema, (rawEnv, { tracer }) => {
  const deps = batchRepositoriesFromEnv(rawEnv, tracer);
  return async (event) => recordBatchItem(event, deps);
});
