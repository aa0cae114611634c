import type Anthropic from '@anthropic-ai/sdk';
import { classifyModelError } from '../shared/model/error-mapping';
import type { BatchResult } from './lane-gateway';
import type { MessageBatchesClient } from './run-lane-step';

/** How many recent batches a retried submit looks through for the one its predecessor created. */
const ADOPT_LOOKBACK = 20;

/**
 * The Message Batches API through `@anthropic-ai/sdk`'s `messages.batches` (the real API, or any
 * compatible server at ANTHROPIC_BASE_URL, the simulated model locally). Failures leave as the named
 * model errors, so the Submit and Check states retry them as on demand.
 */
export function anthropicMessageBatches(clientFor: () => Promise<Anthropic>): MessageBatchesClient {
  const call = async <T>(run: (batches: Anthropic['messages']['batches']) => Promise<T>): Promise<T> => {
    try {
      return await run((await clientFor()).messages.batches);
    } catch (error) {
      throw classifyModelError(error);
    }
  };
  return {
    create: (requests) =>
      call(async (batches) => {
        const batch = await batches.create({
          requests: requests.map(({ customId, params }) => ({ custom_id: customId, params })),
        });
        return { id: batch.id };
      }),
    retrieve: (id) =>
      call(async (batches) => ({ processingStatus: (await batches.retrieve(id)).processing_status })),
    cancel: (id) =>
      call(async (batches) => {
        await batches.cancel(id);
      }),
    results: (id) =>
      call(async (batches) => {
        const results = new Map<string, BatchResult>();
        for await (const line of await batches.results(id)) results.set(line.custom_id, line.result);
        return results;
      }),
    listRecent: () =>
      call(async (batches) => {
        const page = await batches.list({ limit: ADOPT_LOOKBACK });
        return page.data.map((batch) => ({
          id: batch.id,
          createdAt: batch.created_at,
          requestCount: Object.values(batch.request_counts).reduce((sum, count) => sum + count, 0),
        }));
      }),
  };
}
