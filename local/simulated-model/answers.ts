/**
 * Chooses what the simulated model says to a request: the plan, worker or synthesis text from
 * `content.ts`, or a malformed plan when a fault asks for one.
 */
import {
  buildEchoOutput,
  buildMalformedPlan,
  buildPlan,
  buildSynthesisOutput,
  buildWorkerOutput,
  parsePlanPrompt,
  parseSynthesisPrompt,
  parseWorkerPrompt,
  renderPlan,
  type MalformedPlanVariant,
} from './content';
import type { InjectedFault, RequestRole } from './faults';
import { forcedToolName, userTexts, type Answer, type MessagesRequest } from './protocol';

function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/**
 * A plan as text, or as the forced tool's input. A `not_json` plan cannot be a tool input, so
 * it comes back as text even when a tool was forced: the caller sees no tool_use block.
 */
function planAnswer(request: MessagesRequest, malformed: MalformedPlanVariant | undefined): Answer {
  const prompt = parsePlanPrompt(userTexts(request));
  const text = malformed ? buildMalformedPlan(prompt, malformed) : renderPlan(buildPlan(prompt));
  const tool = forcedToolName(request);
  const input = tool === null ? null : parseJsonObject(text);
  return tool !== null && input !== null ? { kind: 'tool_use', name: tool, input } : { kind: 'text', text };
}

function lastUserText(request: MessagesRequest): string {
  return userTexts(request).at(-1) ?? '';
}

function workerAnswer(request: MessagesRequest): Answer {
  const prompt = parseWorkerPrompt(userTexts(request).join('\n'));
  return { kind: 'text', text: prompt ? buildWorkerOutput(prompt) : buildEchoOutput(lastUserText(request)) };
}

function synthesisAnswer(request: MessagesRequest): Answer {
  const prompt = parseSynthesisPrompt(userTexts(request).join('\n'));
  return {
    kind: 'text',
    text: prompt ? buildSynthesisOutput(prompt) : buildEchoOutput(lastUserText(request)),
  };
}

/** The simulated model's own words when a `refusal` fault is injected. */
export const SIMULATED_REFUSAL =
  'Simulated refusal (injected fault): the simulated model declines this request.';

/**
 * The answer to a request of the given role. An injected answer fault replaces it: a refusal, an
 * empty text, or (plans only) a malformed plan.
 */
export function answerFor(request: MessagesRequest, role: RequestRole, fault?: InjectedFault): Answer {
  if (fault?.kind === 'refusal') return { kind: 'refusal', text: SIMULATED_REFUSAL };
  if (fault?.kind === 'empty_output') return { kind: 'text', text: '' };
  const malformed = fault?.kind === 'malformed_plan' ? fault.variant : undefined;
  switch (role) {
    case 'plan':
      return planAnswer(request, malformed);
    case 'worker':
      return workerAnswer(request);
    case 'synthesis':
      return synthesisAnswer(request);
    case 'other':
      return { kind: 'text', text: buildEchoOutput(lastUserText(request)) };
  }
}
