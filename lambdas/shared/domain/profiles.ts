import * as z from 'zod';
import { ApprovalPolicySchema, BudgetSchema } from './budget';
import customProfile from '../../../profiles/custom.json';
import marketingProfile from '../../../profiles/marketing.json';
import projectProfile from '../../../profiles/project.json';
import researchProfile from '../../../profiles/research.json';

const prompt = z.string().min(20).max(8_000);

/** One profile file in `profiles/`: how a kind of job is planned, worked and synthesized. */
export const ProfileSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]{1,30}$/, 'must be a short lowercase name'),
    description: z.string().min(10).max(500),
    default: z.boolean(),
    subtasks: z
      .object({ min: z.number().int().min(1).max(100), max: z.number().int().min(1).max(100) })
      .strict(),
    /** Which optional plan fields the planner is asked for. */
    fields: z
      .object({ priority: z.boolean(), dependencies: z.boolean(), synthesisGuidance: z.boolean() })
      .strict(),
    orchestrator: z.object({ system: prompt }).strict(),
    /** Allowed subtask types, each with its own worker prompt. Absent: any type, one worker prompt. */
    subtaskTypes: z
      .record(
        z.string().regex(/^[a-z][a-z0-9-]{1,39}$/),
        z.object({ description: z.string().min(5).max(500), worker: prompt }).strict(),
      )
      .optional(),
    /** The worker prompt when the profile does not type its subtasks. */
    worker: prompt.optional(),
    synthesis: z
      .object({
        system: prompt,
        /** Put every subtask output, labelled, above the synthesis (e.g. marketing variations). */
        includeOutputs: z.boolean(),
      })
      .strict(),
    models: z
      .object({ orchestrator: z.string().min(1), worker: z.string().min(1), synthesis: z.string().min(1) })
      .partial()
      .strict()
      .optional(),
    maxTokens: z
      .object({
        orchestrator: z.number().int().min(256),
        worker: z.number().int().min(256),
        synthesis: z.number().int().min(256),
      })
      .partial()
      .strict()
      .optional(),
    /** Defaults for this profile's jobs whose request sets none (the deployment's apply otherwise). */
    approval: ApprovalPolicySchema.optional(),
    budget: BudgetSchema.optional(),
  })
  .strict()
  .refine((profile) => profile.subtasks.min <= profile.subtasks.max, {
    message: 'subtasks.min must not exceed subtasks.max',
    path: ['subtasks'],
  })
  .refine((profile) => profile.subtaskTypes !== undefined || profile.worker !== undefined, {
    message: 'a profile needs subtaskTypes or a worker prompt',
    path: ['worker'],
  });
export type Profile = z.infer<typeof ProfileSchema>;

