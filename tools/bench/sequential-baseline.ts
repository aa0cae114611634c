/**
 * The textbook implementation the orchestrator is measured against: the same model calls with the
 * same prompts (plan, then each subtask, then synthesis), made one after another in a plain loop
 * through @anthropic-ai/sdk. No state machine, no Lambda, no table.
 */
import Anthropic from '@anthropic-ai/sdk';
import { dependencyWaves } from '../../lambdas/plan/plan-waves';
import { planJsonSchema } from '../../lambdas/plan/plan-schema';
import { profileNamed } from '../../lambdas/shared/domain/profiles';
import { toApiMessage } from '../../lambdas/shared/model/gateway';
import {
  orchestratorSystemPrompt,
  planPrompt,
  synthesisPrompt,
  synthesisSystemPrompt,
  type SubtaskOutcome,
  workerPrompt,
  workerSystemPrompt,
} from '../../lambdas/shared/model/prompts';
import { type Plan, PlanSchema } from '../../lambdas/shared/domain/schemas';
import type { OrchestratorConfig } from '../../lib/config';

const CALL_TIMEOUT_MS = 5 * 60_000;

export interface SequentialRun {
  elapsedMs: number;
  /** The part spent in the worker calls, the part the orchestrator runs in parallel. */
  workersMs: number;
  modelCalls: number;
  subtasks: number;
}

export interface SequentialBaselineOptions {
  baseUrl: string;
  request: { task: string; profile: string; context: Record<string, unknown> };
  subtasks: number;
  config: Pick<OrchestratorConfig, 'models' | 'maxTokens'>;
}

function textOf(message: Anthropic.Message): string {
  return message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
}

export async function runSequentialBaseline(options: SequentialBaselineOptions): Promise<SequentialRun> {
  const client = new Anthropic({
    apiKey: 'simulated-model-local-key',
    baseURL: options.baseUrl,
    maxRetries: 0,
  });
  const { config, request } = options;
  const profile = profileNamed(request.profile);
  const input = { task: request.task, context: request.context };
  const startedAt = performance.now();
  let modelCalls = 0;
  const call = async (params: Anthropic.MessageCreateParamsNonStreaming) => {
    modelCalls += 1;
    // An explicit timeout, as the Lambdas give (their remaining time); without one the SDK refuses
    // large max_tokens values without streaming.
    return textOf(await client.messages.create(params, { timeout: CALL_TIMEOUT_MS }));
  };

  const planText = await call({
    model: config.models.orchestrator,
    max_tokens: config.maxTokens.orchestrator,
    system: orchestratorSystemPrompt(profile),
    messages: planPrompt(input, profile, { min: options.subtasks, max: options.subtasks }).map((message) =>
      toApiMessage(message),
    ),
    output_config: {
      format: {
        type: 'json_schema',
        schema: planJsonSchema(profile, { min: options.subtasks, max: options.subtasks }),
      },
    },
  });
  const plan: Plan = PlanSchema.parse(JSON.parse(planText));

  const outputs = new Map<string, string>();
  const workersStartedAt = performance.now();
  for (const wave of dependencyWaves(plan)) {
    for (const id of wave) {
      const subtask = plan.subtasks.find((candidate) => candidate.id === id);
      if (!subtask) throw new Error(`The plan's waves name an unknown subtask ${id}`);
      const dependencies = subtask.dependsOn.map((dependency) => ({
        id: dependency,
        title: plan.subtasks.find((candidate) => candidate.id === dependency)?.title ?? dependency,
        output: outputs.get(dependency) ?? '',
      }));
      const output = await call({
        model: config.models.worker,
        max_tokens: config.maxTokens.worker,
        system: workerSystemPrompt(profile, plan),
        messages: workerPrompt(input, plan, subtask, dependencies).map((message) => toApiMessage(message)),
      });
      outputs.set(subtask.id, output);
    }
  }

  const workersMs = performance.now() - workersStartedAt;

  const outcomes: SubtaskOutcome[] = plan.subtasks.map((subtask) => ({
    id: subtask.id,
    title: subtask.title,
    status: 'SUCCEEDED',
    output: outputs.get(subtask.id),
  }));
  await call({
    model: config.models.synthesis,
    max_tokens: config.maxTokens.synthesis,
    system: synthesisSystemPrompt(profile),
    messages: synthesisPrompt(input, plan, outcomes).map((message) => toApiMessage(message)),
  });
  return { elapsedMs: performance.now() - startedAt, workersMs, modelCalls, subtasks: plan.subtasks.length };
}
