import Anthropic from '@anthropic-ai/sdk';
import { anthropicMessageBatches } from '../../../../lambdas/batch-lane/message-batches';
import { startSimulatedModel, type SimulatedModel } from '../../../../local/simulated-model';

let model: SimulatedModel;
beforeAll(async () => {
  model = await startSimulatedModel({ batchProcessingMs: 10 });
});
afterAll(() => model.close());

const client = () =>
  anthropicMessageBatches(
    async () => new Anthropic({ apiKey: 'sk-test', baseURL: model.url, maxRetries: 0 }),
  );
const request = (customId: string) => ({
  customId,
  params: { model: 'claude-haiku-5-5', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hi' }] },
});

describe("the lane's Message Batches client (@anthropic-ai/sdk's messages.batches)", () => {
  it('creates a batch, sees it end, and reads its results by custom id', async () => {
    const batches = client();

    const { id } = await batches.create([request('i0-p1'), request('i1-p1')]);
    while ((await batches.retrieve(id)).processingStatus !== 'ended')
      await new Promise((r) => setTimeout(r, 5));
    const results = await batches.results(id);

    expect([...results.keys()].sort()).toEqual(['i0-p1', 'i1-p1']);
    expect(results.get('i0-p1')?.type).toBe('succeeded');
  });

  it('lists recent batches with their request counts, for adopting a lost submit', async () => {
    const batches = client();
    const { id } = await batches.create([request('a'), request('b'), request('c')]);

    const recent = await batches.listRecent();

    expect(recent[0]).toMatchObject({ id, requestCount: 3 });
  });

  it('names API failures as on demand, so the Submit and Check states retry them', async () => {
    const batches = client();

    await expect(batches.retrieve('msgbatch_missing')).rejects.toMatchObject({
      name: 'ModelRequestRejected',
    });
  });
});
