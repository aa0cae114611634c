import { type Plan, PlanSchema } from '../shared/domain/schemas';

export interface PlanBounds {
  /** Fewest subtasks a valid plan may have. */
  min: number;
  /** Most subtasks a valid plan may have (the Map fans out to this many workers). */
  max: number;
}

/**
 * Most bytes a plan may take as JSON. The plan lives in the job's DynamoDB item next to the task,
 * context and templates, and the whole item must stay under DynamoDB's 400 KB limit.
 */
export const PLAN_MAX_BYTES = 120_000;

export type PlanValidation = { ok: true; plan: Plan } | { ok: false; problems: string[] };

/** Models sometimes wrap JSON in a Markdown fence even when asked not to; accept that, nothing looser. */
function stripCodeFence(text: string): string {
  const fenced = /^```(?:json)?\s*\n([\s\S]*?)\n```$/.exec(text.trim());
  return fenced?.[1] ?? text.trim();
}

/**
 * The validation gate between the orchestrator model and the rest of the workflow: the answer must be
 * JSON, match the plan schema, and describe a runnable plan (bounded size, unique ids, known
 * dependencies, no cycles). Problems are phrased so they can be sent back to the model for repair.
 */
export function validatePlan(
  answer: string,
  bounds: PlanBounds,
  allowedTypes?: readonly string[],
): PlanValidation {
  let json: unknown;
  try {
    json = JSON.parse(stripCodeFence(answer));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, problems: [`The answer is not valid JSON (${reason}).`] };
  }

  const parsed = PlanSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    };
  }
  const plan = parsed.data;
  const problems: string[] = [];
  const bytes = Buffer.byteLength(JSON.stringify(plan));
  if (bytes > PLAN_MAX_BYTES) {
    problems.push(
      `The plan is ${bytes} bytes of JSON; it must be at most ${PLAN_MAX_BYTES}: write shorter descriptions.`,
    );
  }
  const count = plan.subtasks.length;
  if (count < bounds.min || count > bounds.max) {
    problems.push(`The plan has ${count} subtasks; it must have between ${bounds.min} and ${bounds.max}.`);
  }

  if (allowedTypes) {
    for (const subtask of plan.subtasks.filter((candidate) => !allowedTypes.includes(candidate.type))) {
      problems.push(
        `Subtask "${subtask.id}" has type "${subtask.type}"; the type must be one of: ${allowedTypes.join(', ')}.`,
      );
    }
  }

  const ids = plan.subtasks.map((subtask) => subtask.id);
  const duplicates = [...new Set(ids.filter((id, index) => ids.indexOf(id) !== index))];
  if (duplicates.length > 0) problems.push(`Subtask ids must be unique; repeated: ${duplicates.join(', ')}.`);

  const known = new Set(ids);
  for (const subtask of plan.subtasks) {
    const unknown = subtask.dependsOn.filter((dependency) => !known.has(dependency));
    if (unknown.length > 0) {
      problems.push(`Subtask "${subtask.id}" depends on unknown ids: ${unknown.join(', ')}.`);
    }
    if (subtask.dependsOn.includes(subtask.id)) problems.push(`Subtask "${subtask.id}" depends on itself.`);
  }

  const cycle = duplicates.length === 0 ? findCycle(plan) : undefined;
  if (cycle) problems.push(`Dependencies form a cycle: ${cycle.join(' -> ')}.`);

  return problems.length > 0 ? { ok: false, problems } : { ok: true, plan };
}

/** Returns one dependency cycle as a path of ids (first id repeated at the end), if there is any. */
export function findCycle(plan: Plan): string[] | undefined {
  const dependencies = new Map(plan.subtasks.map((subtask) => [subtask.id, subtask.dependsOn]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];

  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'visiting');
    path.push(id);
    for (const next of dependencies.get(id) ?? []) {
      if (!dependencies.has(next)) continue;
      const found = visit(next);
      if (found) return found;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };

  for (const id of dependencies.keys()) {
    const found = visit(id);
    if (found) return found;
  }
  return undefined;
}
