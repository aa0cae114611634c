/** Which model role a function plays; the `role` dimension of the model metrics. */
export type ModelRole = 'orchestrator' | 'worker' | 'synthesis';

/**
 * Names of the functions' custom metrics, shared by the functions that publish them and the dashboard
 * and alarms that read them (kept free of Powertools so the CDK app can import it cheaply).
 */
export const METRIC = {
  /** Per model call, dimensions service, role, model. */
  modelLatency: 'ModelLatency',
  modelInputTokens: 'ModelInputTokens',
  modelOutputTokens: 'ModelOutputTokens',
  modelCacheReadTokens: 'ModelCacheReadTokens',
  modelCacheWriteTokens: 'ModelCacheWriteTokens',
  modelCostUsd: 'ModelCostUsd',
  /** Calls answered 429 or 529; dimensions service, role, model. */
  modelThrottled: 'ModelThrottled',
  /** Calls the governor let through (models with `modelLimits`); dimensions service, role, model. */
  modelCallsAdmitted: 'ModelCallsAdmitted',
  /** Calls the governor deferred (ModelCapacityExceeded); dimensions service, role, model. */
  modelCallsDeferred: 'ModelCallsDeferred',
  /** Calls in flight under the model's limit once this one was admitted (Maximum: the peak); service, role, model. */
  modelInFlight: 'ModelInFlight',
  /** Failed model calls; dimensions service, role, model, errorName. */
  modelErrors: 'ModelErrors',
  /** Worker invocations that start a subtask's second or later attempt; dimension service. */
  subtaskRetries: 'SubtaskRetries',
  /** Subtasks recorded FAILED; dimensions service, errorName. */
  subtasksFailed: 'SubtasksFailed',
  /** Jobs marked FAILED; dimensions service, errorName. */
  jobsFailed: 'JobsFailed',
  /** Estimated cost of each finished (SUCCEEDED or PARTIAL) job; dimension service. */
  jobCostUsd: 'JobCostUsd',
} as const;
