import Anthropic from '@anthropic-ai/sdk';
import { AnthropicBedrock } from '@anthropic-ai/bedrock-sdk';
import { GetParameterError } from '@aws-lambda-powertools/parameters/errors';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { localCredentials } from '../storage/job-repository';
import { ModelTimeout } from '../domain/errors';
import { classifyModelError, rateLimitsOf } from './error-mapping';
import type { ProviderRateLimits } from '../domain/errors';
import type { ModelEnv } from '../runtime/env';
import type { Usage } from '../domain/schemas';
import type { Billing } from '../domain/pricing';

/**
 * A piece of a message. `cacheBreakpoint` marks the end of a prefix worth caching (prompt caching):
 * the provider caches everything up to and including this block (system prompt included), and
 * later requests that start with the same prefix read it from the cache.
 */
export interface PromptBlock {
  text: string;
  cacheBreakpoint?: boolean;
}

export interface ModelMessage {
  role: 'user' | 'assistant';
  content: string | readonly PromptBlock[];
}

/** A message's text, its blocks one per line. */
export function messageText(message: ModelMessage | undefined): string {
  if (!message) return '';
  return typeof message.content === 'string'
    ? message.content
    : message.content.map((block) => block.text).join('\n');
}

/**
 * Only breakpoints become SDK blocks with `cache_control` (with `ttl` when given: the batch lane asks
 * for `1h`, as Anthropic recommends for batches); plain string content stays a string.
 */
export function toApiMessage(message: ModelMessage, cacheTtl?: '1h'): Anthropic.MessageParam {
  if (typeof message.content === 'string') return { role: message.role, content: message.content };
  const cacheControl = { type: 'ephemeral' as const, ...(cacheTtl ? { ttl: cacheTtl } : {}) };
  return {
    role: message.role,
    content: message.content.map((block) => ({
      type: 'text' as const,
      text: block.text,
      ...(block.cacheBreakpoint ? { cache_control: cacheControl } : {}),
    })),
  };
}

/** The Messages API parameters of a request: what `messages.create` sends, and a Message Batch request carries. */
export function toMessageParams(request: ModelRequest): Anthropic.MessageCreateParamsNonStreaming {
  return {
    model: request.model,
    max_tokens: request.maxTokens,
    system: request.system,
    messages: request.messages.map((message) => toApiMessage(message, request.cacheTtl)),
    ...(request.jsonSchema
      ? { output_config: { format: { type: 'json_schema' as const, schema: request.jsonSchema } } }
      : {}),
  };
}

/** A Messages API answer as the gateway returns it. */
export function fromApiMessage(message: Anthropic.Message): Omit<ModelResponse, 'rateLimits'> {
  return {
    text: message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join(''),
    stopReason: message.stop_reason,
    model: message.model,
    usage: {
      inputTokens: message.usage.input_tokens,
      outputTokens: message.usage.output_tokens,
      cacheReadTokens: message.usage.cache_read_input_tokens ?? 0,
      cacheWriteTokens: message.usage.cache_creation_input_tokens ?? 0,
    },
  };
}

export interface ModelRequest {
  model: string;
  system: string;
  messages: ModelMessage[];
  maxTokens: number;
  /** JSON Schema for structured output (`output_config.format`). */
  jsonSchema?: Record<string, unknown>;
  /** Hard deadline for this call, so the call ends (as ModelTimeout) before the Lambda does. */
  timeoutMs: number;
  /** The TTL of the cache breakpoints; unset, the provider's default (5 minutes). */
  cacheTtl?: '1h';
}

export interface ModelResponse {
  text: string;
  usage: Usage;
  stopReason: string | null;
  model: string;
  /** What the provider's rate-limit headers said was left (the Anthropic API; Bedrock sends none). */
  rateLimits?: ProviderRateLimits;
  /** How the call is billed, when not on demand (the batch lane's answers say `lane: "batch"`). */
  billing?: Billing;
}

/** The one thing plan, worker and synthesis need from a model provider. */
export interface ModelGateway {
  complete(request: ModelRequest): Promise<ModelResponse>;
  /**
   * Fails fast with `ModelCapacityExceeded` when `complete` would certainly be deferred now (a read,
   * no admission), so a caller can skip the bookkeeping of an attempt that cannot start. Absent when
   * nothing governs the calls.
   */
  precheck?(request: ModelRequest): Promise<void>;
}

/** Smallest deadline worth attempting a model call with. */
const MIN_CALL_MS = 1_000;

/**
 * What the gateway needs from a client: `Anthropic` (the Anthropic API) and `AnthropicBedrock`
 * (Amazon Bedrock) both offer it, with the same request and response shapes.
 */
export interface MessagesClient {
  messages: Pick<Anthropic['messages'], 'create'>;
}

/**
 * The Messages API through `@anthropic-ai/sdk` or `@anthropic-ai/bedrock-sdk`. Every failure leaves
 * as one of the named errors in `errors.ts`, so the state machine can decide whether to retry.
 */
