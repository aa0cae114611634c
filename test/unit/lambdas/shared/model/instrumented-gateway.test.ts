import {
  ModelOverloaded,
  ModelRateLimited,
  ModelRequestRejected,
} from '../../../../../lambdas/shared/domain/errors';
import { InstrumentedModelGateway } from '../../../../../lambdas/shared/model/instrumented-gateway';
import type { ModelRequest } from '../../../../../lambdas/shared/model/gateway';
import { createObservability } from '../../../../../lambdas/shared/runtime/observability';
import { ScriptedModel } from '../../../../helpers/fake-model';
import { captureOutput, type CapturedOutput } from '../../../../helpers/captured-output';

const POWERTOOLS_ON = {
  POWERTOOLS_SERVICE_NAME: 'orchestrator-test',
  POWERTOOLS_METRICS_NAMESPACE: 'OrchestratorTest',
  LOG_LEVEL: 'INFO',
};

const request: ModelRequest = {
  model: 'claude-haiku-5-5',
  system: 'system',
  messages: [{ role: 'user', content: 'hello' }],
  maxTokens: 100,
  timeoutMs: 10_000,
};

/** A clock that advances by `stepMs` on every reading, so latency is exact. */
const steppingClock = (stepMs: number) => {
  let now = 0;
  return () => (now += stepMs);
};

let output: CapturedOutput;
beforeEach(() => {
  output = captureOutput();
});
afterEach(() => output.restore());

describe('the instrumented model gateway', () => {
  it('publishes latency, tokens and cost of a call as one EMF record under role and model', async () => {
    // Arrange
    const observability = createObservability(POWERTOOLS_ON);
    const gateway = new InstrumentedModelGateway(
      new ScriptedModel(['answer']),
      'worker',
      observability,
      steppingClock(250),
    );

    // Act
    const response = await gateway.complete(request);

    // Assert
    expect(response.text).toBe('answer');
    const [record, ...others] = output.metrics();
    expect(others).toHaveLength(0);
    const definition = record?._aws.CloudWatchMetrics[0];
    expect(definition?.Namespace).toBe('OrchestratorTest');
    expect(definition?.Dimensions).toEqual([['service', 'role', 'model']]);
    expect(definition?.Metrics.map((metric) => metric.Name).sort()).toEqual(
      [
        'ModelCacheReadTokens',
        'ModelCacheWriteTokens',
        'ModelCostUsd',
        'ModelInputTokens',
        'ModelLatency',
        'ModelOutputTokens',
      ].sort(),
    );
    expect(record).toMatchObject({
      service: 'orchestrator-test',
      role: 'worker',
      model: 'claude-haiku-5-5',
      ModelLatency: 250,
      ModelInputTokens: 100,
      ModelOutputTokens: 50,
      // haiku: 100 × $1 + 50 × $5 per million tokens
      ModelCostUsd: 0.00035,
    });
    expect(output.logs()).toEqual([
      expect.objectContaining({
        level: 'INFO',
        message: 'Model call succeeded',
        role: 'worker',
        model: 'claude-haiku-5-5',
        latencyMs: 250,
        inputTokens: 100,
        stopReason: 'end_turn',
      }),
    ]);
  });

  it.each([
    ['ModelRateLimited', new ModelRateLimited('429'), true],
    ['ModelOverloaded', new ModelOverloaded('529'), true],
    ['ModelRequestRejected', new ModelRequestRejected('400'), false],
  ])('counts a %s by name, and as throttled only when it is a 429 or 529', async (name, error, throttled) => {
    // Arrange
    const observability = createObservability(POWERTOOLS_ON);
    const gateway = new InstrumentedModelGateway(new ScriptedModel([error]), 'orchestrator', observability);

    // Act
    const failure = await gateway.complete(request).catch((caught: unknown) => caught);

    // Assert: the same error leaves (Retry and Catch match its name), and it was counted
    expect(failure).toBe(error);
    const records = output.metrics();
    const errors = records.find((record) => 'ModelErrors' in record);
    expect(errors).toMatchObject({
      ModelErrors: 1,
      errorName: name,
      role: 'orchestrator',
      model: request.model,
    });
    expect(errors?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([
      ['service', 'role', 'model', 'errorName'],
    ]);
    const throttles = records.filter((record) => 'ModelThrottled' in record);
    expect(throttles.map((record) => record._aws.CloudWatchMetrics[0]?.Dimensions)).toEqual(
      throttled ? [[['service', 'role', 'model']]] : [],
    );
    expect(output.logs()).toEqual([
      expect.objectContaining({
        level: 'WARN',
        message: 'Model call failed',
        throttled,
        error: { name, message: error.message },
      }),
    ]);
  });

  it('writes nothing when Powertools is not configured (the local runtime, tests)', async () => {
    const observability = createObservability({});
    const gateway = new InstrumentedModelGateway(
      new ScriptedModel(['answer', new ModelRateLimited('429')]),
      'synthesis',
      observability,
    );

    await gateway.complete(request);
    await expect(gateway.complete(request)).rejects.toThrow(ModelRateLimited);
    observability.metrics.publishStoredMetrics();

    expect(output.lines).toEqual([]);
  });
});
