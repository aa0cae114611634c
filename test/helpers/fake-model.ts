import type { ProviderRateLimits } from '../../lambdas/shared/domain/errors';
import type { ModelGateway, ModelRequest, ModelResponse } from '../../lambdas/shared/model/gateway';

/** A scripted answer with its own stop reason (refusal, max_tokens, …). */
export interface ScriptedReply {
  text: string;
  stopReason: string;
  /** What the provider's rate-limit headers would have said. */
  rateLimits?: ProviderRateLimits;
}

type ScriptedValue = string | ScriptedReply | Error;
export type ScriptedAnswer = ScriptedValue | ((request: ModelRequest) => ScriptedValue);

/**
 * A model gateway that plays back scripted answers in order (the last one repeats) and records
 * every request, for tests of the Lambda cores without HTTP.
 */
export class ScriptedModel implements ModelGateway {
  readonly requests: ModelRequest[] = [];

  constructor(
    private readonly answers: ScriptedAnswer[],
    private readonly stopReason: string = 'end_turn',
  ) {}

  async complete(request: ModelRequest): Promise<ModelResponse> {
    this.requests.push(request);
    const scripted = this.answers[Math.min(this.requests.length - 1, this.answers.length - 1)];
    const answer = typeof scripted === 'function' ? scripted(request) : scripted;
    if (answer === undefined) throw new Error('ScriptedModel has no answers');
    if (answer instanceof Error) throw answer;
    const reply = typeof answer === 'string' ? { text: answer, stopReason: this.stopReason } : answer;
    return {
      ...reply,
      model: request.model,
      usage: { inputTokens: 100, outputTokens: 50, cacheReadTokens: 0, cacheWriteTokens: 0 },
    };
  }
}