export class AnthropicModelGateway implements ModelGateway {
  constructor(private readonly clientFor: () => Promise<MessagesClient>) {}

  async complete(request: ModelRequest): Promise<ModelResponse> {
    if (request.timeoutMs < MIN_CALL_MS) {
      throw new ModelTimeout(
        `Only ${request.timeoutMs} ms left before the function's deadline; not calling the model`,
      );
    }
    try {
      const client = await this.clientFor();
      const { data: message, response } = await client.messages
        .create(toMessageParams(request), { timeout: request.timeoutMs })
        .withResponse();
      const rateLimits = rateLimitsOf(response.headers);
      return { ...fromApiMessage(message), ...(rateLimits ? { rateLimits } : {}) };
    } catch (error) {
      throw classifyModelError(error);
    }
  }
}

/** How long a cached API key from Secrets Manager is trusted before it is read again (rotation). */
const SECRET_MAX_AGE_SECONDS = 300;

/**
 * Builds the client lazily and caches it per API key, so a warm container reuses its connection
 * pool and a rotated secret takes effect within `SECRET_MAX_AGE_SECONDS`.
 */
export function anthropicClientFactory(env: ModelEnv): () => Promise<Anthropic> {
  let cached: { apiKey: string; client: Anthropic } | undefined;
  const readKey = apiKeyReader(env);
  return async () => {
    const apiKey = await readKey();
    if (cached?.apiKey !== apiKey) {
      cached = {
        apiKey,
        client: new Anthropic({ apiKey, baseURL: env.ANTHROPIC_BASE_URL, maxRetries: env.MODEL_MAX_RETRIES }),
      };
    }
    return cached.client;
  };
}

/**
 * Reads the key from Secrets Manager with the function's own credentials (locally through the local
 * stack's endpoint, which checks `secretsmanager:GetSecretValue` against the function's role).
 */
function apiKeyReader(env: ModelEnv): () => Promise<string> {
  if (env.ANTHROPIC_API_KEY) {
    const apiKey = env.ANTHROPIC_API_KEY;
    return () => Promise.resolve(apiKey);
  }
  const secretArn = env.ANTHROPIC_API_KEY_SECRET_ARN;
  if (!secretArn) {
    return () =>
      Promise.reject(
        new Error('No model credentials: ANTHROPIC_API_KEY_SECRET_ARN names no Secrets Manager secret'),
      );
  }
  const secrets = new SecretsProvider({
    clientConfig: {
      region: env.AWS_REGION,
      ...(env.SECRETS_MANAGER_ENDPOINT
        ? { endpoint: env.SECRETS_MANAGER_ENDPOINT, credentials: localCredentials(env) }
        : {}),
    },
  });
  return async () => {
    let secret: unknown;
    try {
      secret = await secrets.get(secretArn, { maxAge: SECRET_MAX_AGE_SECONDS });
    } catch (error) {
      // Powertools wraps the service's error; its own (AccessDeniedException, …) says what went wrong.
      throw error instanceof GetParameterError && error.cause instanceof Error ? error.cause : error;
    }
    if (typeof secret !== 'string' || secret.trim() === '') {
      throw new Error('The Anthropic API key secret is empty or not a string');
    }
    return secret.trim();
  };
}

/**
 * Builds one Bedrock client per container. Requests are SigV4-signed with the function's role
 * credentials (the AWS variables Lambda sets, or the default chain); never with a Bedrock API key,
 * so access is exactly what the role's IAM policy allows.
 *
 * The SDK is imported statically, like `@anthropic-ai/sdk` in `errors.ts`: a dynamic `import()` can
 * load the other module format of the shared SDK, whose error classes then fail `instanceof`.
 */
export function bedrockClientFactory(env: ModelEnv): () => Promise<AnthropicBedrock> {
  let client: AnthropicBedrock | undefined;
  return () => {
    client ??= (() => {
      const options = {
        awsRegion: env.AWS_REGION,
        // Explicit, so the client never falls back to variables outside the function's environment.
        baseURL: env.ANTHROPIC_BEDROCK_BASE_URL ?? `https://bedrock-runtime.${env.AWS_REGION}.amazonaws.com`,
        apiKey: null,
        maxRetries: env.MODEL_MAX_RETRIES,
      };
      if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
        return new AnthropicBedrock({
          ...options,
          awsAccessKey: env.AWS_ACCESS_KEY_ID,
          awsSecretKey: env.AWS_SECRET_ACCESS_KEY,
          awsSessionToken: env.AWS_SESSION_TOKEN ?? null,
        });
      }
      return new AnthropicBedrock(options);
    })();
    return Promise.resolve(client);
  };
}

/** The gateway for the function's provider (`MODEL_PROVIDER`). */
export function createModelGateway(env: ModelEnv): ModelGateway {
  switch (env.MODEL_PROVIDER) {
    case 'bedrock':
      return new AnthropicModelGateway(bedrockClientFactory(env));
    case 'anthropic':
      return new AnthropicModelGateway(anthropicClientFactory(env));
  }
}
