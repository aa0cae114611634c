import Anthropic from '@anthropic-ai/sdk';
import {
  InvalidPlan,
  ModelOverloaded,
  ModelRateLimited,
  ModelRequestRejected,
  ModelTimeout,
  ModelUnavailable,
} from '../../../../../lambdas/shared/domain/errors';
import { classifyModelError, retryAfterMsOf } from '../../../../../lambdas/shared/model/error-mapping';

const apiError = (status: number, type: string) =>
  Anthropic.APIError.generate(
    status,
    { type: 'error', error: { type, message: `${type} happened` } },
    undefined,
    new Headers({ 'request-id': 'req_123' }),
  );

describe('model error classification', () => {
  it.each([
    [429, 'rate_limit_error', ModelRateLimited],
    [529, 'overloaded_error', ModelOverloaded],
    [500, 'api_error', ModelUnavailable],
    [502, 'api_error', ModelUnavailable],
    [503, 'api_error', ModelUnavailable],
    [400, 'invalid_request_error', ModelRequestRejected],
    [401, 'authentication_error', ModelRequestRejected],
    [403, 'permission_error', ModelRequestRejected],
    [404, 'not_found_error', ModelRequestRejected],
    [413, 'request_too_large', ModelRequestRejected],
  ])('maps HTTP %i to the named error', (status, type, expected) => {
    const classified = classifyModelError(apiError(status, type));

    expect(classified).toBeInstanceOf(expected);
    expect((classified as Error).name).toBe(expected.name);
    expect((classified as Error).message).toContain(`(${status})`);
    expect((classified as Error).message).toContain('request req_123');
    expect((classified as Error).cause).toBeInstanceOf(Anthropic.APIError);
  });

  it("keeps a 429's retry-after and rate-limit headers on ModelRateLimited", () => {
    const classified = classifyModelError(
      Anthropic.APIError.generate(
        429,
        { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } },
        undefined,
        new Headers({
          'retry-after': '7',
          'anthropic-ratelimit-input-tokens-remaining': '0',
          'anthropic-ratelimit-input-tokens-reset': '2026-12-01T10:00:07Z',
        }),
      ),
    ) as ModelRateLimited;

    expect(classified.retryAfterMs).toBe(7_000);
    expect(classified.rateLimits).toEqual({
      inputTokens: { remaining: 0, resetAtMs: Date.parse('2026-12-01T10:00:07Z') },
    });
  });

  it('reads retry-after as seconds or as an HTTP date, and prefers retry-after-ms', () => {
    const now = Date.parse('2026-12-01T10:00:00Z');
    expect(retryAfterMsOf(new Headers({ 'retry-after': '1.5' }), now)).toBe(1_500);
    expect(retryAfterMsOf(new Headers({ 'retry-after': 'Tue, 01 Dec 2026 10:00:03 GMT' }), now)).toBe(3_000);
    expect(retryAfterMsOf(new Headers({ 'retry-after': '2', 'retry-after-ms': '250' }), now)).toBe(250);
    expect(retryAfterMsOf(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMsOf(new Headers({}), now)).toBeUndefined();
  });

  it('maps a request timeout to ModelTimeout', () => {
    const classified = classifyModelError(new Anthropic.APIConnectionTimeoutError());
    expect(classified).toBeInstanceOf(ModelTimeout);
    expect((classified as Error).name).toBe('ModelTimeout');
  });

  it('maps a refused or reset connection to ModelUnavailable', () => {
    const classified = classifyModelError(new Anthropic.APIConnectionError({ message: 'ECONNREFUSED' }));
    expect(classified).toBeInstanceOf(ModelUnavailable);
    expect((classified as Error).message).toContain('ECONNREFUSED');
  });

  it('passes workflow errors and programming errors through unchanged', () => {
    const invalidPlan = new InvalidPlan('bad', ['x']);
    const bug = new TypeError('undefined is not a function');

    expect(classifyModelError(invalidPlan)).toBe(invalidPlan);
    expect(classifyModelError(bug)).toBe(bug);
  });
});

/** An error as `@anthropic-ai/bedrock-sdk` throws it: Bedrock's status, `{message}` body and error-type header. */
const bedrockError = (status: number, type: string) =>
  Anthropic.APIError.generate(
    status,
    { message: `${type} happened` },
    undefined,
    new Headers({
      'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
      'x-amzn-requestid': 'bedrock-req-1',
    }),
  );

describe('Bedrock error classification', () => {
  it.each([
    [429, 'ThrottlingException', ModelRateLimited],
    [400, 'ServiceQuotaExceededException', ModelRateLimited],
    [503, 'ServiceUnavailableException', ModelOverloaded],
    [429, 'ModelNotReadyException', ModelOverloaded],
    [424, 'ModelErrorException', ModelUnavailable],
    [500, 'InternalServerException', ModelUnavailable],
    [408, 'ModelTimeoutException', ModelTimeout],
    [400, 'ValidationException', ModelRequestRejected],
    [403, 'AccessDeniedException', ModelRequestRejected],
    [403, 'UnrecognizedClientException', ModelRequestRejected],
    [403, 'InvalidSignatureException', ModelRequestRejected],
    [404, 'ResourceNotFoundException', ModelRequestRejected],
  ])('maps HTTP %i %s to the named error', (status, type, expected) => {
    const classified = classifyModelError(bedrockError(status, type));

    expect(classified).toBeInstanceOf(expected);
    expect((classified as Error).name).toBe(expected.name);
    expect((classified as Error).message).toContain(`Bedrock ${type} (${status})`);
    expect((classified as Error).message).toContain('request bedrock-req-1');
    expect((classified as Error).cause).toBeInstanceOf(Anthropic.APIError);
  });

  it('classifies by status when the error type is unknown or missing', () => {
    const unknownType = classifyModelError(bedrockError(503, 'SomethingNewException'));
    const missingHeader = Anthropic.APIError.generate(
      424,
      { message: 'model failed' },
      undefined,
      new Headers(),
    );

    expect(unknownType).toBeInstanceOf(ModelUnavailable);
    expect(classifyModelError(missingHeader)).toBeInstanceOf(ModelUnavailable);
  });
});
