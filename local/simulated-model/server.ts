/**
 * The simulated model's HTTP server: `POST /v1/messages` in the Anthropic Messages API format, and
 * `POST /model/{modelId}/invoke` as Amazon Bedrock serves the same API (SigV4-signed), answered with
 * deterministic, clearly simulated text and with faults injected on request.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerFor } from './answers';
import {
  BEDROCK_FAULTS,
  bedrockErrorReply,
  LOCAL_BEDROCK_CREDENTIALS,
  matchBedrockRoute,
  parseBedrockInvokeBody,
  verifySignature,
  type BedrockError,
} from './bedrock';
import type { MalformedPlanVariant } from './content';
import {
  FAULT_KINDS,
  FaultInjector,
  latencySchema,
  millisecondsSchema,
  parseOrThrow,
  resolveLatency,
  simulatedModelOptionsSchema,
  type FaultKind,
  type FaultRule,
  type InjectedFault,
  type LatencyByRole,
  type RequestRole,
  type SimulatedModelOptions,
} from './faults';
import { type LimitReason, RateLimiter } from './limits';
import {
  type BatchRequest,
  type BatchRequestResult,
  MessageBatchStore,
  parseCreateBatchBody,
} from './batches';
import { PromptCache } from './prompt-cache';
import { createRandom } from './random';
import {
  HTTP_FAULTS,
  buildMessage,
  detectRole,
  errorBody,
  estimateTokens,
  isHttpFault,
  parseMessagesRequest,
  randomId,
  requestText,
  type HttpFaultKind,
  type ParsedRequest,
} from './protocol';

/** Which API a request came in through: the Anthropic API's route or Bedrock's invoke route. */
export type ModelApi = 'anthropic' | 'bedrock';

/** One request as the simulated model saw it. */
export interface RequestLogEntry {
  /** 1-based arrival order. */
  seq: number;
  role: RequestRole;
  /** The requested model, or null when the body was invalid or the route unknown. */
  model: string | null;
  /** The route it came in through, or null when the route is unknown. */
  api: ModelApi | null;
  /** HTTP status sent, or null while unanswered (a hang never gets one). */
  status: number | null;
  fault: FaultKind | null;
  /** Set when the request was beyond the model's `limits` (answered 429 with `retry-after`). */
  limited?: LimitReason;
  /** Set for `malformed_plan` faults. */
  variant?: MalformedPlanVariant;
  /** The request's whole text, when the model was started with `recordPrompts`. */
  prompt?: string;
  /** Set when the request came in a Message Batch: the batch's id. */
  batchId?: string;
  /** When the request was read (epoch ms). */
  receivedAtMs: number;
  /** When the answer was sent (epoch ms), or null while unanswered. */
  answeredAtMs: number | null;
}

/** Request and fault counts since the server started. */
export interface SimulatedModelStats {
  total: number;
  byRole: Record<RequestRole, number>;
  faults: Record<FaultKind, number>;
  /** Requests answered 429 because they were beyond the model's `limits`. */
  rateLimited: number;
  /** Per model: the most requests open at once when one arrived, itself included (with `limits`). */
  peakInFlight: Record<string, number>;
}

/** A running simulated model. */
export interface SimulatedModel {
  /** Base URL for the SDK's `baseURL`, e.g. `http://127.0.0.1:4010`. */
  readonly url: string;
  readonly port: number;
  /** Every request so far, in arrival order. */
  readonly requests: readonly Readonly<RequestLogEntry>[];
  /** Counts of requests by role and of injected faults by kind. */
  stats(): SimulatedModelStats;
  /** Replaces the fault rules; their `times` counts start again. */
  setFaults(rules: readonly FaultRule[]): void;
  /** Changes how long a Message Batch takes before it is processed and ends (batches created after). */
  setBatchProcessingMs(ms: number): void;
  /** Changes latency (one number for all roles, or some roles) and optionally the jitter. */
  setLatency(latencyMs: Partial<LatencyByRole> | number, jitterMs?: number): void;
  /** Stops listening and destroys open connections, hung requests included. */
  close(): Promise<void>;
}

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_SEED = 1;
const DEFAULT_BATCH_PROCESSING_MS = 500;
const BATCH_PATH = /^\/v1\/messages\/batches(?:\/([A-Za-z0-9_-]+))?(?:\/(results|cancel))?$/;
const NO_LATENCY: LatencyByRole = { plan: 0, worker: 0, synthesis: 0 };
// Any constant works; it only has to differ from the fault stream's seed.
const JITTER_SEED_SALT = 0x5bd1e995;

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  if (ms <= 0 || signal.aborted) return Promise.resolve(!signal.aborted);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

