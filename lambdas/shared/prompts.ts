import type { ModelMessage } from './model-gateway';
import type { Plan, PlannedSubtask } from './schemas';

/**
 * Prompts for the three model roles. Inputs are wrapped in XML-style tags so the model can tell the
 * caller's task apart from instructions (and so the simulated model can find them deterministically).
 */

export interface TaskInput {
  task: string;
  context: Record<string, unknown>;
}

const attribute = (value: string) =>
  value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function taskBlock({ task, context }: TaskInput): string {
  const contextBlock =
    Object.keys(context).length > 0 ? `\n<context>\n${JSON.stringify(context, null, 2)}\n</context>` : '';
  return `<task>\n${task}\n</task>${contextBlock}`;
}

export const ORCHESTRATOR_SYSTEM_PROMPT = `You are the orchestrator of an orchestrator-workers system.
Read the task and decide, for this task only, which subtasks are worth doing. Each subtask goes to a
separate worker that sees the original task and context but not the other workers' results; a final
step combines the results into one deliverable.

Choose subtasks that are distinct, non-overlapping and together cover what the task needs. Prefer
fewer, substantial subtasks over many thin ones. Give each a short kebab-case id, a type naming the
kind of work (for example research, analysis, comparison, variation, draft, review), a title and a
description precise enough for a worker to do it without asking questions. Use dependsOn only when a
subtask truly needs another's result; otherwise leave it empty. Never depend on an id that is not in
the plan, and never create a cycle.

Answer with the JSON object only.`;

export function planPrompt(input: TaskInput, bounds: { min: number; max: number }): ModelMessage[] {
  return [
    {
      role: 'user',
      content: `${taskBlock(input)}
<subtask_bounds min="${bounds.min}" max="${bounds.max}"/>

Plan between ${bounds.min} and ${bounds.max} subtasks for this task. In "analysis", say in two or
three sentences what the task needs and why these subtasks.`,
    },
  ];
}

/** The conversation for a repair attempt: the rejected answer, then what was wrong with it. */
export function planRepairPrompt(
  previous: ModelMessage[],
  rejectedAnswer: string,
  problems: readonly string[],
): ModelMessage[] {
  return [
    ...previous,
    { role: 'assistant', content: rejectedAnswer || '(empty answer)' },
    {
      role: 'user',
      content: `<validation_errors>
${problems.map((problem) => `- ${problem}`).join('\n')}
</validation_errors>

Your plan was rejected for the reasons above. Answer again with a complete, corrected plan as a JSON
object only.`,
    },
  ];
}

export const WORKER_SYSTEM_PROMPT = `You are a worker in an orchestrator-workers system. An orchestrator
has split a task into subtasks; you are given the whole task for context, the list of all subtasks so
you know what the others cover, and one assigned subtask. Do only your assigned subtask, thoroughly
and concretely, and do not repeat what other subtasks cover. Write in Markdown, starting directly
with the content (no preamble about being a worker).`;

export function workerPrompt(input: TaskInput, plan: Plan, subtask: PlannedSubtask): ModelMessage[] {
  const overview = plan.subtasks
    .map((other) => `- ${other.id}: ${other.title}${other.id === subtask.id ? ' (yours)' : ''}`)
    .join('\n');
  return [
    {
      role: 'user',
      content: `${taskBlock(input)}
<plan_overview>
${overview}
</plan_overview>
<assigned_subtask id="${attribute(subtask.id)}" type="${attribute(subtask.type)}" title="${attribute(subtask.title)}">
${subtask.description}
</assigned_subtask>`,
    },
  ];
}

export const SYNTHESIS_SYSTEM_PROMPT = `You are the synthesizer in an orchestrator-workers system.
Workers have each completed one subtask of a task. Combine their results into one coherent
deliverable that answers the original task: keep what is substantive, remove repetition, resolve
contradictions, and keep the structure the task calls for. If some subtasks failed, say briefly
which parts are missing instead of inventing them. Write in Markdown.`;

export interface SubtaskOutcome {
  id: string;
  title: string;
  status: 'SUCCEEDED' | 'FAILED' | 'PENDING' | 'RUNNING';
  output?: string;
  error?: { name: string; message: string };
}

export function synthesisPrompt(
  input: TaskInput,
  analysis: string,
  outcomes: readonly SubtaskOutcome[],
): ModelMessage[] {
  const results = outcomes.map((outcome) =>
    outcome.status === 'SUCCEEDED'
      ? `<result id="${attribute(outcome.id)}" title="${attribute(outcome.title)}" status="SUCCEEDED">\n${outcome.output ?? ''}\n</result>`
      : `<failed_subtask id="${attribute(outcome.id)}" title="${attribute(outcome.title)}" error="${attribute(
          outcome.error
            ? `${outcome.error.name}: ${outcome.error.message}`
            : `not completed (${outcome.status})`,
        )}"/>`,
  );
  return [
    {
      role: 'user',
      content: `${taskBlock(input)}
<plan_analysis>
${analysis}
</plan_analysis>
<subtask_results>
${results.join('\n')}
</subtask_results>

Combine these results into the final deliverable for the task.`,
    },
  ];
}
