import { CommonEnvSchema, type Env, parseEnv } from './env';
import { BatchRepository } from './batch-repository';
import { createDocumentClient, JobRepository } from './job-repository';

/** The two repositories every batch function uses, from its environment. */
export function batchRepositoriesFromEnv(rawEnv: Env): { batches: BatchRepository; jobs: JobRepository } {
  const env = parseEnv(CommonEnvSchema, rawEnv);
  const documents = createDocumentClient({ region: env.AWS_REGION, endpoint: env.DYNAMODB_ENDPOINT });
  return {
    batches: new BatchRepository(documents, env.TABLE_NAME, env.JOB_TTL_DAYS),
    jobs: new JobRepository(documents, env.TABLE_NAME, env.JOB_TTL_DAYS),
  };
}
