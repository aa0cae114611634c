import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { matchRoute } from '../../lambdas/api/routes';
import { closeServer, listen, readBody } from './http';
import type { LocalLambdaFunction } from '../runtime/lambda';

/** API Gateway's own limit on a request body. */
const GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

export interface LocalApiServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const sendError = (response: ServerResponse, status: number, code: string, message: string) => {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ error: { code, message } }));
};

const sameKey = (given: string, expected: string) =>
  given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));

/** Builds the REST API (v1) proxy event API Gateway would send for this request. */
export function toProxyEvent(
  request: Pick<IncomingMessage, 'method' | 'url' | 'headers'>,
  body: string,
  resource: string,
  pathParameters: Record<string, string>,
): APIGatewayProxyEvent {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
    multiValueHeaders[name] = values;
    headers[name] = values[values.length - 1] ?? '';
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    (multiQuery[name] ??= []).push(value);
  }
  const hasQuery = Object.keys(query).length > 0;
  return {
    resource,
    path: url.pathname,
    httpMethod: request.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: Object.keys(pathParameters).length > 0 ? pathParameters : null,
    stageVariables: null,
    body: body === '' ? null : body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      protocol: 'HTTP/1.1',
      httpMethod: request.method ?? 'GET',
      path: `/v1${url.pathname}`,
      stage: 'v1',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: resource,
      identity: {} as APIGatewayProxyEvent['requestContext']['identity'],
      authorizer: null,
    },
  };
}

/**
 * Serves the jobs API on loopback the way API Gateway does in the cloud: checks `x-api-key`, routes
 * only the defined (method, resource) pairs, and invokes the same `api` handler with a proxy event.
 */
export async function startLocalApiServer(options: {
  apiFunction: LocalLambdaFunction;
  apiKey: string;
  port?: number;
  host?: string;
}): Promise<LocalApiServer> {
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request, GATEWAY_MAX_BODY_BYTES);
      if (!body) return sendError(response, 413, 'REQUEST_TOO_LARGE', 'Request body larger than 10 MB');
      const key = request.headers['x-api-key'];
      if (key === undefined || key === '')
        return sendError(response, 401, 'MISSING_API_KEY', 'Missing x-api-key header');
      if (typeof key !== 'string' || !sameKey(key, options.apiKey)) {
        return sendError(response, 403, 'INVALID_API_KEY', 'Missing or invalid x-api-key header');
      }
      const url = new URL(request.url ?? '/', 'http://localhost');
      const match = matchRoute(request.method ?? 'GET', url.pathname);
      // API Gateway answers any undefined (method, resource) itself; ours maps that to a 404.
      if (match.kind !== 'found')
        return sendError(response, 404, 'ROUTE_NOT_FOUND', `No route for ${request.method} ${url.pathname}`);

      const event = toProxyEvent(request, body.toString('utf8'), match.route.resource, match.pathParameters);
      try {
        const result = (await options.apiFunction.invoke(event)) as APIGatewayProxyResult;
        response.writeHead(result.statusCode, (result.headers ?? {}) as Record<string, string>);
        response.end(result.body);
      } catch {
        sendError(response, 502, 'INTERNAL_ERROR', 'The API failed; try again later');
      }
    })();
  });
  const port = await listen(server, options.port ?? 0, host, 'API_PORT');
  return { url: `http://${host}:${port}`, port, close: () => closeServer(server) };
}
