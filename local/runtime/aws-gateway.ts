import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request as httpRequest,
  type Server,
  type ServerResponse,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AuthorizationRequest } from './iam-policy';
import { AccessDenied, authorize, type LocalPrincipal } from './iam-roles';
import {
  bedrockRequests,
  dynamodbRequests,
  secretArn,
  secretsManagerRequests,
  stepFunctionsRequests,
  UnknownOperation,
} from './aws-requests';

/** Credentials a local function signs its AWS requests with, as Lambda hands out a role's. */
export interface SessionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

type AwsCredentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

export interface GatewayUpstream {
  url: string;
  /** Re-sign forwarded requests with these (a service that checks signatures, e.g. Bedrock). */
  credentials?: () => Promise<AwsCredentials>;
}

export interface LocalAwsGatewayOptions {
  /** Where each service's requests go once authorized, by SigV4 service name. */
  upstreams: Partial<Record<'dynamodb' | 'states' | 'bedrock', GatewayUpstream>>;
  /** Where model calls on the Anthropic route go (`/anthropic/<session>/…`); no IAM, only the session. */
  anthropicUpstream?: string;
  /**
   * The local Secrets Manager, answered by the gateway itself: each secret's value by its ARN.
   * Values never leave it except in a `GetSecretValue` answer to a caller its role allows.
   */
  secrets?: ReadonlyMap<string, string>;
  /** IAM evaluation on (default). Off only for debugging: requests are still tied to live sessions. */
  enforceIam?: boolean;
}

interface Session {
  principal: LocalPrincipal;
  credentials: SessionCredentials;
  revoked: boolean;
  inFlight: Set<() => void>;
}

const AUTHORIZATION = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/;
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);
const SIGNING_HEADERS = new Set([
  'authorization',
  'x-amz-date',
  'x-amz-security-token',
  'x-amz-content-sha256',
]);

interface ErrorReply {
  status: number;
  type: string;
  message: string;
}

/**
 * The one endpoint local functions reach AWS through (their DynamoDB, Step Functions and Bedrock
 * endpoints point here). It knows each function sandbox by the access key its requests are signed
 * with, checks every request against that sandbox's role as IAM would (denied ones answer AWS's
 * `AccessDeniedException`), forwards the rest unchanged to the local service, and refuses anything
 * from a sandbox that was killed (a function past its timeout), so nothing it does afterwards lands.
 */
