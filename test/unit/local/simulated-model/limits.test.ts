import Anthropic from '@anthropic-ai/sdk';
import {
  parseLimitsFromEnv,
  RateLimiter,
  startSimulatedModel,
  type SimulatedModel,
} from '../../../../local/simulated-model';

let model: SimulatedModel | undefined;
afterEach(async () => {
  await model?.close();
  model = undefined;
});

/** A planning call: the simulated model gives those its latency. */
const params = (modelId: string): Anthropic.MessageCreateParamsNonStreaming => ({
  model: modelId,
  max_tokens: 1_000,
  system: 'You are the orchestrator. Plan the subtasks.',
  output_config: { format: { type: 'json_schema', schema: { type: 'object' } } },
  messages: [{ role: 'user', content: '<task>Plan a picnic</task>\n<subtask_bounds min="2" max="3"/>' }],
});

describe('the simulated model with limits of its own', () => {
  it('answers 429 with retry-after to a request beyond maxInFlight, like the real API', async () => {
    model = await startSimulatedModel({ latencyMs: 100, limits: { maxInFlight: 2 } });
    const client = new Anthropic({ apiKey: 'simulated', baseURL: model.url, maxRetries: 0 });

    const results = await Promise.allSettled([1, 2, 3].map(() => client.messages.create(params('m'))));

    const rejected = results.filter((result) => result.status === 'rejected');
    expect(rejected).toHaveLength(1);
    const error = (rejected[0] as PromiseRejectedResult).reason as InstanceType<typeof Anthropic.APIError>;
    expect(error.status).toBe(429);
    expect(error.headers?.get('retry-after')).toBe('1');
    expect(model.stats()).toMatchObject({ rateLimited: 1, peakInFlight: { m: 3 } });
  });

  it('keeps each model within its own limits', async () => {
    model = await startSimulatedModel({ latencyMs: 50, limits: { maxInFlight: 1 } });
    const client = new Anthropic({ apiKey: 'simulated', baseURL: model.url, maxRetries: 0 });

    await Promise.all([client.messages.create(params('a')), client.messages.create(params('b'))]);

    expect(model.stats()).toMatchObject({ rateLimited: 0, peakInFlight: { a: 1, b: 1 } });
  });

  it('reports what is left of its per-minute limits in anthropic-ratelimit-* headers', async () => {
    model = await startSimulatedModel({ limits: { requestsPerMinute: 10 } });
    const client = new Anthropic({ apiKey: 'simulated', baseURL: model.url, maxRetries: 0 });

    const { response } = await client.messages.create(params('m')).withResponse();

    expect(response.headers.get('anthropic-ratelimit-requests-limit')).toBe('10');
    expect(response.headers.get('anthropic-ratelimit-requests-remaining')).toBe('9');
  });
});

describe('the rate limiter', () => {
  it('refills a per-minute bucket continuously and says when a request fits again', () => {
    let now = 0;
    const limiter = new RateLimiter({ outputTokensPerMinute: 600 }, () => now);

    const first = limiter.admit('m', { inputTokens: 1, maxTokens: 600 });
    expect(first.ok).toBe(true);
    if (first.ok) first.release(600);
    expect(limiter.admit('m', { inputTokens: 1, maxTokens: 300 })).toEqual({
      ok: false,
      reason: 'output-tokens',
      retryAfterMs: 30_000,
    });
    now = 30_000;
    expect(limiter.admit('m', { inputTokens: 1, maxTokens: 300 }).ok).toBe(true);
  });

  it('gives back the output tokens a request reserved and did not use', () => {
    const limiter = new RateLimiter({ outputTokensPerMinute: 600 }, () => 0);
    const first = limiter.admit('m', { inputTokens: 1, maxTokens: 600 });
    if (first.ok) first.release(100);

    expect(limiter.admit('m', { inputTokens: 1, maxTokens: 500 }).ok).toBe(true);
  });

  it('reads SIM_MODEL_LIMITS', () => {
    expect(parseLimitsFromEnv({ SIM_MODEL_LIMITS: 'maxInFlight=4, requestsPerMinute=100' })).toEqual({
      maxInFlight: 4,
      requestsPerMinute: 100,
    });
    expect(() => parseLimitsFromEnv({ SIM_MODEL_LIMITS: 'maxInFlight=many' })).toThrow(/SIM_MODEL_LIMITS/);
    expect(() => parseLimitsFromEnv({ SIM_MODEL_LIMITS: 'inFlight=4' })).toThrow(/SIM_MODEL_LIMITS/);
  });
});
