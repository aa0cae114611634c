import middy from '@middy/core';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import * as z from 'zod';
import * as path from 'node:path';
import { BatchRepository } from '../shared/storage/batch-repository';
import { loadBatchDefinitions } from '../shared/batches/catalog';
import type { BatchDefinition } from '../shared/domain/batch-schemas';
import { CommonEnvSchema, type Env, jobRolesOf, JobRolesEnvSchema, parseEnv } from '../shared/runtime/env';
import { createDocumentClient, JobRepository, localCredentials } from '../shared/storage/job-repository';
import { createObservability, observabilityMiddlewares } from '../shared/runtime/observability';
import { handleApiRequest, httpErrorHandler } from './http-api';
import { IdempotencyStore } from './idempotency';
import { BatchesService } from './batches-service';
import { JobsService, sfnExecutionStarter, sfnTaskTokens } from './jobs-service';

const ApiEnvSchema = CommonEnvSchema.extend({
  STATE_MACHINE_ARN: z.string().startsWith('arn:'),
  BATCH_STATE_MACHINE_ARN: z.string().startsWith('arn:'),
  /** The batch definitions bundled with the function, relative to its root (the working directory). */
  BATCHES_DIR: z.string().min(1).default('batches'),
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(65_536),
  /** Most items one batch run may have (the deployment's batch Map decides). */
  BATCH_MAX_ITEMS: z.coerce.number().int().positive().optional(),
  /** `false` when the deployment cannot run the Message Batches lane (provider `bedrock`). */
  BATCH_LANE: z.enum(['true', 'false']).default('true'),
  /** Local runs only: the local Step Functions endpoint. */
  SFN_ENDPOINT: z.url().optional(),
  /** Local runs only: the local execution console, for the job view's `consoleUrl`. */
  CONSOLE_URL: z.url().optional(),
}).extend(JobRolesEnvSchema.shape);

type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** Wires the jobs API once per container; the local server calls it with the template's environment. */
export function createHandler(rawEnv: Env): ApiHandler {
  const env = parseEnv(ApiEnvSchema, rawEnv);
  const observability = createObservability(rawEnv);
  const { tracer } = observability;
  const documents = createDocumentClient({
    region: env.AWS_REGION,
    endpoint: env.DYNAMODB_ENDPOINT,
    credentials: env,
    tracer,
  });
  const sfn = new SFNClient({
    region: env.AWS_REGION,
    ...(env.SFN_ENDPOINT ? { endpoint: env.SFN_ENDPOINT, credentials: localCredentials(env) } : {}),
  });
  tracer.captureAWSv3Client(sfn);
  const jobs = new JobRepository(documents, env.TABLE_NAME, env.JOB_TTL_DAYS);
  const service = new JobsService({
    repository: jobs,
    idempotency: new IdempotencyStore(documents, env.TABLE_NAME),
    executions: sfnExecutionStarter(sfn, env.STATE_MACHINE_ARN),
    taskTokens: sfnTaskTokens(sfn),
    roles: jobRolesOf(env),
    ...(env.CONSOLE_URL ? { localConsoleUrl: env.CONSOLE_URL } : {}),
  });
  let definitions: readonly BatchDefinition[] | undefined;
  const batches = new BatchesService({
    batches: new BatchRepository(documents, env.TABLE_NAME, env.JOB_TTL_DAYS),
    executions: sfnExecutionStarter(sfn, env.BATCH_STATE_MACHINE_ARN),
    jobStatus: async (jobId) => (await jobs.getJob(jobId))?.status,
    definitions: () => (definitions ??= loadBatchDefinitions(path.resolve(env.BATCHES_DIR))),
    ...(env.BATCH_MAX_ITEMS ? { maxItems: env.BATCH_MAX_ITEMS } : {}),
    batchLane: env.BATCH_LANE === 'true',
  });
  const wrapped = middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>()
    .use(observabilityMiddlewares<APIGatewayProxyEvent, APIGatewayProxyResult>(observability))
    .use(httpErrorHandler())
    .handler((event) => handleApiRequest(event, service, { maxBodyBytes: env.MAX_BODY_BYTES, batches }));
  return (event, context) => wrapped(event, context);
}

let fromProcessEnv: ApiHandler | undefined;
export const handler: ApiHandler = (event, context) => {
  fromProcessEnv ??= createHandler(process.env);
  return fromProcessEnv(event, context);
};
