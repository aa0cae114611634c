import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import * as z from 'zod';
import {
  ApprovalBodySchema,
  BatchRunPathSchema,
  CreateBatchBodySchema,
  CreateJobBodySchema,
  IdempotencyKeySchema,
  JobPathSchema,
  ListBatchesQuerySchema,
  ListJobsQuerySchema,
} from './api-schemas';
import type { BatchesService } from './batches-service';
import { HttpError, validationError } from './http-error';
import type { JobsService } from './jobs-service';
import { profileSummaries } from '../shared/domain/profiles';
import { buildOpenApiDocument } from './openapi';
import { matchRoute, type Operation, ROUTES } from './routes';

export interface HttpApiOptions {
  maxBodyBytes: number;
  /** The batch routes' service; without it they answer 404. */
  batches?: BatchesService;
}

const json = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

const lowerCaseHeaders = (headers: APIGatewayProxyEvent['headers'] | null) =>
  Object.fromEntries(Object.entries(headers ?? {}).map(([name, value]) => [name.toLowerCase(), value ?? '']));

/** Query parameters as one value each; a parameter given twice is ambiguous and refused. */
function singleValuedQuery(event: APIGatewayProxyEvent): Record<string, string> {
  const multi = event.multiValueQueryStringParameters ?? {};
  for (const [name, values] of Object.entries(multi)) {
    if ((values?.length ?? 0) > 1) {
      throw new HttpError(400, 'VALIDATION_FAILED', `${name}: given more than once`, [
        { field: name, message: 'given more than once' },
      ]);
    }
  }
  return Object.fromEntries(Object.entries(event.queryStringParameters ?? {}).map(([k, v]) => [k, v ?? '']));
}

