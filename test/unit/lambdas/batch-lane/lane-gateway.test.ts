import { LaneGateway, isRetryable, resultError } from '../../../../lambdas/batch-lane/lane-gateway';
import { ModelCallDeferred } from '../../../../lambdas/shared/domain/errors';
import type { ModelRequest } from '../../../../lambdas/shared/model/gateway';

const request: ModelRequest = {
  model: 'claude-haiku-5-5',
  system: 'You are a worker.',
  messages: [
    {
      role: 'user',
      content: [{ text: 'shared prefix', cacheBreakpoint: true }, { text: 'this subtask' }],
    },
  ],
  maxTokens: 256,
  timeoutMs: 60_000,
};

const message = {
  id: 'msg_1',
  type: 'message' as const,
  role: 'assistant' as const,
  model: 'claude-haiku-5-5',
  content: [{ type: 'text' as const, text: 'Done.', citations: null }],
  stop_reason: 'end_turn' as const,
  stop_sequence: null,
  usage: {
    input_tokens: 10,
    output_tokens: 3,
    cache_read_input_tokens: 100,
    cache_creation_input_tokens: 0,
  },
} as never;

describe('the lane gateway', () => {
  it('takes a request it has no answer for into the next batch, the shared prefix cached for 1 hour', async () => {
    const captured: unknown[] = [];
    const gateway = new LaneGateway({
      customId: () => 'i0-w0',
      capture: (taken) => captured.push(taken),
      cacheTtl: '1h',
    });

    await expect(gateway.complete(request)).rejects.toBeInstanceOf(ModelCallDeferred);
    expect(captured).toEqual([
      {
        customId: 'i0-w0',
        params: expect.objectContaining({
          model: 'claude-haiku-5-5',
          max_tokens: 256,
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'shared prefix', cache_control: { type: 'ephemeral', ttl: '1h' } },
                { type: 'text', text: 'this subtask' },
              ],
            },
          ],
        }),
      },
    ]);
  });

  it("answers from the batch's result for its custom id, billed at the batch rate, cache reads kept", async () => {
    const gateway = new LaneGateway({
      customId: () => 'i0-w0',
      results: new Map([['i0-w0', { type: 'succeeded', message }]]),
      cacheTtl: '1h',
    });

    const answer = await gateway.complete(request);

    expect(answer).toMatchObject({
      text: 'Done.',
      usage: { inputTokens: 10, outputTokens: 3, cacheReadTokens: 100 },
      billing: { lane: 'batch', cacheTtl: '1h' },
    });
    expect(gateway.fresh).toHaveLength(1);
  });

  it("replays earlier rounds' answers by call, so a plan's repair conversation continues", async () => {
    const earlier = {
      text: 'not json',
      usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 },
      stopReason: 'end_turn',
      model: 'm',
    };
    const calls: number[] = [];
    const gateway = new LaneGateway({
      customId: (call) => {
        calls.push(call);
        return `i3-p${call}`;
      },
      answered: [earlier],
    });

    expect((await gateway.complete(request)).text).toBe('not json');
    await expect(gateway.complete(request)).rejects.toBeInstanceOf(ModelCallDeferred);
    expect(calls).toEqual([2]);
  });

  it('names each failed result as on demand; expired, cancelled, 429, 529 and 5xx go again, a 400 does not', () => {
    const errored = (type: string) =>
      resultError('i1-s', {
        type: 'errored',
        error: { type: 'error', error: { type, message: 'x' } },
      } as never);

    expect(errored('overloaded_error').name).toBe('ModelOverloaded');
    expect(errored('rate_limit_error').name).toBe('ModelRateLimited');
    expect(errored('api_error').name).toBe('ModelUnavailable');
    expect(errored('invalid_request_error').name).toBe('ModelRequestRejected');
    expect(resultError('i1-s', { type: 'expired' }).name).toBe('BatchRequestExpired');
    expect(resultError('i1-s', { type: 'canceled' }).name).toBe('BatchRequestCanceled');
    expect(isRetryable(errored('overloaded_error'))).toBe(true);
    expect(isRetryable(resultError('i1-s', { type: 'expired' }))).toBe(true);
    expect(isRetryable(errored('invalid_request_error'))).toBe(false);
  });
});
