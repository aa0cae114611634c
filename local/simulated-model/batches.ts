/**
 * The Message Batches API as the simulated model serves it: `POST /v1/messages/batches` (create),
 * `GET /v1/messages/batches` (list, newest first), `GET /v1/messages/batches/{id}` (retrieve),
 * `GET /v1/messages/batches/{id}/results` (JSONL, once ended) and `POST /v1/messages/batches/{id}/cancel`,
 * shaped as `@anthropic-ai/sdk`'s `messages.batches` reads them. A batch processes every request after
 * a configurable delay; each request's result is `succeeded`, `errored` (from the injected HTTP-style
 * faults), `expired` (the `expired` and `hang` faults) or, when cancelled first, `canceled`.
 */
import { z } from 'zod';
import { formatIssues } from './faults';
import { type ErrorBody, errorBody, type MessageBody, randomId } from './protocol';

/** One request's outcome, as a result line carries it. */
export type BatchRequestResult =
  | { type: 'succeeded'; message: MessageBody }
  | { type: 'errored'; error: ErrorBody }
  | { type: 'expired' }
  | { type: 'canceled' };

export interface BatchRequest {
  custom_id: string;
  params: unknown;
}

/** The MessageBatch object of the API. */
export interface MessageBatchBody {
  id: string;
  type: 'message_batch';
  processing_status: 'in_progress' | 'canceling' | 'ended';
  request_counts: {
    processing: number;
    succeeded: number;
    errored: number;
    canceled: number;
    expired: number;
  };
  ended_at: string | null;
  created_at: string;
  expires_at: string;
  archived_at: null;
  cancel_initiated_at: string | null;
  results_url: string | null;
}

/** The API's limits on one batch. */
export const BATCH_API_LIMITS = { maxRequests: 100_000, maxBytes: 256 * 1024 * 1024 } as const;

const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;

export const createBatchBodySchema = z.looseObject({
  requests: z
    .array(
      z.looseObject({
        custom_id: z.string().regex(CUSTOM_ID, 'must match ^[a-zA-Z0-9_-]{1,64}$'),
        params: z.unknown(),
      }),
    )
    .min(1, 'must contain at least one request')
    .max(BATCH_API_LIMITS.maxRequests, `must contain at most ${BATCH_API_LIMITS.maxRequests} requests`),
});

/** Validates a create body: the shape, and custom ids unique within the batch. */
export function parseCreateBatchBody(
  body: string,
): { ok: true; requests: BatchRequest[] } | { ok: false; message: string } {
  if (Buffer.byteLength(body) > BATCH_API_LIMITS.maxBytes) {
    return { ok: false, message: `A batch may be at most ${BATCH_API_LIMITS.maxBytes} bytes` };
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, message: 'Request body is not valid JSON' };
  }
  const result = createBatchBodySchema.safeParse(json);
  if (!result.success) return { ok: false, message: formatIssues(result.error) };
  const seen = new Set<string>();
  for (const request of result.data.requests) {
    if (seen.has(request.custom_id)) {
      return { ok: false, message: `requests: custom_id "${request.custom_id}" is used more than once` };
    }
    seen.add(request.custom_id);
  }
  return { ok: true, requests: result.data.requests.map(({ custom_id, params }) => ({ custom_id, params })) };
}

interface StoredBatch {
  body: MessageBatchBody;
  requests: BatchRequest[];
  results: Map<string, BatchRequestResult>;
  timer: NodeJS.Timeout | undefined;
}

const DAY_MS = 86_400_000;

const hasEnded = (batch: StoredBatch) => batch.body.processing_status === 'ended';

/**
 * The batches one simulated model holds. `process` answers one request (the same answer path as
 * `POST /v1/messages`); requests are processed `processingMs` after the batch was created.
 */
export class MessageBatchStore {
  private readonly batches = new Map<string, StoredBatch>();
  private readonly order: string[] = [];

  constructor(
    private readonly process: (request: BatchRequest, batchId: string) => Promise<BatchRequestResult>,
    private processingMs: number,
    private readonly baseUrl: () => string,
  ) {}

  setProcessingMs(ms: number): void {
    this.processingMs = ms;
  }

