import { METRIC, type ModelRole } from '../runtime/metric-names';
import type { ModelGateway, ModelRequest, ModelResponse } from './gateway';
import { MetricUnit, type Observability } from '../runtime/observability';
import { estimateCostUsd } from '../domain/pricing';
import { isThrottling } from '../domain/error-policy';

/** The errors that mean "slow down" (HTTP 429 and 529); Step Functions waits them out. */

/**
 * Wraps a gateway so every model call is measured: latency, tokens and estimated cost on success,
 * the error's name (and whether it was a throttle) on failure, each published as one EMF record under
 * the dimensions `role` and `model` (the id asked for, as configured), plus a log line and an X-Ray
 * subsegment. Errors pass through unchanged: Retry and Catch still match their names.
 */
export class InstrumentedModelGateway implements ModelGateway {
  constructor(
    private readonly inner: ModelGateway,
    private readonly role: ModelRole,
    private readonly observability: Pick<Observability, 'logger' | 'tracer' | 'metricsWith'>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async complete(request: ModelRequest): Promise<ModelResponse> {
    const { logger, tracer } = this.observability;
    const dimensions = { role: this.role, model: request.model };
    const segment = tracer.isTracingEnabled() ? tracer.getSegment() : undefined;
    const subsegment = segment?.addNewSubsegment(`model ${this.role}`);
    if (subsegment) {
      tracer.setSegment(subsegment);
      subsegment.addAnnotation('role', this.role);
      subsegment.addAnnotation('model', request.model);
    }
    const started = this.now();
    try {
      const response = await this.inner.complete(request);
      const latencyMs = Math.round(this.now() - started);
      const costUsd = estimateCostUsd(response.model, response.usage);
      const metrics = this.observability.metricsWith(dimensions);
      metrics.addMetric(METRIC.modelLatency, MetricUnit.Milliseconds, latencyMs);
      metrics.addMetric(METRIC.modelInputTokens, MetricUnit.Count, response.usage.inputTokens);
      metrics.addMetric(METRIC.modelOutputTokens, MetricUnit.Count, response.usage.outputTokens);
      metrics.addMetric(METRIC.modelCacheReadTokens, MetricUnit.Count, response.usage.cacheReadTokens);
      metrics.addMetric(METRIC.modelCacheWriteTokens, MetricUnit.Count, response.usage.cacheWriteTokens);
      metrics.addMetric(METRIC.modelCostUsd, MetricUnit.NoUnit, costUsd);
      metrics.publishStoredMetrics();
      logger.info('Model call succeeded', {
        ...dimensions,
        latencyMs,
        ...response.usage,
        costUsd,
        stopReason: response.stopReason,
      });
      return response;
    } catch (error) {
      const latencyMs = Math.round(this.now() - started);
      const name = error instanceof Error ? error.name : 'Error';
      const message = error instanceof Error ? error.message : String(error);
      const errorMetrics = this.observability.metricsWith({ ...dimensions, errorName: name });
      errorMetrics.addMetric(METRIC.modelErrors, MetricUnit.Count, 1);
      errorMetrics.publishStoredMetrics();
      const throttled = isThrottling(name);
      if (throttled) {
        const throttleMetrics = this.observability.metricsWith(dimensions);
        throttleMetrics.addMetric(METRIC.modelThrottled, MetricUnit.Count, 1);
        throttleMetrics.publishStoredMetrics();
      }
      logger.warn('Model call failed', { ...dimensions, latencyMs, throttled, error: { name, message } });
      subsegment?.addError(error instanceof Error ? error : new Error(message));
      throw error;
    } finally {
      if (subsegment && segment) {
        subsegment.close();
        tracer.setSegment(segment);
      }
    }
  }
}