/** Validates the profile files; a bad file fails at load (and so `cdk synth`) naming the file and field. */
export function loadProfiles(files: Record<string, unknown>): Profile[] {
  const profiles = Object.entries(files).map(([file, content]) => {
    const parsed = ProfileSchema.safeParse(content);
    if (!parsed.success) {
      const problems = parsed.error.issues.map(
        (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
      );
      throw new Error(`Invalid profile file profiles/${file}: ${problems.join('; ')}`);
    }
    if (`${parsed.data.name}.json` !== file)
      throw new Error(`Invalid profile file profiles/${file}: name must match the file name`);
    return parsed.data;
  });
  const defaults = profiles.filter((profile) => profile.default);
  if (defaults.length !== 1)
    throw new Error(`Exactly one profile must be the default; found ${defaults.length}`);
  return profiles;
}

/** Every profile, bundled into each function from `profiles/*.json`. */
export const PROFILES: readonly Profile[] = loadProfiles({
  'research.json': researchProfile,
  'marketing.json': marketingProfile,
  'project.json': projectProfile,
  'custom.json': customProfile,
});

export const PROFILE_NAMES = PROFILES.map((profile) => profile.name);
export const DEFAULT_PROFILE = PROFILES.find((profile) => profile.default)?.name ?? 'research';
/** The profile whose prompts come from the request's templates. */
export const CUSTOM_PROFILE = 'custom';

export function profileNamed(name: string): Profile {
  const profile = PROFILES.find((candidate) => candidate.name === name);
  if (!profile) throw new Error(`Unknown profile ${name}; known profiles: ${PROFILE_NAMES.join(', ')}`);
  return profile;
}

/** The worker prompt for a subtask type under a profile. */
export function workerPromptFor(profile: Profile, type: string): string {
  return (
    profile.subtaskTypes?.[type]?.worker ??
    profile.worker ??
    Object.values(profile.subtaskTypes ?? {})[0]?.worker ??
    ''
  );
}

// ---------------------------------------------------------------------------------------------
// Custom templates
// ---------------------------------------------------------------------------------------------

export const TEMPLATE_MAX_CHARS = 8_000;

export const TemplatesSchema = z
  .object({
    orchestrator: z.string().min(1).max(TEMPLATE_MAX_CHARS),
    worker: z.string().min(1).max(TEMPLATE_MAX_CHARS),
    synthesis: z.string().min(1).max(TEMPLATE_MAX_CHARS).optional(),
  })
  .strict();
export type Templates = z.infer<typeof TemplatesSchema>;

type TemplateName = keyof Templates;

/** Variables each template may use; `context.<field>` names a field of the request's context. */
const TEMPLATE_VARIABLES: Record<TemplateName, { allowed: string[]; required: string[] }> = {
  orchestrator: { allowed: ['task'], required: ['task'] },
  worker: {
    allowed: ['task', 'subtask.id', 'subtask.type', 'subtask.title', 'subtask.description'],
    required: ['subtask.description'],
  },
  synthesis: { allowed: ['task'], required: [] },
};

const VARIABLE = /\{\{\s*([^{}]*?)\s*\}\}/g;

export function templateVariables(template: string): string[] {
  return [...template.matchAll(VARIABLE)].map((match) => match[1] ?? '');
}

/**
 * Problems with a request's templates: unknown variables, context fields the request does not
 * provide, and required variables a template leaves out. Each names the template and the variable.
 */
export function templateProblems(
  templates: Templates,
  context: Record<string, unknown>,
): { path: string[]; message: string }[] {
  const problems: { path: string[]; message: string }[] = [];
  for (const name of ['orchestrator', 'worker', 'synthesis'] as const) {
    const template = templates[name];
    if (template === undefined) continue;
    const used = templateVariables(template);
    const { allowed, required } = TEMPLATE_VARIABLES[name];
    const unknown = used.filter(
      (variable) => !allowed.includes(variable) && !variable.startsWith('context.'),
    );
    const missingContext = used
      .filter((variable) => variable.startsWith('context.'))
      .filter((variable) => !(variable.slice('context.'.length) in context));
    const missingRequired = required.filter((variable) => !used.includes(variable));
    if (unknown.length > 0) {
      problems.push({
        path: ['templates', name],
        message: `unknown variables ${unknown.map((v) => `{{${v}}}`).join(', ')}; allowed: ${[...allowed, 'context.<field>'].map((v) => `{{${v}}}`).join(', ')}`,
      });
    }
    if (missingContext.length > 0) {
      problems.push({
        path: ['templates', name],
        message: `variables ${missingContext.map((v) => `{{${v}}}`).join(', ')} name context fields the request does not provide`,
      });
    }
    if (missingRequired.length > 0) {
      problems.push({
        path: ['templates', name],
        message: `must use ${missingRequired.map((v) => `{{${v}}}`).join(', ')}`,
      });
    }
  }
  return problems;
}

/** Fills a template's variables. Templates are validated first, so every variable has a value. */
export function renderTemplate(template: string, values: Record<string, unknown>): string {
  return template.replace(VARIABLE, (_, name: string) => {
    const path = name.trim().split('.');
    let value: unknown = values;
    for (const key of path)
      value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    return typeof value === 'string' ? value : JSON.stringify(value ?? '');
  });
}

/** A profile as `GET /profiles` and `npm start -- --list-profiles` show it. */
export interface ProfileSummary {
  name: string;
  description: string;
  default: boolean;
  subtasks: { min: number; max: number };
  subtaskTypes: { name: string; description: string }[] | null;
  /** For the custom profile: the variables each template may use, and those it must. */
  templates: Record<TemplateName, { allowed: string[]; required: string[] }> | null;
}

export function profileSummaries(): ProfileSummary[] {
  return PROFILES.map((profile) => ({
    name: profile.name,
    description: profile.description,
    default: profile.default,
    subtasks: profile.subtasks,
    subtaskTypes: profile.subtaskTypes
      ? Object.entries(profile.subtaskTypes).map(([name, type]) => ({ name, description: type.description }))
      : null,
    templates:
      profile.name === CUSTOM_PROFILE
        ? (Object.fromEntries(
            Object.entries(TEMPLATE_VARIABLES).map(([name, variables]) => [
              name,
              { allowed: [...variables.allowed, 'context.<field>'], required: variables.required },
            ]),
          ) as ProfileSummary['templates'])
        : null,
  }));
}
