import { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod';
import { S3BatchItemLists } from '../shared/batches/s3-item-lists';
import { anthropicClientFactory } from '../shared/model/gateway';
import { ModelEnvSchema, parseEnv } from '../shared/runtime/env';
import { lambdaEntry } from '../shared/runtime/lambda-handler';
import { createDocumentClient, JobRepository } from '../shared/storage/job-repository';
import { BatchRepository } from '../shared/storage/batch-repository';
import { LaneRepository } from '../shared/storage/lane-repository';
import { BatchLaneEventSchema, runLaneStep } from './run-lane-step';
import { anthropicMessageBatches } from './message-batches';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** The batch lane's settings: the three roles' models and limits, as the plan, worker and synthesis functions have them. */
const BatchLaneEnvSchema = ModelEnvSchema.omit({ MODEL: true, MODEL_MAX_TOKENS: true }).extend({
  ORCHESTRATOR_MODEL: z.string().min(1),
  WORKER_MODEL: z.string().min(1),
  SYNTHESIS_MODEL: z.string().min(1),
  ORCHESTRATOR_MAX_TOKENS: positiveInt(4_096),
  WORKER_MAX_TOKENS: positiveInt(4_096),
  SYNTHESIS_MAX_TOKENS: positiveInt(8_192),
  MAX_SUBTASKS: z.coerce.number().int().min(1).max(100).default(10),
  PLAN_REPAIR_ATTEMPTS: z.coerce.number().int().min(0).max(5).default(2),
  BATCH_POLL_SECONDS: positiveInt(60),
  BATCH_MAX_TRIES: positiveInt(3),
  /** Set with a Distributed Map: where the items left for on demand are written. */
  BATCH_ITEMS_BUCKET: z.string().min(3).max(63).optional(),
});

export const { createHandler, handler } = lambdaEntry(BatchLaneEventSchema, (rawEnv, { tracer }) => {
  const env = parseEnv(BatchLaneEnvSchema, rawEnv);
  const documents = createDocumentClient({
    region: env.AWS_REGION,
    endpoint: env.DYNAMODB_ENDPOINT,
    credentials: env,
    tracer,
  });
  const deps = {
    batches: new BatchRepository(documents, env.TABLE_NAME, env.JOB_TTL_DAYS),
    jobs: new JobRepository(documents, env.TABLE_NAME, env.JOB_TTL_DAYS),
    lanes: new LaneRepository(documents, env.TABLE_NAME, env.JOB_TTL_DAYS),
    messageBatches: anthropicMessageBatches(
      anthropicClientFactory({
        ...env,
        MODEL: env.ORCHESTRATOR_MODEL,
        MODEL_MAX_TOKENS: env.ORCHESTRATOR_MAX_TOKENS,
      }),
    ),
    settings: {
      plan: {
        model: env.ORCHESTRATOR_MODEL,
        maxTokens: env.ORCHESTRATOR_MAX_TOKENS,
        maxSubtasks: env.MAX_SUBTASKS,
        repairAttempts: env.PLAN_REPAIR_ATTEMPTS,
        roles: {
          worker: { model: env.WORKER_MODEL, maxTokens: env.WORKER_MAX_TOKENS },
          synthesis: { model: env.SYNTHESIS_MODEL, maxTokens: env.SYNTHESIS_MAX_TOKENS },
        },
        defaults: { approval: 'none' as const },
        withoutReviewOrBudget: true,
      },
      worker: { model: env.WORKER_MODEL, maxTokens: env.WORKER_MAX_TOKENS },
      synthesis: { model: env.SYNTHESIS_MODEL, maxTokens: env.SYNTHESIS_MAX_TOKENS },
      maxTries: env.BATCH_MAX_TRIES,
      pollSeconds: env.BATCH_POLL_SECONDS,
    },
    ...(env.BATCH_ITEMS_BUCKET
      ? {
          itemLists: new S3BatchItemLists(
            tracer.captureAWSv3Client(new S3Client({ region: env.AWS_REGION })),
            env.BATCH_ITEMS_BUCKET,
          ),
        }
      : {}),
  };
  return (event) => runLaneStep(event, deps);
});