class SimulatedModelServer implements SimulatedModel {
  readonly requests: RequestLogEntry[] = [];
  private readonly server = http.createServer((request, response) => void this.handle(request, response));
  private readonly faults: FaultInjector;
  // A separate stream, so switching jitter on or off does not change which requests get faults.
  private readonly jitterRandom: () => number;
  private readonly promptCache: PromptCache;
  private readonly limiter: RateLimiter | undefined;
  private latency: LatencyByRole;
  private jitterMs: number;
  private readonly recordPrompts: boolean;
  private readonly outputPadding: Partial<Record<'worker' | 'synthesis', number>>;
  private host = DEFAULT_HOST;
  private closing: Promise<void> | undefined;
  private readonly batches: MessageBatchStore;

  constructor(options: SimulatedModelOptions) {
    const seed = options.seed ?? DEFAULT_SEED;
    this.faults = new FaultInjector(options.faults ?? [], createRandom(seed));
    this.jitterRandom = createRandom(seed ^ JITTER_SEED_SALT);
    this.latency = resolveLatency(options.latencyMs, NO_LATENCY);
    this.jitterMs = options.jitterMs ?? 0;
    this.recordPrompts = options.recordPrompts ?? false;
    this.limiter = options.limits ? new RateLimiter(options.limits) : undefined;
    this.outputPadding = options.outputPaddingChars ?? {};
    this.promptCache = new PromptCache(
      options.promptCacheMinTokens === undefined ? {} : { minTokens: options.promptCacheMinTokens },
    );
    this.batches = new MessageBatchStore(
      (request, batchId) => this.answerBatchRequest(request, batchId),
      options.batchProcessingMs ?? DEFAULT_BATCH_PROCESSING_MS,
      () => this.url,
    );
  }

