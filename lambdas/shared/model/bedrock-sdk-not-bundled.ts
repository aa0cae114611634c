/**
 * Stands in for `@anthropic-ai/bedrock-sdk` in the bundles of a deployment whose provider is
 * `anthropic` (an esbuild alias, see `lib/constructs/workflow-function.ts`), so those functions do
 * not carry the Bedrock client and its AWS dependencies. Reaching it means the deployment's provider
 * and the function's MODEL_PROVIDER disagree.
 */
export class AnthropicBedrock {
  constructor() {
    throw new Error(
      'This function was bundled for provider "anthropic" without the Bedrock SDK; deploy with provider "bedrock" to call Amazon Bedrock',
    );
  }
}