  create(requests: BatchRequest[]): MessageBatchBody {
    const now = new Date();
    const id = randomId('msgbatch_sim_');
    const body: MessageBatchBody = {
      id,
      type: 'message_batch',
      processing_status: 'in_progress',
      request_counts: { processing: requests.length, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      ended_at: null,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + DAY_MS).toISOString(),
      archived_at: null,
      cancel_initiated_at: null,
      results_url: null,
    };
    const batch: StoredBatch = { body, requests, results: new Map(), timer: undefined };
    batch.timer = setTimeout(() => void this.processAll(batch), this.processingMs);
    batch.timer.unref();
    this.batches.set(id, batch);
    this.order.push(id);
    return { ...body };
  }

  retrieve(id: string): MessageBatchBody | undefined {
    const batch = this.batches.get(id);
    return batch ? { ...batch.body } : undefined;
  }

  /** Newest first, as the API lists them; `after_id`/`before_id` page through that order. */
  list(query: { limit?: number; afterId?: string; beforeId?: string }): {
    data: MessageBatchBody[];
    has_more: boolean;
    first_id: string | null;
    last_id: string | null;
  } {
    const newestFirst = [...this.order].reverse();
    const limit = Math.min(Math.max(query.limit ?? 20, 1), 1000);
    let start = 0;
    let end = newestFirst.length;
    if (query.afterId) start = newestFirst.indexOf(query.afterId) + 1;
    if (query.beforeId) end = Math.max(newestFirst.indexOf(query.beforeId), 0);
    const window = query.beforeId
      ? newestFirst.slice(Math.max(start, end - limit), end)
      : newestFirst.slice(start, start + limit);
    const data = window.flatMap((id) => {
      const batch = this.batches.get(id);
      return batch ? [{ ...batch.body }] : [];
    });
    const more = query.beforeId ? end - limit > start : start + limit < end;
    return { data, has_more: more, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
  }

  /** Cancels an unfinished batch: requests not yet processed end `canceled`. */
  cancel(id: string): MessageBatchBody | undefined {
    const batch = this.batches.get(id);
    if (!batch) return undefined;
    if (batch.body.processing_status === 'in_progress') {
      batch.body.processing_status = 'canceling';
      batch.body.cancel_initiated_at = new Date().toISOString();
      clearTimeout(batch.timer);
      const snapshot = { ...batch.body };
      // The API reports `canceling` first and ends the batch shortly after.
      setTimeout(() => this.end(batch), 0).unref();
      return snapshot;
    }
    return { ...batch.body };
  }

  /** The results as JSONL, once the batch has ended; undefined before that (or for an unknown batch). */
  resultsJsonl(id: string): string | undefined {
    const batch = this.batches.get(id);
    if (!batch || batch.body.processing_status !== 'ended') return undefined;
    return batch.requests
      .map((request) =>
        JSON.stringify({
          custom_id: request.custom_id,
          result: batch.results.get(request.custom_id) ?? { type: 'canceled' },
        }),
      )
      .join('\n')
      .concat('\n');
  }

  has(id: string): boolean {
    return this.batches.has(id);
  }

  close(): void {
    for (const batch of this.batches.values()) clearTimeout(batch.timer);
  }

  private async processAll(batch: StoredBatch): Promise<void> {
    for (const request of batch.requests) {
      if (batch.body.processing_status !== 'in_progress') break;
      let result: BatchRequestResult;
      try {
        result = await this.process(request, batch.body.id);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        result = { type: 'errored', error: errorBody('api_error', `Simulated model failed: ${message}`) };
      }
      // Cancelled while this request was being answered: it ended `canceled` with the rest.
      if (hasEnded(batch)) return;
      batch.results.set(request.custom_id, result);
      batch.body.request_counts.processing -= 1;
      batch.body.request_counts[result.type] += 1;
    }
    this.end(batch);
  }

  private end(batch: StoredBatch): void {
    if (batch.body.processing_status === 'ended') return;
    for (const request of batch.requests) {
      if (batch.results.has(request.custom_id)) continue;
      batch.results.set(request.custom_id, { type: 'canceled' });
      batch.body.request_counts.processing -= 1;
      batch.body.request_counts.canceled += 1;
    }
    batch.body.processing_status = 'ended';
    batch.body.ended_at = new Date().toISOString();
    batch.body.results_url = `${this.baseUrl()}/v1/messages/batches/${batch.body.id}/results`;
  }
}
