import { CommonEnvSchema, type Env, parseEnv } from '../runtime/env';
import { BatchRepository } from './batch-repository';
import { type ClientTracer, createDocumentClient, JobRepository } from './job-repository';

/** The two repositories every batch function uses, from its environment. */
export function batchRepositoriesFromEnv(
  rawEnv: Env,
  tracer?: ClientTracer,
): { batches: BatchRepository; jobs: JobRepository } {
  const env = parseEnv(CommonEnvSchema, rawEnv);
  const documents = createDocumentClient({
    region: env.AWS_REGION,
    endpoint: env.DYNAMODB_ENDPOINT,
    credentials: env,
    ...(tracer ? { tracer } : {}),
  });
  return {
    batches: new BatchRepository(documents, env.TABLE_NAME, env.JOB_TTL_DAYS),
    jobs: new JobRepository(documents, env.TABLE_NAME, env.JOB_TTL_DAYS),
  };
}
