import type Anthropic from '@anthropic-ai/sdk';
import { AnthropicModelGateway, type MessagesClient } from '../../../../../lambdas/shared/model/gateway';

type CreateParams = Parameters<MessagesClient['messages']['create']>[0];

/** A client that records the request and answers with fixed usage, as the Messages API would. */
function recordingClient(
  usage: Partial<Anthropic.Usage>,
  headers: Record<string, string> = {},
): { client: MessagesClient; sent: CreateParams[] } {
  const sent: CreateParams[] = [];
  const create = (params: CreateParams) => {
    sent.push(params);
    const data = {
      id: 'msg_test',
      type: 'message',
      role: 'assistant',
      model: params.model,
      content: [{ type: 'text', text: 'answer', citations: null }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 5, ...usage },
    };
    // The SDK's APIPromise: the gateway reads the answer and its headers together.
    return { withResponse: () => Promise.resolve({ data, response: new Response(null, { headers }) }) };
  };
  return { client: { messages: { create } } as unknown as MessagesClient, sent };
}

const request = {
  model: 'claude-haiku-5-5',
  system: 'You are a worker.',
  maxTokens: 100,
  timeoutMs: 10_000,
};

describe('the Anthropic model gateway', () => {
  it('marks the block carrying a cache breakpoint with cache_control and leaves the others plain', async () => {
    const { client, sent } = recordingClient({});
    const gateway = new AnthropicModelGateway(() => Promise.resolve(client));

    await gateway.complete({
      ...request,
      messages: [
        {
          role: 'user',
          content: [{ text: 'shared task and context', cacheBreakpoint: true }, { text: 'your subtask' }],
        },
      ],
    });

    expect(sent[0]?.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'shared task and context', cache_control: { type: 'ephemeral' } },
          { type: 'text', text: 'your subtask' },
        ],
      },
    ]);
  });

  it('sends string content unchanged', async () => {
    const { client, sent } = recordingClient({});
    const gateway = new AnthropicModelGateway(() => Promise.resolve(client));

    await gateway.complete({ ...request, messages: [{ role: 'user', content: 'plain prompt' }] });

    expect(sent[0]?.messages).toEqual([{ role: 'user', content: 'plain prompt' }]);
  });

  it('reports cache-read and cache-write tokens from the response usage', async () => {
    const { client } = recordingClient({ cache_read_input_tokens: 1200, cache_creation_input_tokens: 0 });
    const gateway = new AnthropicModelGateway(() => Promise.resolve(client));

    const response = await gateway.complete({ ...request, messages: [{ role: 'user', content: 'hi' }] });

    expect(response.usage).toEqual({
      inputTokens: 10,
      outputTokens: 5,
      cacheReadTokens: 1200,
      cacheWriteTokens: 0,
    });
  });

  it("reports what the provider's rate-limit headers say is left", async () => {
    const { client } = recordingClient(
      {},
      {
        'anthropic-ratelimit-requests-remaining': '41',
        'anthropic-ratelimit-requests-reset': '2026-12-01T10:00:30Z',
        'anthropic-ratelimit-output-tokens-remaining': '900',
      },
    );
    const gateway = new AnthropicModelGateway(() => Promise.resolve(client));

    const response = await gateway.complete({ ...request, messages: [{ role: 'user', content: 'hi' }] });

    expect(response.rateLimits).toEqual({
      requests: { remaining: 41, resetAtMs: Date.parse('2026-12-01T10:00:30Z') },
      outputTokens: { remaining: 900 },
    });
  });

  it('reports no rate limits when the provider sends no such headers (Bedrock)', async () => {
    const { client } = recordingClient({});
    const gateway = new AnthropicModelGateway(() => Promise.resolve(client));

    const response = await gateway.complete({ ...request, messages: [{ role: 'user', content: 'hi' }] });

    expect(response.rateLimits).toBeUndefined();
  });
});
