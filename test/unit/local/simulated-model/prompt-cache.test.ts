import Anthropic from '@anthropic-ai/sdk';
import { messageText, type ModelMessage } from '../../../../lambdas/shared/model/gateway';
import { workerPrompt } from '../../../../lambdas/shared/model/prompts';
import {
  parseWorkerPrompt,
  startSimulatedModel,
  type SimulatedModel,
} from '../../../../local/simulated-model';
import {
  PROMPT_CACHE_LONG_TTL_MS,
  PROMPT_CACHE_TTL_MS,
  PromptCache,
} from '../../../../local/simulated-model/prompt-cache';
import type { MessagesRequest } from '../../../../local/simulated-model/protocol';
import { planWith } from '../../../helpers/plans';

const LONG_CONTEXT = { brief: 'Hikers want a bottle that keeps water cold all day. '.repeat(200) };
const plan = planWith(['a', 'b', 'c']);

/** The Messages API body the gateway sends for a worker prompt. */
function apiMessages(messages: ModelMessage[]): MessagesRequest['messages'] {
  return messages.map((message) => ({
    role: message.role,
    content:
      typeof message.content === 'string'
        ? message.content
        : message.content.map((block) => ({
            type: 'text',
            text: block.text,
            ...(block.cacheBreakpoint ? { cache_control: { type: 'ephemeral' } } : {}),
          })),
  }));
}

function workerRequest(
  subtaskIndex: number,
  model = 'claude-sonnet-5-5',
  context: Record<string, unknown> = LONG_CONTEXT,
): MessagesRequest {
  const subtask = plan.subtasks[subtaskIndex]!;
  return {
    model,
    max_tokens: 1000,
    system: 'You are a worker.',
    messages: apiMessages(workerPrompt({ task: 'Describe a water bottle', context }, plan, subtask)),
  };
}

