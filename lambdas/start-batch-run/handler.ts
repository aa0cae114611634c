import * as path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { batchRepositoriesFromEnv } from '../shared/storage/batch-repositories-from-env';
import { parseEnv, StartBatchRunEnvSchema } from '../shared/runtime/env';
import { lambdaEntry } from '../shared/runtime/lambda-handler';
import { S3BatchItemLists } from '../shared/batches/s3-item-lists';
import { loadBatchDefinitions } from '../shared/batches/catalog';
import type { BatchDefinition } from '../shared/domain/batch-schemas';
import { startBatchRun, StartBatchRunEventSchema } from './start-batch-run';

export const { createHandler, handler } = lambdaEntry(StartBatchRunEventSchema, (rawEnv, { tracer }) => {
  const env = parseEnv(StartBatchRunEnvSchema, rawEnv);
  let definitions: readonly BatchDefinition[] | undefined;
  const repositories = {
    ...batchRepositoriesFromEnv(rawEnv, tracer),
    // Read on first need: most runs carry their requests in the table.
    definitions: () =>
      (definitions ??= env.BATCHES_DIR ? loadBatchDefinitions(path.resolve(env.BATCHES_DIR)) : []),
  };
  const lane = { batchLane: env.BATCH_LANE === 'true' };
  const deps = env.BATCH_ITEMS_BUCKET
    ? {
        ...repositories,
        itemLists: new S3BatchItemLists(
          tracer.captureAWSv3Client(new S3Client({ region: env.AWS_REGION })),
          env.BATCH_ITEMS_BUCKET,
        ),
      }
    : repositories;
  return async (event) => startBatchRun(event, { ...deps, ...lane });
});
