import { ModelEnvSchema, parseEnv } from '../../../../lambdas/shared/runtime/env';
import { createModelGateway, type ModelRequest } from '../../../../lambdas/shared/model/gateway';
import {
  LOCAL_BEDROCK_CREDENTIALS,
  startSimulatedModel,
  type FaultKind,
  type SimulatedModel,
} from '../../../../local/simulated-model';
import { parseBedrockInvokeBody } from '../../../../local/simulated-model/bedrock';

/**
 * The Bedrock code path against the simulated model's Bedrock route: `@anthropic-ai/bedrock-sdk`
 * rewrites the request, SigV4-signs it with the local dummy credentials, and the simulated model
 * checks the signature as Bedrock would.
 */
let model: SimulatedModel;
beforeAll(async () => {
  model = await startSimulatedModel();
});
afterAll(() => model.close());
beforeEach(() => model.setFaults([]));

const MODEL_ID = 'us.anthropic.claude-haiku-5-5';

function bedrockGateway(overrides: Record<string, string> = {}) {
  const env = parseEnv(ModelEnvSchema, {
    TABLE_NAME: 'jobs',
    MODEL: MODEL_ID,
    MODEL_PROVIDER: 'bedrock',
    ANTHROPIC_BEDROCK_BASE_URL: model.url,
    AWS_ACCESS_KEY_ID: LOCAL_BEDROCK_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_BEDROCK_CREDENTIALS.secretAccessKey,
    ...overrides,
  });
  return createModelGateway(env);
}

const request: ModelRequest = {
  model: MODEL_ID,
  system: 'You are terse.',
  messages: [{ role: 'user', content: 'Say hello' }],
  maxTokens: 256,
  timeoutMs: 5_000,
};

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${model.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('the Bedrock provider against the simulated model', () => {
  it('sends a signed request to the invoke route of the model and reads the answer', async () => {
    const before = model.requests.length;

    const response = await bedrockGateway().complete(request);

    expect(response.model).toBe(MODEL_ID);
    expect(response.text).toContain('Simulated');
    expect(response.usage.outputTokens).toBeGreaterThan(0);
    expect(model.requests.slice(before)).toEqual([
      expect.objectContaining({ api: 'bedrock', model: MODEL_ID, status: 200 }),
    ]);
  });

  it.each<[FaultKind, string]>([
    ['rate_limit', 'ModelRateLimited'],
    ['overloaded', 'ModelOverloaded'],
    ['server_error', 'ModelUnavailable'],
    ['bad_request', 'ModelRequestRejected'],
  ])('turns an injected %s into %s', async (kind, name) => {
    model.setFaults([{ kind, times: 1 }]);

    await expect(bedrockGateway().complete(request)).rejects.toMatchObject({
      name,
      message: expect.stringMatching(/^Bedrock \w+Exception \(\d{3}\)/),
    });
  });

  it('times a hung call out as ModelTimeout', async () => {
    model.setFaults([{ kind: 'hang', times: 1 }]);

    await expect(bedrockGateway().complete({ ...request, timeoutMs: 1_000 })).rejects.toMatchObject({
      name: 'ModelTimeout',
    });
  });

  it('rejects a request signed with the wrong secret, as Bedrock would', async () => {
    await expect(
      bedrockGateway({ AWS_SECRET_ACCESS_KEY: 'not-the-local-secret' }).complete(request),
    ).rejects.toMatchObject({
      name: 'ModelRequestRejected',
      message: expect.stringContaining('InvalidSignatureException'),
    });
  });

  it('rejects unsigned requests', async () => {
    const response = await post(`/model/${MODEL_ID}/invoke`, {
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }],
    });

    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-errortype')).toMatch(/^MissingAuthenticationTokenException:/);
  });
});

describe('reading a Bedrock invoke body', () => {
  const body = {
    anthropic_version: 'bedrock-2023-05-31',
    max_tokens: 10,
    messages: [{ role: 'user', content: 'hi' }],
  };

  it('takes the model from the path', () => {
    const parsed = parseBedrockInvokeBody(JSON.stringify(body), MODEL_ID);
    expect(parsed).toMatchObject({ ok: true, request: { model: MODEL_ID, max_tokens: 10 } });
  });

  it('refuses a model in the body and a missing anthropic_version, as Bedrock does', () => {
    expect(parseBedrockInvokeBody(JSON.stringify({ ...body, model: MODEL_ID }), MODEL_ID)).toMatchObject({
      ok: false,
      message: expect.stringContaining('extraneous key [model]'),
    });
    const unversioned = { max_tokens: body.max_tokens, messages: body.messages };
    expect(parseBedrockInvokeBody(JSON.stringify(unversioned), MODEL_ID)).toMatchObject({
      ok: false,
      message: expect.stringContaining('anthropic_version'),
    });
  });
});