describe('the simulated prompt cache', () => {
  it('writes the shared prefix on the first request and reads it on the next ones', () => {
    const cache = new PromptCache({ now: () => 0 });

    const first = cache.use(workerRequest(0));
    const second = cache.use(workerRequest(1));
    const third = cache.use(workerRequest(2));

    expect(first.cache_creation_input_tokens).toBeGreaterThan(2000);
    expect(first.cache_read_input_tokens).toBe(0);
    expect(second.cache_read_input_tokens).toBe(first.cache_creation_input_tokens);
    expect(second.cache_creation_input_tokens).toBe(0);
    expect(third.cache_read_input_tokens).toBe(first.cache_creation_input_tokens);
    expect(second.input_tokens).toBeGreaterThan(0);
    expect(second.input_tokens).toBeLessThan(100);
  });

  it('keeps the total input the same, whether cached or not', () => {
    const cached = new PromptCache({ now: () => 0 });
    cached.use(workerRequest(0));
    const read = cached.use(workerRequest(1));
    const uncached = new PromptCache({ now: () => 0, minTokens: 1_000_000 }).use(workerRequest(1));

    expect(uncached.cache_read_input_tokens + uncached.cache_creation_input_tokens).toBe(0);
    expect(read.input_tokens + read.cache_read_input_tokens).toBe(uncached.input_tokens);
  });

  it('does not cache a prefix shorter than the minimum, and reports no error', () => {
    const cache = new PromptCache({ now: () => 0 });

    cache.use(workerRequest(0, 'claude-sonnet-5-5', { short: 'context' }));
    const second = cache.use(workerRequest(1, 'claude-sonnet-5-5', { short: 'context' }));

    expect(second.cache_creation_input_tokens).toBe(0);
    expect(second.cache_read_input_tokens).toBe(0);
  });

  it('needs a longer prefix for Haiku than for Sonnet', () => {
    // About 1,500 estimated tokens: over Sonnet's 1,024, under Haiku's 2,048.
    const context = { brief: 'x'.repeat(6_000) };
    const cache = new PromptCache({ now: () => 0 });

    const sonnet = cache.use(workerRequest(0, 'claude-sonnet-5-5', context));
    const haiku = cache.use(workerRequest(0, 'claude-haiku-5-5', context));

    expect(sonnet.cache_creation_input_tokens).toBeGreaterThan(1024);
    expect(haiku.cache_creation_input_tokens).toBe(0);
  });

  it('keeps entries per model', () => {
    const cache = new PromptCache({ now: () => 0 });
    cache.use(workerRequest(0, 'claude-sonnet-5-5'));

    const otherModel = cache.use(workerRequest(1, 'claude-opus-5-5'));

    expect(otherModel.cache_read_input_tokens).toBe(0);
    expect(otherModel.cache_creation_input_tokens).toBeGreaterThan(0);
  });

  it('forgets an entry unused for the TTL, and keeps one that is read in time', () => {
    let now = 0;
    const cache = new PromptCache({ now: () => now });
    cache.use(workerRequest(0));

    now = PROMPT_CACHE_TTL_MS - 1;
    expect(cache.use(workerRequest(1)).cache_read_input_tokens).toBeGreaterThan(0);
    now += PROMPT_CACHE_TTL_MS - 1; // a read refreshed the entry
    expect(cache.use(workerRequest(2)).cache_read_input_tokens).toBeGreaterThan(0);
    now += PROMPT_CACHE_TTL_MS;
    const expired = cache.use(workerRequest(0));

    expect(expired.cache_read_input_tokens).toBe(0);
    expect(expired.cache_creation_input_tokens).toBeGreaterThan(0);
  });

  it('keeps a breakpoint marked with the 1-hour TTL for an hour (the batch lane asks for it)', () => {
    let now = 0;
    const cache = new PromptCache({ now: () => now });
    const withLongTtl = (request: MessagesRequest): MessagesRequest => ({
      ...request,
      messages: request.messages.map((message) => ({
        ...message,
        content:
          typeof message.content === 'string'
            ? message.content
            : message.content.map((block) =>
                'cache_control' in block
                  ? { ...block, cache_control: { type: 'ephemeral', ttl: '1h' } }
                  : block,
              ),
      })),
    });
    cache.use(withLongTtl(workerRequest(0)));

    now = PROMPT_CACHE_TTL_MS * 2;
    expect(cache.use(withLongTtl(workerRequest(1))).cache_read_input_tokens).toBeGreaterThan(0);
    now += PROMPT_CACHE_LONG_TTL_MS;
    expect(cache.use(withLongTtl(workerRequest(2))).cache_read_input_tokens).toBe(0);
  });

  it('treats a different system prompt as a different prefix', () => {
    const cache = new PromptCache({ now: () => 0 });
    cache.use(workerRequest(0));

    const other = cache.use({ ...workerRequest(1), system: 'You are another worker.' });

    expect(other.cache_read_input_tokens).toBe(0);
  });

  it('caches nothing without a cache_control block', () => {
    const cache = new PromptCache({ now: () => 0, minTokens: 1 });
    const plain = {
      model: 'claude-sonnet-5-5',
      max_tokens: 10,
      messages: [{ role: 'user' as const, content: 'x'.repeat(9000) }],
    };

    cache.use(plain);

    expect(cache.use(plain).cache_read_input_tokens).toBe(0);
  });
});

describe('the simulated model with prompt caching', () => {
  let model: SimulatedModel;
  let client: Anthropic;
  beforeAll(async () => {
    model = await startSimulatedModel();
    client = new Anthropic({ apiKey: 'simulated', baseURL: model.url, maxRetries: 0 });
  });
  afterAll(() => model.close());

  it('reports cache writes and reads in the usage of worker answers', async () => {
    const send = (index: number) => {
      const { messages, model: modelId, max_tokens, system } = workerRequest(index);
      return client.messages.create({
        model: modelId,
        max_tokens,
        system: system as string,
        messages: messages as Anthropic.MessageParam[],
      });
    };

    const first = await send(0);
    const second = await send(1);

    expect(first.usage.cache_creation_input_tokens).toBeGreaterThan(2000);
    expect(second.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    expect(textOfMessage(second)).toContain('Title of b');
  });

  it('still reads the worker prompt from its two blocks', () => {
    const messages = workerPrompt(
      { task: 'Describe a bottle', context: { audience: 'hikers' } },
      plan,
      plan.subtasks[1]!,
    );

    const parsed = parseWorkerPrompt(messageText(messages[0]));

    expect(parsed?.task).toBe('Describe a bottle');
    expect(parsed?.context).toEqual({ audience: 'hikers' });
    expect(parsed?.subtask).toMatchObject({ id: 'b', title: 'Title of b', description: 'Do the b part' });
  });
});

function textOfMessage(message: Anthropic.Message): string {
  return message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
}
