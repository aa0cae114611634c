/**
 * Amazon Bedrock model ids: what a configured id means, and which resources invoking it touches
 * (for IAM). Bedrock serves Claude under a foundation-model id (`anthropic.claude-…`) and under
 * cross-region inference profiles that add a geography prefix (`us.anthropic.claude-…`,
 * `global.anthropic.claude-…`), which route each request to one of several regions.
 */

/** Geography prefixes of Bedrock's system-defined cross-region inference profiles. */
export const INFERENCE_PROFILE_PREFIXES = ['us', 'us-gov', 'eu', 'apac', 'au', 'jp', 'ca', 'global'] as const;
export type InferenceProfilePrefix = (typeof INFERENCE_PROFILE_PREFIXES)[number];

/**
 * An id the Messages API can be called with through Bedrock: an optional inference-profile prefix,
 * then an Anthropic foundation-model id. Other vendors' models do not speak the Messages API.
 */
export const BEDROCK_MODEL_ID_PATTERN = new RegExp(
  `^(?:(${INFERENCE_PROFILE_PREFIXES.join('|')})\\.)?(anthropic\\.[a-z0-9][a-z0-9.:-]*)$`,
);

export interface BedrockModelId {
  /** The id as configured (what the Lambda sends as the model). */
  id: string;
  /** The foundation model behind it (`anthropic.claude-…`). */
  foundationModelId: string;
  /** Set when the id is a cross-region inference profile. */
  inferenceProfile?: InferenceProfilePrefix;
}

/** Reads a Bedrock model id, or returns undefined when it is not one. */
export function parseBedrockModelId(id: string): BedrockModelId | undefined {
  const match = BEDROCK_MODEL_ID_PATTERN.exec(id);
  if (!match) return undefined;
  const [, prefix, foundationModelId] = match;
  if (!foundationModelId) return undefined;
  return prefix
    ? { id, foundationModelId, inferenceProfile: prefix as InferenceProfilePrefix }
    : { id, foundationModelId };
}

/**
 * Default model per role on Bedrock: the same models as the Anthropic defaults, through the US
 * cross-region inference profiles (on-demand throughput for current Claude models is offered
 * through inference profiles). Check what your region offers, and pick `eu.`, `apac.`, `global.`…
 * to match it.
 */
export const DEFAULT_BEDROCK_MODELS = {
  orchestrator: 'us.anthropic.claude-sonnet-5-5',
  worker: 'us.anthropic.claude-haiku-5-5',
  synthesis: 'us.anthropic.claude-sonnet-5-5',
} as const;
