import { batchRepositoriesFromEnv } from '../shared/batch-dependencies';
import { lambdaEntry } from '../shared/lambda-handler';
import { recordBatchItem, RecordBatchItemEventSchema } from './record-batch-item';

export const { createHandler, handler } = lambdaEntry(RecordBatchItemEventSchema, (rawEnv, { tracer }) => {
  const deps = batchRepositoriesFromEnv(rawEnv, tracer);
  return async (event) => recordBatchItem(event, deps);
});