export class LocalAwsGateway {
  private readonly sessions = new Map<string, Session>();
  private readonly anthropicSessions = new Map<string, Session>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly options: LocalAwsGatewayOptions,
  ) {}

  static async start(options: LocalAwsGatewayOptions): Promise<LocalAwsGateway> {
    const handlers: { handle?: (request: IncomingMessage, response: ServerResponse) => Promise<void> } = {};
    const server = createServer((request, response) => {
      void handlers.handle?.(request, response).catch((error: unknown) => {
        if (!response.headersSent)
          reply(response, 'json', { status: 500, type: 'InternalFailure', message: String(error) });
        else response.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const gateway = new LocalAwsGateway(server, `http://127.0.0.1:${port}`, options);
    handlers.handle = (request, response) => gateway.handle(request, response);
    return gateway;
  }

  /** New credentials for one sandbox of a function, acting as `principal`. */
  openSession(principal: LocalPrincipal): { credentials: SessionCredentials; anthropicBaseUrl: string } {
    const credentials = {
      accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(20).toString('base64'),
      sessionToken: randomBytes(32).toString('base64'),
    };
    const session: Session = { principal, credentials, revoked: false, inFlight: new Set() };
    this.sessions.set(credentials.accessKeyId, session);
    const token = randomBytes(12).toString('hex');
    this.anthropicSessions.set(token, session);
    return { credentials, anthropicBaseUrl: `${this.url}/anthropic/${token}` };
  }

  /** Kills a sandbox's session: its requests in flight are cut, later ones are refused. */
  revokeSession(accessKeyId: string): void {
    const session = this.sessions.get(accessKeyId);
    if (!session) return;
    session.revoked = true;
    for (const abort of session.inFlight) abort();
    session.inFlight.clear();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readAll(request);
    const path = request.url ?? '/';
    const anthropic = /^\/anthropic\/([0-9a-f]+)(\/.*)$/.exec(path);
    if (anthropic) {
      const session = this.anthropicSessions.get(anthropic[1] ?? '');
      if (!session || session.revoked || !this.options.anthropicUpstream) {
        response.destroy();
        return;
      }
      await this.forward(
        session,
        request,
        response,
        body,
        { url: this.options.anthropicUpstream },
        anthropic[2] ?? '/',
      );
      return;
    }

    const scope = AUTHORIZATION.exec(String(request.headers.authorization ?? ''));
    const service = (scope?.[3] ?? '') as 'dynamodb' | 'states' | 'bedrock' | 'secretsmanager';
    const style = service === 'bedrock' ? 'rest' : 'json';
    if (!scope) {
      reply(response, style, {
        status: 403,
        type: 'MissingAuthenticationTokenException',
        message: 'Missing Authentication Token',
      });
      return;
    }
    const session = this.sessions.get(scope[1] ?? '');
    if (!session) {
      reply(response, style, {
        status: 403,
        type: 'UnrecognizedClientException',
        message: 'The security token included in the request is invalid.',
      });
      return;
    }
    if (session.revoked) {
      reply(response, style, {
        status: 403,
        type: 'ExpiredTokenException',
        message: 'The security token included in the request is expired',
      });
      return;
    }
    const upstream = service === 'secretsmanager' ? undefined : this.options.upstreams[service];
    if (!upstream && !(service === 'secretsmanager' && this.options.secrets)) {
      reply(response, style, {
        status: 400,
        type: 'UnknownOperationException',
        message: `No local ${service} endpoint`,
      });
      return;
    }
    let checks: AuthorizationRequest[];
    try {
      checks = authorizationRequests(service, request.headers, path, body);
    } catch (error) {
      if (!(error instanceof UnknownOperation)) throw error;
      reply(response, style, { status: 400, type: error.name, message: error.message });
      return;
    }
    if (this.options.enforceIam !== false) {
      try {
        for (const check of checks) authorize(session.principal, check);
      } catch (error) {
        if (!(error instanceof AccessDenied)) throw error;
        reply(response, style, {
          status: style === 'rest' ? 403 : 400,
          type: error.code,
          message: error.message,
        });
        return;
      }
    }
    if (upstream) await this.forward(session, request, response, body, upstream, path, scope[2]);
    else answerSecretValue(response, this.options.secrets ?? new Map(), body);
  }

  private async forward(
    session: Session,
    request: IncomingMessage,
    response: ServerResponse,
    body: Buffer,
    upstream: GatewayUpstream,
    path: string,
    region?: string,
  ): Promise<void> {
    const target = new URL(upstream.url);
    const basePath = target.pathname.replace(/\/$/, '');
    let headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && !HOP_HEADERS.has(name)) headers[name] = value;
    }
    headers.host = target.host;
    headers['content-length'] = String(body.length);
    if (upstream.credentials)
      headers = await resign(
        headers,
        request.method ?? 'POST',
        target,
        basePath + path,
        body,
        region,
        await upstream.credentials(),
      );
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    await new Promise<void>((resolve) => {
      const outgoing = send(
        {
          method: request.method,
          hostname: target.hostname,
          port: target.port,
          path: basePath + path,
          headers,
        },
        (incoming) => {
          response.writeHead(incoming.statusCode ?? 502, incoming.headers);
          incoming.pipe(response);
          incoming.on('end', resolve);
          incoming.on('error', resolve);
        },
      );
      const abort = () => {
        outgoing.destroy();
        response.destroy();
        resolve();
      };
      session.inFlight.add(abort);
      response.on('close', () => {
        session.inFlight.delete(abort);
        // The caller gave up (its own timeout): its request goes down with it, as a closed
        // connection ends a request at AWS or the model's API, instead of staying open upstream.
        if (!response.writableFinished) {
          outgoing.destroy();
          resolve();
        }
      });
      outgoing.on('error', () => {
        response.destroy();
        resolve();
      });
      outgoing.end(body);
    });
  }
}

function authorizationRequests(
  service: string,
  headers: IncomingHttpHeaders,
  path: string,
  body: Buffer,
): AuthorizationRequest[] {
  if (service === 'bedrock') return bedrockRequests(new URL(path, 'http://local').pathname);
  const operation = String(headers['x-amz-target'] ?? '').split('.')[1] ?? '';
  const parsed = (body.length > 0 ? JSON.parse(body.toString('utf8')) : {}) as Record<string, unknown>;
  if (service === 'dynamodb') return dynamodbRequests(operation, parsed);
  if (service === 'states') return stepFunctionsRequests(operation, parsed);
  if (service === 'secretsmanager') return secretsManagerRequests(operation, parsed);
  throw new UnknownOperation(`Service ${service} is not reachable locally`);
}

/** `GetSecretValue` of the local Secrets Manager (the only operation `secretsManagerRequests` lets through). */
function answerSecretValue(
  response: ServerResponse,
  secrets: ReadonlyMap<string, string>,
  body: Buffer,
): void {
  const arn = secretArn(String((JSON.parse(body.toString('utf8')) as { SecretId?: unknown }).SecretId ?? ''));
  const value = secrets.get(arn);
  if (value === undefined) {
    reply(response, 'json', {
      status: 400,
      type: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    });
    return;
  }
  response.writeHead(200, {
    'content-type': 'application/x-amz-json-1.1',
    'x-amzn-requestid': randomBytes(16).toString('hex'),
  });
  response.end(
    JSON.stringify({
      ARN: arn,
      Name: arn.split(':secret:')[1] ?? arn,
      VersionId: 'local-current',
      VersionStages: ['AWSCURRENT'],
      SecretString: value,
      CreatedDate: 0,
    }),
  );
}

async function resign(
  headers: Record<string, string | string[]>,
  method: string,
  target: URL,
  path: string,
  body: Buffer,
  region: string | undefined,
  credentials: AwsCredentials,
): Promise<Record<string, string | string[]>> {
  const unsigned = Object.fromEntries(
    Object.entries(headers)
      .filter(([name]) => !SIGNING_HEADERS.has(name))
      .map(([name, value]) => [name, Array.isArray(value) ? value.join(',') : value]),
  );
  const url = new URL(path, target);
  const query: Record<string, string[]> = {};
  for (const key of new Set(url.searchParams.keys())) query[key] = url.searchParams.getAll(key);
  const signer = new SignatureV4({
    service: 'bedrock',
    region: region ?? 'us-east-1',
    credentials,
    sha256: Hash.bind(null, 'sha256'),
  });
  const signed = await signer.sign({
    method,
    protocol: target.protocol,
    hostname: target.hostname,
    port: target.port ? Number(target.port) : undefined,
    path: url.pathname,
    query,
    headers: unsigned,
    body,
  });
  return signed.headers;
}

async function readAll(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** AWS's error shape: JSON 1.0 services (`__type`) or REST-JSON ones like Bedrock (`x-amzn-ErrorType`). */
function reply(response: ServerResponse, style: 'json' | 'rest', error: ErrorReply): void {
  const payload =
    style === 'json'
      ? { __type: `com.amazon.coral.service#${error.type}`, message: error.message, Message: error.message }
      : { message: error.message };
  response.writeHead(error.status, {
    'content-type': style === 'json' ? 'application/x-amz-json-1.0' : 'application/json',
    'x-amzn-errortype': error.type,
    'x-amzn-requestid': randomBytes(16).toString('hex'),
  });
  response.end(JSON.stringify(payload));
}
