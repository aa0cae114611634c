/**
 * The slice of Amazon Bedrock's runtime API the simulated model speaks: `POST /model/{modelId}/invoke`
 * as `@anthropic-ai/bedrock-sdk` calls it (the Messages request without `model`, with
 * `anthropic_version`), SigV4 signature checking against the local dummy credentials, and Bedrock's
 * error shape (`{"message"}` with the fault in the `x-amzn-ErrorType` header).
 */
import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpFaultKind, ParsedRequest } from './protocol';
import { parseMessagesRequest } from './protocol';

/**
 * The credentials local Bedrock requests are signed with, and the only ones the simulated model
 * accepts. Dummies: they open nothing anywhere else.
 */
export const LOCAL_BEDROCK_CREDENTIALS = {
  accessKeyId: 'AKIASIMULATEDLOCAL00',
  secretAccessKey: 'simulated-model-local-secret-not-a-real-key',
} as const;

/** A Bedrock route: the model id from the path, and whether the streaming variant was asked for. */
export interface BedrockRoute {
  modelId: string;
  stream: boolean;
}

const INVOKE_PATH = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream)$/;

/** The Bedrock route of a request path, or null. */
export function matchBedrockRoute(path: string): BedrockRoute | null {
  const match = INVOKE_PATH.exec(path);
  if (!match?.[1]) return null;
  return { modelId: decodeURIComponent(match[1]), stream: match[2] === 'invoke-with-response-stream' };
}

/** An error as Bedrock sends it. */
export interface BedrockError {
  status: number;
  type: string;
  message: string;
}

/** Bedrock's answer to each HTTP fault the simulated model injects. */
export const BEDROCK_FAULTS: Record<HttpFaultKind, Omit<BedrockError, 'message'>> = {
  rate_limit: { status: 429, type: 'ThrottlingException' },
  overloaded: { status: 503, type: 'ServiceUnavailableException' },
  server_error: { status: 500, type: 'InternalServerException' },
  bad_request: { status: 400, type: 'ValidationException' },
};

/** Headers and body of a Bedrock error reply. */
export function bedrockErrorReply(error: BedrockError): {
  headers: Record<string, string>;
  body: { message: string };
} {
  return {
    headers: { 'x-amzn-errortype': `${error.type}:http://internal.amazon.com/coral/com.amazon.bedrock/` },
    body: { message: error.message },
  };
}

/**
 * Reads an invoke body: a Messages request whose model comes from the path. Bedrock rejects a
 * `model` in the body and requires `anthropic_version`.
 */
export function parseBedrockInvokeBody(body: string, modelId: string): ParsedRequest {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, message: 'Malformed input request: the body is not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, message: 'Malformed input request: the body is not a JSON object' };
  }
  const fields = json as Record<string, unknown>;
  if ('model' in fields) {
    return { ok: false, message: 'Malformed input request: extraneous key [model] is not permitted' };
  }
  if (typeof fields.anthropic_version !== 'string' || fields.anthropic_version === '') {
    return { ok: false, message: 'Malformed input request: required key [anthropic_version] not found' };
  }
  return parseMessagesRequest(JSON.stringify({ ...fields, model: modelId }));
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return new Date(Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0));
}

const headerValue = (request: IncomingMessage, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

/**
 * Checks a request's SigV4 signature as Bedrock would: signed for service `bedrock` with the local
 * access key, and the signature recomputed over the method, path, query, signed headers and body
 * matches. Returns the error Bedrock would answer with, or null when the signature is good.
 */
export async function verifySignature(
  request: IncomingMessage,
  body: string,
  credentials: { accessKeyId: string; secretAccessKey: string } = LOCAL_BEDROCK_CREDENTIALS,
): Promise<BedrockError | null> {
  const authorization = headerValue(request, 'authorization');
  if (!authorization) {
    return {
      status: 403,
      type: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    };
  }
  const match = AUTHORIZATION.exec(authorization);
  const amzDate = parseAmzDate(headerValue(request, 'x-amz-date') ?? '');
  if (!match || !amzDate) {
    return {
      status: 403,
      type: 'IncompleteSignatureException',
      message: 'Authorization header or X-Amz-Date is malformed',
    };
  }
  const [, accessKeyId, , region, service, signedHeaders, signature] = match;
  if (accessKeyId !== credentials.accessKeyId) {
    return {
      status: 403,
      type: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    };
  }
  if (service !== 'bedrock' || !region || !signedHeaders || !signature) {
    return {
      status: 403,
      type: 'InvalidSignatureException',
      message: `Credential should be scoped to correct service: 'bedrock', not '${service ?? ''}'`,
    };
  }
  const url = new URL(request.url ?? '/', 'http://placeholder');
  const headers: Record<string, string> = {};
  for (const name of signedHeaders.split(';')) headers[name] = headerValue(request, name) ?? '';
  const query: Record<string, string[]> = {};
  for (const key of new Set(url.searchParams.keys())) query[key] = url.searchParams.getAll(key);
  const signer = new SignatureV4({
    service: 'bedrock',
    region,
    credentials,
    sha256: Hash.bind(null, 'sha256'),
  });
  const signed = await signer.sign(
    {
      method: request.method ?? 'POST',
      protocol: 'http:',
      hostname: '',
      path: url.pathname,
      query,
      headers,
      body,
    },
    { signingDate: amzDate },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization ?? ''))?.[1] ?? '';
  if (
    expected.length !== signature.length ||
    !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))
  ) {
    return {
      status: 403,
      type: 'InvalidSignatureException',
      message: 'The request signature we calculated does not match the signature you provided.',
    };
  }
  return null;
}
