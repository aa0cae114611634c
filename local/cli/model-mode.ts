import { MODEL_PROVIDERS, type ModelProvider } from '../../lib/config';
import type { ModelMode } from '../runtime/stack';
import { optionsFromEnv } from '../simulated-model';
import { UsageError } from './args';

/** The provider the local run's functions use: `MODEL_PROVIDER`, default `anthropic`. */
export function providerFromEnv(env: NodeJS.ProcessEnv): ModelProvider {
  const value = env.MODEL_PROVIDER || 'anthropic';
  const provider = MODEL_PROVIDERS.find((known) => known === value);
  if (!provider) {
    throw new UsageError(`MODEL_PROVIDER: must be one of ${MODEL_PROVIDERS.join(', ')}, not "${value}"`);
  }
  return provider;
}

/**
 * The model the local run uses, for the configuration's provider (default: `MODEL_PROVIDER`). Provider `anthropic`: the Anthropic API when a key is set. Provider
 * `bedrock`: real Bedrock only when `BEDROCK_LIVE=1` (with this process's AWS credentials, so a run
 * is never billed by accident). Otherwise the simulated model, on the provider's route.
 */
export function modelModeFromEnv(
  env: NodeJS.ProcessEnv,
  provider: ModelProvider = providerFromEnv(env),
): ModelMode {
  if (provider === 'bedrock') {
    if (env.BEDROCK_LIVE === '1') {
      return {
        kind: 'bedrock',
        ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
        ...(env.ANTHROPIC_BEDROCK_BASE_URL ? { baseUrl: env.ANTHROPIC_BEDROCK_BASE_URL } : {}),
      };
    }
    return { kind: 'simulated', options: optionsFromEnv(env) };
  }
  if (env.ANTHROPIC_API_KEY) {
    return {
      kind: 'anthropic',
      apiKey: env.ANTHROPIC_API_KEY,
      ...(env.ANTHROPIC_BASE_URL ? { baseUrl: env.ANTHROPIC_BASE_URL } : {}),
    };
  }
  return { kind: 'simulated', options: optionsFromEnv(env) };
}

/** The line a CLI prints about where its model calls go (the simulated model always says it is one). */
export function describeModel(model: ModelMode, provider: ModelProvider): string {
  if (model.kind === 'simulated') {
    return provider === 'bedrock'
      ? 'Model: SIMULATED on the Bedrock route (a local test double, not real generation). Set BEDROCK_LIVE=1 to use Amazon Bedrock.'
      : 'Model: SIMULATED (a local test double, not real generation). Set ANTHROPIC_API_KEY to use Claude.';
  }
  if (model.kind === 'bedrock') {
    return `Model: Amazon Bedrock${model.region ? ` in ${model.region}` : ''}${model.baseUrl ? ` at ${model.baseUrl}` : ''}`;
  }
  return `Model: Anthropic API${model.baseUrl ? ` at ${model.baseUrl}` : ''}`;
}