  setBatchProcessingMs(ms: number): void {
    this.batches.setProcessingMs(parseOrThrow(millisecondsSchema, ms, 'Invalid batch processing time'));
  }

  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }

  get url(): string {
    return `http://${urlHost(this.host)}:${this.port}`;
  }

  listen(port: number, host: string): Promise<void> {
    this.host = host;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  stats(): SimulatedModelStats {
    const byRole: Record<RequestRole, number> = { plan: 0, worker: 0, synthesis: 0, other: 0 };
    const faults = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
    let rateLimited = 0;
    for (const entry of this.requests) {
      byRole[entry.role] += 1;
      if (entry.fault) faults[entry.fault] += 1;
      if (entry.limited) rateLimited += 1;
    }
    return {
      total: this.requests.length,
      byRole,
      faults,
      rateLimited,
      peakInFlight: this.limiter?.peaks() ?? {},
    };
  }

  setFaults(rules: readonly FaultRule[]): void {
    this.faults.setRules(rules);
  }

  setLatency(latencyMs: Partial<LatencyByRole> | number, jitterMs?: number): void {
    const latency = parseOrThrow(latencySchema, latencyMs, 'Invalid latency');
    const jitter = parseOrThrow(millisecondsSchema.optional(), jitterMs, 'Invalid jitter');
    this.latency = resolveLatency(latency, this.latency);
    this.jitterMs = jitter ?? this.jitterMs;
  }

  close(): Promise<void> {
    this.batches.close();
    this.closing ??= new Promise((resolve, reject) => {
      this.server.close((error) => (error ? reject(error) : resolve()));
      this.server.closeAllConnections();
    });
    return this.closing;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    // 'close' fires when the client gives up or close() destroys the socket: either ends a wait.
    const gone = new AbortController();
    response.once('close', () => gone.abort());
    try {
      await this.route(request, response, gone.signal);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.reply(response, null, 500, errorBody('api_error', `Simulated model failed: ${message}`));
    }
  }

  private async route(
    request: IncomingMessage,
    response: ServerResponse,
    signal: AbortSignal,
  ): Promise<void> {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (request.method === 'POST' && path === '/v1/messages') {
      return this.answer('anthropic', parseMessagesRequest(await readBody(request)), response, signal);
    }
    const batchRoute = BATCH_PATH.exec(path);
    if (batchRoute) return this.routeBatches(request, response, batchRoute[1], batchRoute[2]);
    const bedrock = request.method === 'POST' ? matchBedrockRoute(path) : null;
    if (bedrock) {
      const body = await readBody(request);
      const refused = await verifySignature(request, body, LOCAL_BEDROCK_CREDENTIALS);
      if (refused)
        return this.replyBedrockError(response, this.record('other', null, null, 'bedrock'), refused);
      if (bedrock.stream) {
        return this.replyBedrockError(response, this.record('other', bedrock.modelId, null, 'bedrock'), {
          status: 400,
          type: 'ValidationException',
          message: 'The simulated model does not stream; use /invoke',
        });
      }
      return this.answer('bedrock', parseBedrockInvokeBody(body, bedrock.modelId), response, signal);
    }
    const entry = this.record('other', null, null, null);
    const message = `Simulated model: no route for ${request.method ?? 'GET'} ${path}`;
    return this.reply(response, entry, 404, errorBody('not_found_error', message));
  }

  /** The Message Batches routes: create, list, retrieve, results (JSONL) and cancel. */
  private async routeBatches(
    request: IncomingMessage,
    response: ServerResponse,
    id: string | undefined,
    action: string | undefined,
  ): Promise<void> {
    const method = request.method ?? 'GET';
    const notFound = () =>
      this.reply(
        response,
        null,
        404,
        errorBody('not_found_error', `Simulated model: no message batch ${id ?? ''}`),
      );
    if (!id && !action && method === 'POST') {
      const parsed = parseCreateBatchBody(await readBody(request));
      if (!parsed.ok)
        return this.reply(response, null, 400, errorBody('invalid_request_error', parsed.message));
      return this.reply(response, null, 200, this.batches.create(parsed.requests));
    }
    if (!id && !action && method === 'GET') {
      const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
      const limit = query.get('limit');
      return this.reply(
        response,
        null,
        200,
        this.batches.list({
          ...(limit ? { limit: Number(limit) } : {}),
          ...(query.get('after_id') ? { afterId: query.get('after_id') ?? '' } : {}),
          ...(query.get('before_id') ? { beforeId: query.get('before_id') ?? '' } : {}),
        }),
      );
    }
    if (!id) return notFound();
    if (!action && method === 'GET') {
      const batch = this.batches.retrieve(id);
      return batch ? this.reply(response, null, 200, batch) : notFound();
    }
    if (action === 'cancel' && method === 'POST') {
      const batch = this.batches.cancel(id);
      return batch ? this.reply(response, null, 200, batch) : notFound();
    }
    if (action === 'results' && method === 'GET') {
      if (!this.batches.has(id)) return notFound();
      const jsonl = this.batches.resultsJsonl(id);
      if (jsonl === undefined) {
        return this.reply(
          response,
          null,
          404,
          errorBody(
            'not_found_error',
            `Message batch ${id} has not ended yet; its results are not available`,
          ),
        );
      }
      response.writeHead(200, {
        'content-type': 'application/binary',
        'content-length': Buffer.byteLength(jsonl),
        'request-id': randomId('req_sim_'),
        'x-simulated-model': 'true',
      });
      response.end(jsonl);
      return;
    }
    return this.reply(
      response,
      null,
      405,
      errorBody('invalid_request_error', `Simulated model: ${method} is not allowed here`),
    );
  }

  /**
   * One request of a Message Batch, answered as `POST /v1/messages` answers it (faults and the
   * prompt cache included), as a batch result: HTTP-style faults become `errored` with the same
   * error type; `expired` and `hang` become `expired`.
   */
  private async answerBatchRequest(request: BatchRequest, batchId: string): Promise<BatchRequestResult> {
    const parsed = parseMessagesRequest(JSON.stringify(request.params ?? null));
    if (!parsed.ok) {
      const entry = this.record('other', null, null, 'anthropic');
      entry.batchId = batchId;
      this.settle(entry, 400);
      return { type: 'errored', error: errorBody('invalid_request_error', parsed.message) };
    }
    const role = detectRole(parsed.request);
    const text = requestText(parsed.request);
    const fault = this.faults.pick({ role, text });
    const entry = this.record(role, parsed.request.model, fault, 'anthropic');
    entry.batchId = batchId;
    if (this.recordPrompts) entry.prompt = text;
    if (fault?.kind === 'hang' || fault?.kind === 'expired') {
      this.settle(entry, null);
      return { type: 'expired' };
    }
    if (fault && isHttpFault(fault.kind)) {
      const { status, type } = HTTP_FAULTS[fault.kind];
      this.settle(entry, status);
      return { type: 'errored', error: errorBody(type, `Simulated ${fault.kind} (injected fault)`) };
    }
    const input = this.promptCache.use(parsed.request);
    const answer = answerFor(parsed.request, role, fault ?? undefined);
    const message = buildMessage(parsed.request, answer, input);
    this.settle(entry, 200);
    return { type: 'succeeded', message };
  }

  private settle(entry: RequestLogEntry, status: number | null): void {
    entry.status = status;
    entry.answeredAtMs = Date.now();
  }

  /** Answers a parsed Messages request, the same way whichever API it came in through. */
  private async answer(
    api: ModelApi,
    parsed: ParsedRequest,
    response: ServerResponse,
    signal: AbortSignal,
  ): Promise<void> {
    if (!parsed.ok) {
      const entry = this.record('other', null, null, api);
      return api === 'bedrock'
        ? this.replyBedrockError(response, entry, {
            status: 400,
            type: 'ValidationException',
            message: parsed.message,
          })
        : this.reply(response, entry, 400, errorBody('invalid_request_error', parsed.message));
    }
    const role = detectRole(parsed.request);
    const text = requestText(parsed.request);
    const model = parsed.request.model;
    // Limits come first, as the real API's: a request beyond them is answered at once.
    const verdict = this.limiter?.admit(model, {
      inputTokens: estimateTokens(text),
      maxTokens: parsed.request.max_tokens,
    });
    if (verdict && !verdict.ok) {
      const entry = this.record(role, model, null, api);
      entry.limited = verdict.reason;
      return this.replyRateLimited(api, response, entry, verdict.reason, verdict.retryAfterMs);
    }
    try {
      const fault = this.faults.pick({ role, text });
      const entry = this.record(role, model, fault, api);
      if (this.recordPrompts) entry.prompt = text;
      if (fault?.kind === 'hang') return await waitForAbort(signal);
      // Read and written on arrival, not after the latency, so who hits the cache does not depend on timing.
      const input = fault && isHttpFault(fault.kind) ? undefined : this.promptCache.use(parsed.request);
      if (!(await delay(this.delayFor(role), signal))) return;
      if (fault && isHttpFault(fault.kind)) return this.replyWithFault(api, response, entry, fault.kind);
      const answer = answerFor(parsed.request, role, fault ?? undefined);
      const padding = role === 'worker' || role === 'synthesis' ? (this.outputPadding[role] ?? 0) : 0;
      if (padding > 0 && answer.kind === 'text' && answer.text)
        answer.text += `\n\n${'lorem ipsum '.repeat(padding / 12 + 1).slice(0, padding)}`;
      const message = buildMessage(parsed.request, answer, input);
      verdict?.release(message.usage.output_tokens);
      this.reply(response, entry, 200, message, this.rateLimitHeaders(api, model));
    } finally {
      verdict?.release(0);
    }
  }

  private rateLimitHeaders(api: ModelApi, model: string): Record<string, string> {
    return api === 'anthropic' && this.limiter ? this.limiter.headers(model) : {};
  }

  private replyRateLimited(
    api: ModelApi,
    response: ServerResponse,
    entry: RequestLogEntry,
    reason: LimitReason,
    retryAfterMs: number,
  ): void {
    const message = `Simulated rate limit: beyond the ${reason} limit of ${entry.model ?? 'the model'}`;
    if (api === 'bedrock') {
      return this.replyBedrockError(response, entry, { ...BEDROCK_FAULTS.rate_limit, message });
    }
    this.reply(response, entry, 429, errorBody('rate_limit_error', message), {
      ...this.rateLimitHeaders(api, entry.model ?? ''),
      'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
    });
  }

  private replyWithFault(
    api: ModelApi,
    response: ServerResponse,
    entry: RequestLogEntry,
    kind: HttpFaultKind,
  ): void {
    const message = `Simulated ${kind} (injected fault)`;
    if (api === 'bedrock')
      return this.replyBedrockError(response, entry, { ...BEDROCK_FAULTS[kind], message });
    const { status, type } = HTTP_FAULTS[kind];
    const headers: Record<string, string> = kind === 'rate_limit' ? { 'retry-after': '1' } : {};
    this.reply(response, entry, status, errorBody(type, message), headers);
  }

  private replyBedrockError(response: ServerResponse, entry: RequestLogEntry, error: BedrockError): void {
    const { headers, body } = bedrockErrorReply(error);
    this.reply(response, entry, error.status, body, headers);
  }

  private delayFor(role: RequestRole): number {
    const base = role === 'other' ? 0 : this.latency[role];
    const jitter = this.jitterMs > 0 ? Math.floor(this.jitterRandom() * (this.jitterMs + 1)) : 0;
    return base + jitter;
  }

  private record(
    role: RequestRole,
    model: string | null,
    fault: InjectedFault | null,
    api: ModelApi | null,
  ): RequestLogEntry {
    const entry: RequestLogEntry = {
      seq: this.requests.length + 1,
      role,
      model,
      api,
      status: null,
      fault: fault?.kind ?? null,
      receivedAtMs: Date.now(),
      answeredAtMs: null,
    };
    if (fault?.variant) entry.variant = fault.variant;
    this.requests.push(entry);
    return entry;
  }

  private reply(
    response: ServerResponse,
    entry: RequestLogEntry | null,
    status: number,
    body: object,
    headers: Record<string, string> = {},
  ): void {
    if (response.destroyed || response.headersSent) return;
    if (entry) {
      entry.status = status;
      entry.answeredAtMs = Date.now();
    }
    const json = JSON.stringify(body);
    response.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(json),
      'request-id': randomId('req_sim_'),
      'x-simulated-model': 'true',
      ...headers,
    });
    response.end(json);
  }
}

/**
 * Starts a simulated model: a local stand-in for the Anthropic Messages API that plans, writes
 * and synthesises deterministic, clearly simulated text, with optional latency and faults.
 * @throws Error when the options are invalid, or the port cannot be bound
 */
export async function startSimulatedModel(options: SimulatedModelOptions = {}): Promise<SimulatedModel> {
  const valid = parseOrThrow(simulatedModelOptionsSchema, options, 'Invalid simulated model options');
  const model = new SimulatedModelServer(valid);
  await model.listen(valid.port ?? 0, valid.host ?? DEFAULT_HOST);
  return model;
}
