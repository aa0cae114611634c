import type { ModelMessage } from './gateway';
import { type Profile, renderTemplate, type Templates, workerPromptFor } from '../domain/profiles';
import type { Plan, PlannedSubtask } from '../domain/schemas';

/**
 * Prompts for the three model roles, shaped by the job's profile. Inputs are wrapped in XML-style
 * tags so the model can tell the caller's material from instructions (and so the simulated model
 * can find them deterministically).
 */

export interface TaskInput {
  task: string;
  context: Record<string, unknown>;
  /** The custom profile's templates, when the job uses it. */
  templates?: Templates | undefined;
}

const attribute = (value: string) =>
  value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function taskBlock({ task, context }: TaskInput): string {
  const contextBlock =
    Object.keys(context).length > 0 ? `\n<context>\n${JSON.stringify(context, null, 2)}\n</context>` : '';
  return `<task>\n${task}\n</task>${contextBlock}`;
}

function instructionsBlock(template: string | undefined, values: Record<string, unknown>): string {
  return template === undefined
    ? ''
    : `\n<instructions>\n${renderTemplate(template, values)}\n</instructions>`;
}

export const orchestratorSystemPrompt = (profile: Profile) => profile.orchestrator.system;

function planFieldGuidance(profile: Profile): string {
  const lines: string[] = [];
  if (profile.subtaskTypes) {
    lines.push(`Every subtask's type must be one of: ${Object.keys(profile.subtaskTypes).join(', ')}.`);
  }
  if (profile.fields.priority) lines.push('Give every subtask a priority from 1 (low) to 5 (urgent).');
  if (!profile.fields.dependencies) lines.push('The subtasks are independent: leave every dependsOn empty.');
  if (profile.fields.synthesisGuidance) {
    lines.push(
      'Fill synthesisGuidance: how the final deliverable should be structured and what it should emphasise.',
    );
  }
  return lines.join('\n');
}

