import type Anthropic from '@anthropic-ai/sdk';
import {
  BatchRequestCanceled,
  BatchRequestExpired,
  ModelCallDeferred,
  ModelOverloaded,
  ModelRateLimited,
  ModelRequestRejected,
  ModelTimeout,
  ModelUnavailable,
} from '../shared/domain/errors';
import { ERROR_POLICY, type PolicyErrorName } from '../shared/domain/error-policy';
import {
  fromApiMessage,
  type ModelGateway,
  type ModelRequest,
  type ModelResponse,
  toMessageParams,
} from '../shared/model/gateway';
import type { StoredAnswer } from '../shared/storage/lane-repository';

export type BatchResult = Anthropic.Messages.MessageBatchResult;

/** One request for the next Message Batch. */
export interface CapturedRequest {
  customId: string;
  params: Anthropic.MessageCreateParamsNonStreaming;
}

/** The error a request's batch result stands for, named as on demand (plus expired and canceled). */
export function resultError(customId: string, result: Exclude<BatchResult, { type: 'succeeded' }>): Error {
  if (result.type === 'expired') {
    return new BatchRequestExpired(`Message Batch request ${customId} expired before it was processed`);
  }
  if (result.type === 'canceled') {
    return new BatchRequestCanceled(
      `Message Batch request ${customId} was cancelled before it was processed`,
    );
  }
  const { type, message } = result.error.error;
  const text = `Message Batch request ${customId} errored: ${type}: ${message}`;
  switch (type) {
    case 'rate_limit_error':
      return new ModelRateLimited(text);
    case 'overloaded_error':
      return new ModelOverloaded(text);
    case 'api_error':
      return new ModelUnavailable(text);
    case 'timeout_error':
      return new ModelTimeout(text);
    default:
      return new ModelRequestRejected(text);
  }
}

/**
 * Whether another round may help: expired and cancelled requests, and errors the on-demand policy
 * retries (429, 529, 5xx, timeouts). A rejected request, a refusal or an invalid plan is final.
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof BatchRequestExpired || error instanceof BatchRequestCanceled) return true;
  const name = error instanceof Error ? error.name : '';
  return name in ERROR_POLICY && ERROR_POLICY[name as PolicyErrorName].class !== 'final';
}

export interface LaneGatewayOptions {
  /** The custom id of the request a call makes (calls count from 1: a plan's repairs are calls 2, 3, …). */
  customId: (call: number) => string;
  /** Answers from earlier rounds, by call (a plan's conversation so far). */
  answered?: readonly (StoredAnswer | null | undefined)[];
  /** The ended batch's results, by custom id. */
  results?: ReadonlyMap<string, BatchResult>;
  /** Set while submitting: takes a request no earlier answer or result covers, for the next batch. */
  capture?: (request: CapturedRequest) => void;
  /** The TTL of the cache breakpoints (the workers' shared prefix): `1h` in the batch lane. */
  cacheTtl?: '1h';
}

/**
 * The model gateway the batch lane hands to the on-demand pure functions (planJob, runSubtask,
 * synthesizeJob), so they run unchanged: a call is answered from an earlier round's answer or from the
 * ended batch's result for its custom id; otherwise the request is taken for the next batch and the
 * call ends in ModelCallDeferred. Answers are billed at the batch rate.
 */
export class LaneGateway implements ModelGateway {
  private calls = 0;
  /** Answers this gateway returned from the batch's results (new since the earlier rounds), by call. */
  readonly fresh: { call: number; answer: StoredAnswer }[] = [];

  constructor(private readonly options: LaneGatewayOptions) {}

  complete(request: ModelRequest): Promise<ModelResponse> {
    this.calls += 1;
    const call = this.calls;
    const hasBreakpoint = request.messages.some(
      (message) =>
        typeof message.content !== 'string' && message.content.some((block) => block.cacheBreakpoint),
    );
    const billing = {
      lane: 'batch' as const,
      ...(this.options.cacheTtl && hasBreakpoint ? { cacheTtl: this.options.cacheTtl } : {}),
    };
    const earlier = this.options.answered?.[call - 1];
    if (earlier) return Promise.resolve({ ...earlier, billing });
    const customId = this.options.customId(call);
    const result = this.options.results?.get(customId);
    if (result) {
      if (result.type !== 'succeeded') return Promise.reject(resultError(customId, result));
      const answer = fromApiMessage(result.message);
      this.fresh.push({ call, answer });
      return Promise.resolve({ ...answer, billing });
    }
    if (this.options.capture) {
      const ttl = this.options.cacheTtl ? { cacheTtl: this.options.cacheTtl } : {};
      this.options.capture({ customId, params: toMessageParams({ ...request, ...ttl }) });
    }
    return Promise.reject(new ModelCallDeferred(`Request ${customId} goes into the next Message Batch`));
  }
}
