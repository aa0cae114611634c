/**
 * Simulated model: a local, deterministic stand-in for the Anthropic Messages API, used to run
 * and test the orchestrator-workers system without real generation.
 */
export { startSimulatedModel } from './server';
export type { ModelApi, RequestLogEntry, SimulatedModel, SimulatedModelStats } from './server';
export { LOCAL_BEDROCK_CREDENTIALS } from './bedrock';
export { RateLimiter, providerLimitsSchema } from './limits';
export type { LimitReason, ProviderLimits } from './limits';
export {
  FAULT_KINDS,
  MODEL_ROLES,
  FaultInjector,
  faultRuleSchema,
  optionsFromEnv,
  parseFaultsFromEnv,
  parseLimitsFromEnv,
  parseLatencyFromEnv,
} from './faults';
export type {
  FaultKind,
  FaultRule,
  InjectedFault,
  LatencyByRole,
  ModelRole,
  RequestRole,
  SimulatedModelOptions,
} from './faults';
export {
  DEFAULT_BOUNDS,
  MALFORMED_PLAN_VARIANTS,
  SIMULATED_FOOTER,
  buildEchoOutput,
  buildMalformedPlan,
  buildPlan,
  buildSynthesisOutput,
  buildWorkerOutput,
  classifyTask,
  extractTag,
  parsePlanPrompt,
  parseSynthesisPrompt,
  parseWorkerPrompt,
  renderPlan,
  taskTopic,
} from './content';
export type {
  AssignedSubtask,
  FailedSubtask,
  MalformedPlanVariant,
  Plan,
  PlanPrompt,
  PlannedSubtask,
  SubtaskBounds,
  SubtaskResult,
  SynthesisPrompt,
  TaskContext,
  TaskKind,
  WorkerPrompt,
} from './content';