function parseJsonBody(
  event: APIGatewayProxyEvent,
  headers: Record<string, string>,
  maxBodyBytes: number,
): unknown {
  const contentType = headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(contentType)) {
    throw new HttpError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type: must be application/json (got "${contentType || 'none'}")`,
      [{ field: 'Content-Type', message: 'must be application/json' }],
    );
  }
  const raw = event.isBase64Encoded
    ? Buffer.from(event.body ?? '', 'base64').toString('utf8')
    : (event.body ?? '');
  const size = Buffer.byteLength(raw);
  if (size > maxBodyBytes) {
    throw new HttpError(
      413,
      'PAYLOAD_TOO_LARGE',
      `body: ${size} bytes is more than the ${maxBodyBytes} allowed`,
      [{ field: 'body', message: `must be at most ${maxBodyBytes} bytes` }],
    );
  }
  if (raw.trim() === '')
    throw new HttpError(400, 'INVALID_JSON', 'body: is empty; send a JSON object', [
      { field: 'body', message: 'is empty' },
    ]);
  try {
    return JSON.parse(raw);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new HttpError(400, 'INVALID_JSON', `body: is not valid JSON (${reason})`, [
      { field: 'body', message: 'is not valid JSON' },
    ]);
  }
}

function parse<S extends z.ZodType>(schema: S, value: unknown, location: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error, location);
  return result.data;
}

/** Routes one API Gateway proxy event to the jobs service and shapes the response. */
export async function handleApiRequest(
  event: APIGatewayProxyEvent,
  service: JobsService,
  options: HttpApiOptions,
): Promise<APIGatewayProxyResult> {
  const match = matchRoute(
    event.httpMethod,
    event.resource && event.resource !== '/{proxy+}' ? templatePath(event) : event.path,
  );
  if (match.kind === 'not-found')
    throw new HttpError(404, 'ROUTE_NOT_FOUND', `No route for ${event.httpMethod} ${event.path}`);
  if (match.kind === 'method-not-allowed') {
    throw new HttpError(
      405,
      'METHOD_NOT_ALLOWED',
      `${event.httpMethod} is not allowed on ${event.path}; use ${match.allowed.join(' or ')}`,
    );
  }
  const headers = lowerCaseHeaders(event.headers);
  const operation: Operation = match.route.operation;
  const pathParameters = { ...match.pathParameters, ...(event.pathParameters ?? {}) };
  const query = singleValuedQuery(event);

  switch (operation) {
    case 'createJob': {
      if (Object.keys(query).length > 0) parse(z.object({}).strict(), query, 'query');
      const body = parseJsonBody(event, headers, options.maxBodyBytes);
      const request = parse(CreateJobBodySchema, body, 'body');
      const keyHeader = headers['idempotency-key'];
      const idempotencyKey =
        keyHeader === undefined ? undefined : parse(IdempotencyKeySchema, keyHeader, 'Idempotency-Key');
      const { accepted, replayed } = await service.createJob(request, idempotencyKey);
      return json(202, accepted, replayed ? { 'idempotent-replayed': 'true' } : {});
    }
    case 'listJobs':
      return json(200, await service.listJobs(parse(ListJobsQuerySchema, query, 'query')));
    case 'getJob':
      return json(200, await service.getJob(parse(JobPathSchema, pathParameters, 'path').jobId));
    case 'cancelJob':
      return json(202, await service.cancelJob(parse(JobPathSchema, pathParameters, 'path').jobId));
    case 'decideApproval': {
      if (Object.keys(query).length > 0) parse(z.object({}).strict(), query, 'query');
      const { jobId } = parse(JobPathSchema, pathParameters, 'path');
      const body = parse(ApprovalBodySchema, parseJsonBody(event, headers, options.maxBodyBytes), 'body');
      return json(200, await service.decideApproval(jobId, body));
    }
    case 'listProfiles':
      if (Object.keys(query).length > 0) parse(z.object({}).strict(), query, 'query');
      return json(200, { items: profileSummaries() });
    case 'createBatch': {
      if (Object.keys(query).length > 0) parse(z.object({}).strict(), query, 'query');
      const body = parse(CreateBatchBodySchema, parseJsonBody(event, headers, options.maxBodyBytes), 'body');
      return json(202, await batchesOf(options, event).createBatch(body));
    }
    case 'listBatches':
      return json(
        200,
        await batchesOf(options, event).listBatches(parse(ListBatchesQuerySchema, query, 'query')),
      );
    case 'getBatch':
      return json(
        200,
        await batchesOf(options, event).getBatch(parse(BatchRunPathSchema, pathParameters, 'path').runId),
      );
    case 'openapi':
      return json(200, buildOpenApiDocument());
  }
}

function batchesOf(options: HttpApiOptions, event: APIGatewayProxyEvent): BatchesService {
  if (!options.batches)
    throw new HttpError(404, 'ROUTE_NOT_FOUND', `No route for ${event.httpMethod} ${event.path}`);
  return options.batches;
}

/** API Gateway tells the matched resource (`/jobs/{jobId}`); rebuild the concrete path from it. */
function templatePath(event: APIGatewayProxyEvent): string {
  const known = ROUTES.some((route) => route.resource === event.resource);
  if (!known) return event.path;
  return event.resource.replace(/\{(\w+)\}/g, (_, name: string) =>
    encodeURIComponent(event.pathParameters?.[name] ?? ''),
  );
}

/**
 * Middy middleware: every failure leaves as the documented error shape. HttpErrors keep their status;
 * anything else is a 500 whose details stay in the logs, never in the response.
 */
export function httpErrorHandler(
  log: (message: string, error: unknown) => void = (message, error) => console.error(message, error),
): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context> {
  return {
    onError: (request) => {
      const error = request.error;
      if (error instanceof HttpError) {
        request.response = json(error.statusCode, {
          error: {
            code: error.code,
            message: error.message,
            ...(error.details ? { details: error.details } : {}),
          },
        });
        if (error.statusCode >= 500) log('Request failed', error);
        return;
      }
      log('Unexpected error', error);
      request.response = json(500, {
        error: { code: 'INTERNAL_ERROR', message: 'Something went wrong on our side; try again later' },
      });
    },
  };
}
