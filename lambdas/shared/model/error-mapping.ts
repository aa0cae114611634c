import Anthropic from '@anthropic-ai/sdk';
import {
  ModelOverloaded,
  ModelRateLimited,
  ModelRequestRejected,
  ModelTimeout,
  ModelUnavailable,
  type ProviderRateLimits,
  type ProviderRemaining,
  WorkflowError,
} from '../domain/errors';

/** What `headers.get` needs: the SDK's `Headers` on a response or on an `APIError`. */
export interface HeaderSource {
  get(name: string): string | null;
}

/**
 * `retry-after` in milliseconds: seconds (`"1"`, `"0.5"`) or an HTTP date; undefined when absent or
 * unreadable. Anthropic also sends `retry-after-ms`, which wins when present.
 */
export function retryAfterMsOf(headers: HeaderSource | undefined, now = Date.now()): number | undefined {
  const ms = Number(headers?.get('retry-after-ms') ?? Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const RATE_LIMIT_DIMENSIONS = {
  requests: 'requests',
  inputTokens: 'input-tokens',
  outputTokens: 'output-tokens',
} as const satisfies Record<keyof ProviderRateLimits, string>;

/**
 * The `anthropic-ratelimit-{requests,input-tokens,output-tokens}-{remaining,reset}` headers (reset in
 * RFC 3339), or undefined when the response carries none (Bedrock sends none).
 */
export function rateLimitsOf(headers: HeaderSource | undefined): ProviderRateLimits | undefined {
  const limits: ProviderRateLimits = {};
  for (const [key, header] of Object.entries(RATE_LIMIT_DIMENSIONS) as [keyof ProviderRateLimits, string][]) {
    const remaining = Number(headers?.get(`anthropic-ratelimit-${header}-remaining`) ?? Number.NaN);
    if (!Number.isFinite(remaining) || remaining < 0) continue;
    const reset = Date.parse(headers?.get(`anthropic-ratelimit-${header}-reset`) ?? '');
    const entry: ProviderRemaining = Number.isNaN(reset) ? { remaining } : { remaining, resetAtMs: reset };
    limits[key] = entry;
  }
  return Object.keys(limits).length > 0 ? limits : undefined;
}

const REJECTED_STATUSES = new Set([400, 401, 403, 404, 413, 422]);

function describe(error: InstanceType<typeof Anthropic.APIError>): string {
  // Bedrock names its request id differently from the Anthropic API.
  const id = error.requestID ?? error.headers?.get('x-amzn-requestid');
  const requestId = id ? ` (request ${id})` : '';
  return `${error.message}${requestId}`;
}

type NamedErrorClass = new (message: string, options?: { cause?: unknown }) => WorkflowError;

/**
 * Amazon Bedrock's faults (the `x-amzn-ErrorType` header, which `@anthropic-ai/bedrock-sdk` keeps on
 * the `APIError` it throws) mapped onto the same names as the Anthropic API's, so the state
 * machine's Retry and Catch work unchanged whichever provider a deployment uses.
 */
export const BEDROCK_ERROR_NAMES: Record<string, NamedErrorClass> = {
  ThrottlingException: ModelRateLimited, // 429
  ServiceQuotaExceededException: ModelRateLimited, // tokens or requests per minute: wait it out
  ServiceUnavailableException: ModelOverloaded, // 503: Bedrock's capacity signal, like Anthropic's 529
  ModelNotReadyException: ModelOverloaded, // 429: the model is being loaded; retry with longer waits
  ModelErrorException: ModelUnavailable, // 424: the model failed while processing
  InternalServerException: ModelUnavailable, // 500
  ModelTimeoutException: ModelTimeout, // 408
  ValidationException: ModelRequestRejected, // 400
  AccessDeniedException: ModelRequestRejected, // 403: model access not enabled, or IAM
  UnrecognizedClientException: ModelRequestRejected, // 403: unknown credentials
  InvalidSignatureException: ModelRequestRejected, // 403: bad signature (wrong secret, clock skew)
  ResourceNotFoundException: ModelRequestRejected, // 404: unknown model id in this region
};

/** The Bedrock error type (`ThrottlingException`, …) of an API error, when Bedrock answered. */
export function bedrockErrorType(error: InstanceType<typeof Anthropic.APIError>): string | undefined {
  const header = error.headers?.get('x-amzn-errortype');
  return header ? header.split(':')[0] : undefined;
}

/**
 * Maps an error thrown by `@anthropic-ai/sdk` onto the named errors of the workflow, keeping the
 * original as `cause`. Errors that are not model API errors (bugs, validation) pass through as they are.
 */
export function classifyModelError(error: unknown): unknown {
  if (error instanceof WorkflowError) return error;
  if (error instanceof Anthropic.APIConnectionTimeoutError) {
    return new ModelTimeout(`Model request timed out: ${error.message}`, { cause: error });
  }
  if (error instanceof Anthropic.APIConnectionError) {
    return new ModelUnavailable(`Could not reach the model: ${error.message}`, { cause: error });
  }
  if (error instanceof Anthropic.APIError) {
    const status = error.status;
    const bedrockType = bedrockErrorType(error);
    const bedrockClass = bedrockType ? BEDROCK_ERROR_NAMES[bedrockType] : undefined;
    if (bedrockClass) {
      return new bedrockClass(`Bedrock ${bedrockType} (${status ?? 'no status'}): ${describe(error)}`, {
        cause: error,
      });
    }
    if (status === 429) {
      const retryAfterMs = retryAfterMsOf(error.headers);
      const rateLimits = rateLimitsOf(error.headers);
      return new ModelRateLimited(`Rate limited (429): ${describe(error)}`, {
        cause: error,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        ...(rateLimits ? { rateLimits } : {}),
      });
    }
    if (status === 529) return new ModelOverloaded(`Overloaded (529): ${describe(error)}`, { cause: error });
    if (status === 408)
      return new ModelTimeout(`Request timeout (408): ${describe(error)}`, { cause: error });
    // Bedrock's ModelErrorException, should its type header be missing.
    if (status === 424)
      return new ModelUnavailable(`Model error (424): ${describe(error)}`, { cause: error });
    if (status !== undefined && status >= 500) {
      return new ModelUnavailable(`Model service error (${status}): ${describe(error)}`, { cause: error });
    }
    if (status !== undefined && REJECTED_STATUSES.has(status)) {
      return new ModelRequestRejected(`Request rejected (${status}): ${describe(error)}`, { cause: error });
    }
    if (status === 409) return new ModelUnavailable(`Conflict (409): ${describe(error)}`, { cause: error });
    return new ModelRequestRejected(`Request rejected (${status ?? 'no status'}): ${describe(error)}`, {
      cause: error,
    });
  }
  return error;
}
