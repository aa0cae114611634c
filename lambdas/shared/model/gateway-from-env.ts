import type { ModelEnv } from '../runtime/env';
import type { ModelRole } from '../runtime/metric-names';
import type { Observability } from '../runtime/observability';
import { CapacityStore } from '../storage/capacity-store';
import { createDocumentClient } from '../storage/job-repository';
import { createModelGateway, type ModelGateway } from './gateway';
import { GovernedModelGateway } from './governed-gateway';
import { InstrumentedModelGateway } from './instrumented-gateway';

/**
 * The gateway a model-calling function uses: the provider's, measured, and (when the deployment has
 * `modelLimits`) behind the shared governor, outermost, so a deferred call is never counted as a call.
 */
export function modelGatewayFromEnv(
  env: ModelEnv,
  role: ModelRole,
  observability: Observability,
): ModelGateway {
  const measured = new InstrumentedModelGateway(createModelGateway(env), role, observability);
  if (!env.CAPACITY_TABLE_NAME || Object.keys(env.MODEL_LIMITS).length === 0) return measured;
  const documents = createDocumentClient({
    region: env.AWS_REGION,
    ...(env.DYNAMODB_ENDPOINT ? { endpoint: env.DYNAMODB_ENDPOINT } : {}),
    // Locally each invocation signs with its sandbox's own credentials, which the IAM check reads.
    credentials: env,
    tracer: observability.tracer,
  });
  const store = new CapacityStore(documents, env.CAPACITY_TABLE_NAME);
  return new GovernedModelGateway(measured, env.MODEL_LIMITS, store, role, observability);
}
