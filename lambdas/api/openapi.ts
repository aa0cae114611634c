import * as z from 'zod';
import { JobRequestSchema, REQUEST_LIMITS } from '../shared/domain/schemas';
import {
  ApprovalBodySchema,
  ProfileListSchema,
  BatchAcceptedSchema,
  BatchRunListSchema,
  BatchRunViewSchema,
  CreateBatchBodySchema,
  JobAcceptedSchema,
  JobListSchema,
  JobViewSchema,
  ListBatchesQuerySchema,
  ListJobsQuerySchema,
} from './api-schemas';
import { ErrorResponseSchema } from './http-error';

const schema = (type: z.ZodType, io: 'input' | 'output' = 'output') =>
  z.toJSONSchema(type, { io, unrepresentable: 'any', target: 'openapi-3.0' }) as Record<string, unknown>;

/** A JSON body or response whose schema is one of the components below. */
const json = (component: string) => ({
  'application/json': { schema: { $ref: `#/components/schemas/${component}` } },
});

const error = (description: string) => ({
  description,
  content: json('Error'),
});

/** The OpenAPI 3 document, generated from the same zod schemas the handler validates with. */
export function buildOpenApiDocument(): Record<string, unknown> {
  const query = schema(ListJobsQuerySchema, 'input') as {
    properties: Record<string, Record<string, unknown>>;
  };
  const batchQuery = schema(ListBatchesQuerySchema, 'input') as {
    properties: Record<string, Record<string, unknown>>;
  };
  const jobIdParameter = {
    name: 'jobId',
    in: 'path',
    required: true,
    schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{2,79}$' },
    description: 'The job id (also the Step Functions execution name)',
  };
  const common = {
    '400': error('Invalid input: the message and details name each bad field'),
    '401': error('Missing x-api-key header'),
    '403': error('Invalid API key'),
    '429': error('Throttled or over quota'),
  };
  return {
    openapi: '3.0.3',
    info: {
      title: 'Orchestrator-workers jobs API',
      version: '1.0.0',
      description:
        'Start orchestrator-workers content-generation jobs, follow them, and read their results. Every route needs the x-api-key header.',
    },
    security: [{ apiKey: [] }],
    paths: {
      '/jobs': {
        post: {
          operationId: 'createJob',
          summary: 'Start a job',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' },
              description:
                'Retrying with the same key returns the same job; the same key with another body is a 409.',
            },
          ],
          requestBody: {
            required: true,
            content: json('JobRequest'),
          },
          responses: {
            '202': {
              description: 'Job accepted',
              content: json('JobAccepted'),
            },
            ...common,
            '409': error('Idempotency-Key reused with a different body'),
            '413': error(`Body larger than the limit`),
            '415': error('Content-Type is not application/json'),
          },
        },
        get: {
          operationId: 'listJobs',
          summary: 'List jobs, newest first',
          parameters: Object.entries(query.properties).map(([name, property]) => ({
            name,
            in: 'query',
            required: false,
            schema: property,
          })),
          responses: {
            '200': {
              description: 'A page of jobs',
              content: json('JobList'),
            },
            ...common,
          },
        },
      },
      '/jobs/{jobId}': {
        get: {
          operationId: 'getJob',
          summary: 'Read a job: status, plan, subtask outputs, synthesis, usage',
          parameters: [jobIdParameter],
          responses: {
            '200': {
              description: 'The job view',
              content: json('JobView'),
            },
            ...common,
            '404': error('No such job'),
          },
        },
        delete: {
          operationId: 'cancelJob',
          summary: 'Cancel an unfinished job: stops its execution; the job ends CANCELLED',
          parameters: [jobIdParameter],
          responses: {
            '202': {
              description: 'Cancelled',
              content: json('JobAccepted'),
            },
            ...common,
            '404': error('No such job'),
            '409': error('The job already finished'),
          },
        },
      },
      '/jobs/{jobId}/approval': {
        post: {
          operationId: 'decideApproval',
          summary:
            'Decide on the plan of a job awaiting approval: approve (optionally keeping only some subtasks) or reject',
          parameters: [jobIdParameter],
          requestBody: { required: true, content: json('ApprovalRequest') },
          responses: {
            '200': { description: 'The job view after the decision', content: json('JobView') },
            ...common,
            '404': error('No such job'),
            '409': error('The job is not awaiting approval (or its wait had already ended)'),
            '413': error('Body larger than the limit'),
            '415': error('Content-Type is not application/json'),
          },
        },
      },
      '/profiles': {
        get: {
          operationId: 'listProfiles',
          summary:
            'List the job profiles (research, marketing, project, custom) with their subtask types and template variables',
          responses: {
            '200': {
              description: 'The profiles',
              content: json('ProfileList'),
            },
            ...common,
          },
        },
      },
      '/batches': {
        post: {
          operationId: 'createBatch',
          summary: 'Run a batch now: a definition by name, or inline items',
          requestBody: {
            required: true,
            content: json('BatchRequest'),
          },
          responses: {
            '202': {
              description: 'Batch run accepted',
              content: json('BatchAccepted'),
            },
            ...common,
            '413': error('Body larger than the limit'),
            '415': error('Content-Type is not application/json'),
            '503': error('The batch execution could not be started; the run is recorded FAILED'),
          },
        },
        get: {
          operationId: 'listBatches',
          summary: 'List batch runs, newest first',
          parameters: Object.entries(batchQuery.properties).map(([name, property]) => ({
            name,
            in: 'query',
            required: false,
            schema: property,
          })),
          responses: {
            '200': {
              description: 'A page of batch runs',
              content: json('BatchRunList'),
            },
            ...common,
          },
        },
      },
      '/batches/{runId}': {
        get: {
          operationId: 'getBatch',
          summary: 'Read a batch run: status, counts by status, per-item job ids and outcomes',
          parameters: [
            {
              name: 'runId',
              in: 'path',
              required: true,
              schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{2,63}$' },
              description: 'The batch run id (also the batch execution name)',
            },
          ],
          responses: {
            '200': {
              description: 'The batch run',
              content: json('BatchRun'),
            },
            ...common,
            '404': error('No such batch run'),
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openapi',
          summary: 'This document',
          responses: { '200': { description: 'OpenAPI 3 document' } },
        },
      },
    },
    components: {
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
      schemas: {
        JobRequest: {
          ...schema(JobRequestSchema, 'input'),
          description: `task: at most ${REQUEST_LIMITS.taskMaxChars} characters; context: at most ${REQUEST_LIMITS.contextMaxBytes} bytes of JSON`,
        },
        ApprovalRequest: schema(ApprovalBodySchema, 'input'),
        JobAccepted: schema(JobAcceptedSchema),
        JobList: schema(JobListSchema),
        JobView: schema(JobViewSchema),
        ProfileList: schema(ProfileListSchema),
        BatchRequest: schema(CreateBatchBodySchema, 'input'),
        BatchAccepted: schema(BatchAcceptedSchema),
        BatchRun: schema(BatchRunViewSchema),
        BatchRunList: schema(BatchRunListSchema),
        Error: schema(ErrorResponseSchema),
      },
    },
  };
}