export function planPrompt(
  input: TaskInput,
  profile: Profile,
  bounds: { min: number; max: number },
): ModelMessage[] {
  const types = profile.subtaskTypes
    ? `\n<subtask_types>\n${Object.entries(profile.subtaskTypes)
        .map(([name, type]) => `<subtask_type name="${attribute(name)}">${type.description}</subtask_type>`)
        .join('\n')}\n</subtask_types>`
    : '';
  return [
    {
      role: 'user',
      content:
        `${taskBlock(input)}${instructionsBlock(input.templates?.orchestrator, { task: input.task, context: input.context })}${types}
<subtask_bounds min="${bounds.min}" max="${bounds.max}"/>

Plan between ${bounds.min} and ${bounds.max} subtasks for this task. In "analysis", say in two or
three sentences what the task needs and why these subtasks.
${planFieldGuidance(profile)}`.trimEnd(),
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

const WORKER_FRAME = `You are one worker in an orchestrator-workers system: you see the whole task for
context, the list of all subtasks so you know what the others cover, the results of the subtasks
yours depends on (if any), and your assigned subtask. Do only your assigned subtask and do not repeat
what the others cover.`;

/**
 * One system prompt for every worker of a job, so it can open the prefix they share (prompt
 * caching). When the plan's subtask types call for different roles, it lists them all and the
 * assigned subtask's type picks one.
 */
export function workerSystemPrompt(profile: Profile, plan: Plan): string {
  const roles = new Map<string, string>();
  for (const { type } of plan.subtasks) roles.set(type, workerPromptFor(profile, type));
  const distinct = new Set(roles.values());
  if (distinct.size <= 1) return `${[...distinct][0] ?? workerPromptFor(profile, '')}\n\n${WORKER_FRAME}`;
  const roleList = [...roles]
    .map(([type, prompt]) => `<role type="${attribute(type)}">\n${prompt}\n</role>`)
    .join('\n');
  return `Each worker takes the role for its assigned subtask's type:\n${roleList}\nTake the role whose type matches your assigned subtask's type.\n\n${WORKER_FRAME}`;
}

export interface DependencyResult {
  id: string;
  title: string;
  output: string;
}

/**
 * The worker's turn in two blocks. The first (task, context, plan overview) is the same for every
 * worker of the job and carries the cache breakpoint, so after the first worker the others read it
 * (with the system prompt) from the prompt cache; the second is this subtask's own part.
 */
export function workerPrompt(
  input: TaskInput,
  plan: Plan,
  subtask: PlannedSubtask,
  dependencies: readonly DependencyResult[] = [],
): ModelMessage[] {
  const overview = plan.subtasks.map((other) => `- ${other.id}: ${other.title}`).join('\n');
  const dependencyBlock =
    dependencies.length > 0
      ? `<dependency_results>\n${dependencies
          .map(
            (dependency) =>
              `<result id="${attribute(dependency.id)}" title="${attribute(dependency.title)}">\n${dependency.output}\n</result>`,
          )
          .join('\n')}\n</dependency_results>\n`
      : '';
  const instructions = instructionsBlock(input.templates?.worker, {
    task: input.task,
    context: input.context,
    subtask,
  }).trimStart();
  return [
    {
      role: 'user',
      content: [
        {
          text: `${taskBlock(input)}\n<plan_overview>\n${overview}\n</plan_overview>`,
          cacheBreakpoint: true,
        },
        {
          text: `${instructions ? `${instructions}\n` : ''}${dependencyBlock}<assigned_subtask id="${attribute(subtask.id)}" type="${attribute(subtask.type)}" title="${attribute(subtask.title)}">
${subtask.description}
</assigned_subtask>`,
        },
      ],
    },
  ];
}

export const synthesisSystemPrompt = (profile: Profile) => profile.synthesis.system;

export interface SubtaskOutcome {
  id: string;
  title: string;
  status: 'SUCCEEDED' | 'FAILED' | 'PENDING' | 'RUNNING';
  output?: string | undefined;
  error?: { name: string; message: string } | undefined;
  /** `max_tokens` marks an output that was cut off. */
  stopReason?: string | undefined;
}

export function synthesisPrompt(
  input: TaskInput,
  plan: Plan,
  outcomes: readonly SubtaskOutcome[],
): ModelMessage[] {
  const results = outcomes.map((outcome) =>
    outcome.status === 'SUCCEEDED'
      ? `<result id="${attribute(outcome.id)}" title="${attribute(outcome.title)}" status="SUCCEEDED"${
          outcome.stopReason === 'max_tokens' ? ' truncated="true"' : ''
        }>\n${outcome.output ?? ''}\n</result>`
      : `<failed_subtask id="${attribute(outcome.id)}" title="${attribute(outcome.title)}" error="${attribute(
          outcome.error
            ? `${outcome.error.name}: ${outcome.error.message}`
            : `not completed (${outcome.status})`,
        )}"/>`,
  );
  const guidance = plan.synthesisGuidance
    ? `\n<synthesis_guidance>\n${plan.synthesisGuidance}\n</synthesis_guidance>`
    : '';
  return [
    {
      role: 'user',
      content: `${taskBlock(input)}${instructionsBlock(input.templates?.synthesis, { task: input.task, context: input.context })}
<plan_analysis>
${plan.analysis}
</plan_analysis>${guidance}
<subtask_results>
${results.join('\n')}
</subtask_results>

Combine these results into the final deliverable for the task.${
        outcomes.some((outcome) => outcome.stopReason === 'max_tokens')
          ? ' Results marked truncated="true" were cut off at the length limit: use what they say, and do not guess how they would have ended.'
          : ''
      }`,
    },
  ];
}

/** For profiles that keep every output (marketing): each one under its title, above the synthesis. */
export function labelledOutputs(outcomes: readonly SubtaskOutcome[]): string {
  return outcomes
    .filter((outcome) => outcome.status === 'SUCCEEDED')
    .map((outcome) => `## ${outcome.title}\n\n${(outcome.output ?? '').trim()}`)
    .join('\n\n');
}
