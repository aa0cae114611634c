import Anthropic from '@anthropic-ai/sdk';
import { startSimulatedModel, type SimulatedModel } from '../../../../local/simulated-model';

const MODEL = 'claude-simulated-test';

let model: SimulatedModel | undefined;
let client: Anthropic;

async function start(options: Parameters<typeof startSimulatedModel>[0] = {}): Promise<void> {
  model = await startSimulatedModel({ batchProcessingMs: 20, ...options });
  client = new Anthropic({ apiKey: 'sk-simulated', baseURL: model.url, maxRetries: 0 });
}

afterEach(async () => {
  await model?.close();
  model = undefined;
});

const request = (customId: string, text: string) => ({
  custom_id: customId,
  params: { model: MODEL, max_tokens: 256, messages: [{ role: 'user' as const, content: text }] },
});

async function untilEnded(id: string): Promise<Anthropic.Messages.MessageBatch> {
  for (;;) {
    const batch = await client.messages.batches.retrieve(id);
    if (batch.processing_status === 'ended') return batch;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function resultsOf(id: string): Promise<Anthropic.Messages.MessageBatchIndividualResponse[]> {
  const lines: Anthropic.Messages.MessageBatchIndividualResponse[] = [];
  for await (const line of await client.messages.batches.results(id)) lines.push(line);
  return lines;
}

describe('the simulated Message Batches API', () => {
  it('takes a batch in progress, ends it after the processing delay and serves its results as JSONL', async () => {
    await start();

    const created = await client.messages.batches.create({
      requests: [request('a', 'Say one thing'), request('b', 'Say another')],
    });
    const ended = await untilEnded(created.id);
    const results = await resultsOf(created.id);

    expect(created).toMatchObject({
      type: 'message_batch',
      processing_status: 'in_progress',
      results_url: null,
    });
    expect(created.request_counts).toEqual({
      processing: 2,
      succeeded: 0,
      errored: 0,
      canceled: 0,
      expired: 0,
    });
    expect(ended.request_counts).toMatchObject({ processing: 0, succeeded: 2 });
    expect(ended.results_url).toBe(`${model?.url}/v1/messages/batches/${created.id}/results`);
    expect(results.map((line) => [line.custom_id, line.result.type])).toEqual([
      ['a', 'succeeded'],
      ['b', 'succeeded'],
    ]);
    expect(model?.requests.every((entry) => entry.batchId === created.id)).toBe(true);
  });

  it('turns per-request faults into errored and expired results, the rest succeeding', async () => {
    await start({
      faults: [
        { kind: 'overloaded', match: 'OVERLOAD' },
        { kind: 'bad_request', match: 'REJECT' },
        { kind: 'expired', match: 'EXPIRE' },
      ],
    });

    const created = await client.messages.batches.create({
      requests: [
        request('ok', 'fine'),
        request('o', 'OVERLOAD'),
        request('r', 'REJECT'),
        request('e', 'EXPIRE'),
      ],
    });
    const ended = await untilEnded(created.id);
    const byId = Object.fromEntries(
      (await resultsOf(created.id)).map((line) => [line.custom_id, line.result]),
    );

    expect(ended.request_counts).toMatchObject({ succeeded: 1, errored: 2, expired: 1 });
    expect(byId.ok?.type).toBe('succeeded');
    expect(byId.o).toMatchObject({
      type: 'errored',
      error: { type: 'error', error: { type: 'overloaded_error' } },
    });
    expect(byId.r).toMatchObject({ type: 'errored', error: { error: { type: 'invalid_request_error' } } });
    expect(byId.e).toEqual({ type: 'expired' });
  });

  it('cancels a batch still in progress: it ends with every request canceled', async () => {
    await start({ batchProcessingMs: 60_000 });

    const created = await client.messages.batches.create({
      requests: [request('a', 'x'), request('b', 'y')],
    });
    const canceling = await client.messages.batches.cancel(created.id);
    const ended = await untilEnded(created.id);
    const results = await resultsOf(created.id);

    expect(canceling.processing_status).toBe('canceling');
    expect(ended.request_counts).toMatchObject({ canceled: 2, processing: 0 });
    expect(results.map((line) => line.result.type)).toEqual(['canceled', 'canceled']);
    expect(model?.requests).toHaveLength(0);
  });

  it('lists batches newest first, a page at a time', async () => {
    await start();
    const first = await client.messages.batches.create({ requests: [request('a', 'x')] });
    const second = await client.messages.batches.create({ requests: [request('a', 'y')] });

    const page = await client.messages.batches.list({ limit: 1 });
    const all: string[] = [];
    for await (const batch of client.messages.batches.list({ limit: 1 })) all.push(batch.id);

    expect(page.data.map((batch) => batch.id)).toEqual([second.id]);
    expect(page.has_more).toBe(true);
    expect(all).toEqual([second.id, first.id]);
  });

  it('refuses a batch whose custom ids repeat or break the pattern, and results before the end', async () => {
    await start({ batchProcessingMs: 60_000 });

    const repeated = client.messages.batches.create({ requests: [request('a', 'x'), request('a', 'y')] });
    const badId = client.messages.batches.create({ requests: [request('no spaces', 'x')] });
    const pending = await client.messages.batches.create({ requests: [request('a', 'x')] });

    await expect(repeated).rejects.toMatchObject({ status: 400 });
    await expect(badId).rejects.toMatchObject({ status: 400 });
    await expect(client.messages.batches.results(pending.id)).rejects.toThrow(/results_url/);
    await expect(client.messages.batches.retrieve('msgbatch_unknown')).rejects.toMatchObject({ status: 404 });
  });
});
