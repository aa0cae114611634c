/**
 * Deterministic text the simulated model answers with. Pure functions only: prompt text in,
 * plan / worker / synthesis text out, so each can be tested without HTTP.
 *
 * Nothing here is real generation. Every answer says it is simulated, and the choices it makes
 * (task kind, number of subtasks, angles) come from keywords and a hash of the prompt.
 */
import { hashString } from './random';

/** Last line of every synthesis, and part of every other answer's marker. */
export const SIMULATED_FOOTER =
  '_Produced by the simulated model, a local test double: not real generation._';

/** The ways a `malformed_plan` fault can break a plan. */
export const MALFORMED_PLAN_VARIANTS = [
  'not_json',
  'wrong_schema',
  'duplicate_ids',
  'cycle',
  'unknown_dependency',
  'too_many',
  'empty',
] as const;

/** One way to break a plan, see {@link MALFORMED_PLAN_VARIANTS}. */
export type MalformedPlanVariant = (typeof MALFORMED_PLAN_VARIANTS)[number];

/** How a task is read: marketing copy, a build project, or a question to research. */
export type TaskKind = 'product' | 'project' | 'research';

/** Free-form context object passed in `<context>{json}</context>`. */
export type TaskContext = Record<string, unknown>;

/** Inclusive bounds on the number of subtasks, from `<subtask_bounds min=".." max=".."/>`. */
export interface SubtaskBounds {
  min: number;
  max: number;
}

/** One subtask of a plan, in the shape the orchestrator validates. */
export interface PlannedSubtask {
  id: string;
  type: string;
  title: string;
  description: string;
  dependsOn: string[];
  /** 1 (low) to 5 (urgent). */
  priority?: number;
}

/** The orchestrator's plan. */
export interface Plan {
  analysis: string;
  subtasks: PlannedSubtask[];
  synthesisGuidance?: string;
}

/** What the planner reads from the conversation. */
export interface PlanPrompt {
  task: string;
  context: TaskContext;
  bounds: SubtaskBounds;
  /** True when the last user turn starts with `<validation_errors>`. */
  isRepair: boolean;
  /** The types a `<subtask_types>` block allows (a job profile's), if the prompt has one. */
  allowedTypes?: string[];
}

/** The subtask a worker is asked to write. */
export interface AssignedSubtask {
  id: string;
  type: string;
  title: string;
  description: string;
}

/** What a worker reads from its prompt. */
export interface WorkerPrompt {
  task: string;
  context: TaskContext;
  subtask: AssignedSubtask;
  /** Titles of the `<dependency_results>` the worker was given. */
  dependencyTitles?: string[];
  /** The caller's `<instructions>` (a custom profile's rendered worker template). */
  instructions?: string;
}

/** A `<result>` entry given to the synthesis call. */
export interface SubtaskResult {
  id: string;
  title: string;
  status: string;
  output: string;
}

/** A `<failed_subtask/>` entry given to the synthesis call. */
export interface FailedSubtask {
  id: string;
  title: string;
  error: string;
}

/** What the synthesis call reads from its prompt. */
export interface SynthesisPrompt {
  task: string;
  results: SubtaskResult[];
  failed: FailedSubtask[];
  /** The planner's `<synthesis_guidance>`, if any. */
  guidance?: string;
}

/** Bounds used when the prompt has no `<subtask_bounds/>`. */
export const DEFAULT_BOUNDS: SubtaskBounds = { min: 2, max: 6 };

// ---------------------------------------------------------------------------------------------
// Prompt parsing
// ---------------------------------------------------------------------------------------------

const XML_ENTITIES: Record<string, string> = {
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&apos;': "'",
  '&amp;': '&',
};

function unescapeXml(text: string): string {
  return text.replace(/&(?:lt|gt|quot|apos|amp);/g, (entity) => XML_ENTITIES[entity] ?? entity);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Raw body of the first `<tag ...>body</tag>`, or null. The lookahead keeps `<task>` from matching `<task_x>`. */
function findTag(text: string, tag: string): string | null {
  const match = new RegExp(`<${tag}(?=[\\s>])[^>]*>([\\s\\S]*?)</${tag}>`).exec(text);
  return match?.[1] ?? null;
}

/** Trimmed, unescaped body of the first `<tag>...</tag>` in `text`, or null when absent. */
export function extractTag(text: string, tag: string): string | null {
  const body = findTag(text, tag);
  return body === null ? null : unescapeXml(body.trim());
}

function parseAttributes(source: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const [, name, value] of source.matchAll(/([\w-]+)="([^"]*)"/g)) {
    if (name !== undefined && value !== undefined) attributes[name] = unescapeXml(value);
  }
  return attributes;
}

function parseContext(text: string): TaskContext {
  const raw = extractTag(text, 'context');
  if (raw === null) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    return isRecord(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

function parsePositiveInt(value: string | undefined): number | undefined {
  const parsed = Number(value);
  return Number.isInteger(parsed) && parsed > 0 ? parsed : undefined;
}

function parseBounds(text: string): SubtaskBounds {
  const tag = /<subtask_bounds\s([^>]*?)\/?>/.exec(text);
  const attributes = parseAttributes(tag?.[1] ?? '');
  return {
    min: parsePositiveInt(attributes.min) ?? DEFAULT_BOUNDS.min,
    max: parsePositiveInt(attributes.max) ?? DEFAULT_BOUNDS.max,
  };
}

/**
 * Reads the planner's inputs from the user turns of a conversation: the task, context and bounds
 * from wherever they first appear, and whether the last turn is a repair request.
 */
export function parsePlanPrompt(userMessages: readonly string[]): PlanPrompt {
  const all = userMessages.join('\n');
  const last = userMessages.at(-1) ?? '';
  const typesBlock = findTag(all, 'subtask_types');
  const allowedTypes = typesBlock
    ? [...typesBlock.matchAll(/<subtask_type\s([^>]*)>/g)]
        .map((match) => parseAttributes(match[1] ?? '').name ?? '')
        .filter(Boolean)
    : [];
  return {
    task: extractTag(all, 'task') ?? all.trim(),
    context: parseContext(all),
    bounds: parseBounds(all),
    isRepair: last.trimStart().startsWith('<validation_errors>'),
    ...(allowedTypes.length > 0 ? { allowedTypes } : {}),
  };
}

/** Reads a worker prompt, or returns null when there is no `<assigned_subtask>`. */
export function parseWorkerPrompt(text: string): WorkerPrompt | null {
  const match = /<assigned_subtask\s([^>]*)>([\s\S]*?)<\/assigned_subtask>/.exec(text);
  if (!match) return null;
  const attributes = parseAttributes(match[1] ?? '');
  const dependencyBlock = findTag(text, 'dependency_results');
  const dependencyTitles = dependencyBlock
    ? [...dependencyBlock.matchAll(/<result\s([^>]*)>/g)].map((m) => parseAttributes(m[1] ?? '').title ?? '')
    : [];
  const instructions = extractTag(text, 'instructions');
  return {
    task: extractTag(text, 'task') ?? '',
    context: parseContext(text),
    ...(dependencyTitles.length > 0 ? { dependencyTitles } : {}),
    ...(instructions ? { instructions } : {}),
    subtask: {
      id: attributes.id ?? 'subtask',
      type: attributes.type ?? 'general',
      title: attributes.title ?? attributes.id ?? 'Untitled subtask',
      description: unescapeXml((match[2] ?? '').trim()),
    },
  };
}

/** Reads a synthesis prompt, or returns null when there is no `<subtask_results>`. */
export function parseSynthesisPrompt(text: string): SynthesisPrompt | null {
  const block = findTag(text, 'subtask_results');
  if (block === null) return null;
  const results: SubtaskResult[] = [];
  const failed: FailedSubtask[] = [];
  for (const [, attributeText, body] of block.matchAll(/<result\s([^>]*)>([\s\S]*?)<\/result>/g)) {
    const attributes = parseAttributes(attributeText ?? '');
    const id = attributes.id ?? `result-${results.length + 1}`;
    const title = attributes.title ?? id;
    const status = attributes.status ?? 'SUCCEEDED';
    if (status === 'SUCCEEDED') results.push({ id, title, status, output: unescapeXml((body ?? '').trim()) });
    else failed.push({ id, title, error: `status ${status}` });
  }
  for (const [, attributeText] of block.matchAll(/<failed_subtask\s([^>]*?)\/?>/g)) {
    const attributes = parseAttributes(attributeText ?? '');
    const id = attributes.id ?? `failed-${failed.length + 1}`;
    failed.push({ id, title: attributes.title ?? id, error: attributes.error ?? 'unknown error' });
  }
  const guidance = extractTag(text, 'synthesis_guidance');
  return { task: extractTag(text, 'task') ?? '', results, failed, ...(guidance ? { guidance } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Reading the task
// ---------------------------------------------------------------------------------------------

const PRODUCT_WORDS =
  /\b(?:products?|descriptions?|marketing|copy|copywriting|ads?|adverts?|advertisement|launch|brand|branding|slogans?|taglines?|campaign|pitch|landing page)\b/gi;
const PROJECT_WORDS =
  /\b(?:build|implement|develop|migrate|migration|architecture|apps?|application|project|roadmap|system|platform|service|api|deploy|refactor|codebase|software|backend|frontend)\b/gi;

/** Classifies a task by keyword counts; ties between product and project go to product. */
export function classifyTask(task: string): TaskKind {
  const product = task.match(PRODUCT_WORDS)?.length ?? 0;
  const project = task.match(PROJECT_WORDS)?.length ?? 0;
  if (project > product) return 'project';
  return product > 0 ? 'product' : 'research';
}

const LEADING_POLITENESS = /^(?:(?:please|can you|could you|i need you to|i need to|help me)\s+)+/i;
const LEADING_VERB =
  /^(?:write|create|draft|generate|produce|compose|research|explain|describe|summari[sz]e|analy[sz]e|investigate|explore|compare|build|implement|develop|design|plan|migrate|make|outline|prepare|give me|tell me about)\s+/i;
const LEADING_ARTICLE = /^(?:an?|the|some|our|my)\s+/i;
const LEADING_DELIVERABLE =
  /^(?:[\w-]+\s+){0,3}?(?:descriptions?|copy|slogans?|taglines?|ads?|adverts?|posts?|article|overview|summary|report|guide|brief|pitch|announcement|email|campaign)\s+(?:for|of|about|on)\s+/i;
const MAX_TOPIC_LENGTH = 80;

/**
 * The subject of a task with the request wording stripped:
 * "Write a product description for a solar backpack." becomes "solar backpack".
 */
export function taskTopic(task: string): string {
  const stripped = [LEADING_POLITENESS, LEADING_VERB, LEADING_ARTICLE, LEADING_DELIVERABLE, LEADING_ARTICLE]
    .reduce((text, pattern) => text.replace(pattern, ''), task.trim().replace(/\s+/g, ' '))
    .replace(/[\s.!?:;,]+$/, '');
  return truncate(stripped || task.trim(), MAX_TOPIC_LENGTH);
}

function truncate(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  const cut = text.slice(0, maxLength);
  const lastSpace = cut.lastIndexOf(' ');
  return `${(lastSpace > maxLength / 2 ? cut.slice(0, lastSpace) : cut).trimEnd()}…`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Longest context value quoted in a plan or an answer: a long document is named, not copied (a description holds 4,000 characters). */
const CONTEXT_VALUE_MAX_CHARS = 120;

function formatContext(context: TaskContext): string {
  return Object.entries(context)
    .map(([key, value]) => {
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      const shown =
        text.length > CONTEXT_VALUE_MAX_CHARS ? `${text.slice(0, CONTEXT_VALUE_MAX_CHARS).trimEnd()}…` : text;
      return `${key}: ${shown}`;
    })
    .join('; ');
}

function contextSentence(context: TaskContext): string {
  const formatted = formatContext(context);
  return formatted ? ` Take the given context into account (${formatted}).` : '';
}

// ---------------------------------------------------------------------------------------------
// Plans
// ---------------------------------------------------------------------------------------------

/** `count` items taken in order from `start`, wrapping; `round` counts how often each item was used before. */
function rotate<T>(items: readonly T[], start: number, count: number): Array<{ item: T; round: number }> {
  return Array.from({ length: count }, (_, index) => ({
    item: items[(start + index) % items.length] as T,
    round: Math.floor(index / items.length),
  }));
}

function withRound(id: string, round: number): string {
  return round === 0 ? id : `${id}-${round + 1}`;
}

function clampCount(preferred: number, bounds: SubtaskBounds): number {
  return Math.max(1, Math.min(bounds.max, Math.max(bounds.min, preferred)));
}

const PRODUCT_APPROACHES = [
  { name: 'technical', focus: 'specifications, materials and how it works' },
  { name: 'lifestyle', focus: "how it fits into the reader's everyday life" },
  { name: 'practical', focus: 'everyday use, care and value for money' },
  { name: 'emotional', focus: 'the feelings and the story behind it' },
  { name: 'sustainability', focus: 'environmental impact and responsible sourcing' },
  { name: 'minimalist', focus: 'only the essentials, in as few words as possible' },
  { name: 'storytelling', focus: 'a short narrative of someone using it' },
  { name: 'comparison', focus: 'what sets it apart from the alternatives' },
] as const;

function productSubtasks(prompt: PlanPrompt, topic: string, count: number, hash: number): PlannedSubtask[] {
  return rotate(PRODUCT_APPROACHES, hash >>> 8, count).map(({ item, round }) => ({
    id: withRound(`${item.name}-variation`, round),
    type: 'variation',
    title: `${capitalize(item.name)} take on ${topic}`,
    description: `Write a ${item.name} version for ${topic}, focusing on ${item.focus}.${contextSentence(prompt.context)}`,
    dependsOn: [],
  }));
}

const IMPLEMENTATION_AREAS = [
  { id: 'core', phrase: 'core features' },
  { id: 'integration', phrase: 'integrations and external interfaces' },
  { id: 'data', phrase: 'data model and storage' },
  { id: 'interface', phrase: 'user-facing interface' },
  { id: 'testing', phrase: 'automated tests' },
  { id: 'operations', phrase: 'deployment and operations' },
] as const;

type ProjectStep = Omit<PlannedSubtask, 'dependsOn'>;

function researchStep(topic: string, context: TaskContext): ProjectStep {
  return {
    id: 'requirements-research',
    type: 'research',
    title: `Research requirements for ${topic}`,
    description: `Collect the requirements, constraints and prior art for ${topic}.${contextSentence(context)}`,
  };
}

function architectureStep(topic: string): ProjectStep {
  return {
    id: 'architecture-design',
    type: 'architecture',
    title: `Design the architecture of ${topic}`,
    description: `Split ${topic} into components, choose the technologies and define how the parts interact.`,
  };
}

function implementationSteps(topic: string, count: number): ProjectStep[] {
  if (count === 1) {
    return [
      {
        id: 'implementation',
        type: 'implementation',
        title: `Implement ${topic}`,
        description: `Describe how ${topic} is built, step by step.`,
      },
    ];
  }
  return rotate(IMPLEMENTATION_AREAS, 0, count).map(({ item, round }) => ({
    id: withRound(`${item.id}-implementation`, round),
    type: 'implementation',
    title: `Implement the ${item.phrase} of ${topic}`,
    description: `Describe how the ${item.phrase} of ${topic} are built, step by step.`,
  }));
}

function reviewStep(topic: string): ProjectStep {
  return {
    id: 'quality-review',
    type: 'review',
    title: `Review ${topic}`,
    description: `Check the work on ${topic} against its requirements and list the risks and open issues.`,
  };
}

/** Project steps grouped in stages; each step depends on every step of the stage before. */
function projectStages(prompt: PlanPrompt, topic: string, count: number): ProjectStep[][] {
  if (count === 1) return [implementationSteps(topic, 1)];
  const research = [researchStep(topic, prompt.context)];
  if (count === 2) return [research, implementationSteps(topic, 1)];
  if (count === 3) return [research, implementationSteps(topic, 1), [reviewStep(topic)]];
  return [research, [architectureStep(topic)], implementationSteps(topic, count - 3), [reviewStep(topic)]];
}

function projectSubtasks(prompt: PlanPrompt, topic: string, count: number): PlannedSubtask[] {
  const stages = projectStages(prompt, topic, count);
  return stages.flatMap((stage, index) =>
    stage.map((step) => ({ ...step, dependsOn: (stages[index - 1] ?? []).map((previous) => previous.id) })),
  );
}

const RESEARCH_FACETS = [
  {
    id: 'current-state',
    type: 'research',
    title: 'Current state of {topic}',
    focus: 'recent developments and where things stand now',
  },
  {
    id: 'key-concepts',
    type: 'research',
    title: 'Key concepts behind {topic}',
    focus: 'the core ideas and the terms a reader needs',
  },
  {
    id: 'benefits-and-drawbacks',
    type: 'analysis',
    title: 'Benefits and drawbacks of {topic}',
    focus: 'the main trade-offs',
  },
  {
    id: 'practical-implications',
    type: 'analysis',
    title: 'Practical implications of {topic}',
    focus: 'what changes in practice and for whom',
  },
  {
    id: 'common-misconceptions',
    type: 'analysis',
    title: 'Misconceptions about {topic}',
    focus: 'common misunderstandings and their corrections',
  },
  {
    id: 'alternatives-compared',
    type: 'comparison',
    title: '{topic} compared with alternatives',
    focus: 'the main alternatives and how they differ',
  },
  {
    id: 'approaches-compared',
    type: 'comparison',
    title: 'Competing approaches to {topic}',
    focus: 'the competing schools of thought',
  },
] as const;

function researchSubtasks(prompt: PlanPrompt, topic: string, count: number, hash: number): PlannedSubtask[] {
  const background: PlannedSubtask = {
    id: 'background',
    type: 'research',
    title: `Background of ${topic}`,
    description: `Summarise the origins, definitions and key facts of ${topic}.${contextSentence(prompt.context)}`,
    dependsOn: [],
  };
  const facets = rotate(RESEARCH_FACETS, hash >>> 8, count - 1).map(({ item, round }) => ({
    id: withRound(item.id, round),
    type: item.type,
    title: capitalize(item.title.replace('{topic}', topic)),
    description: `Cover ${item.focus} for ${topic}, with sources a reader could check.`,
    // Analysis and comparison build on the background; plain research can run at once.
    dependsOn: item.type === 'research' ? [] : [background.id],
  }));
  return [background, ...facets];
}

function describeTypes(subtasks: readonly PlannedSubtask[]): string {
  return [...new Set(subtasks.map((subtask) => subtask.type))].join(', ');
}

function planReason(kind: TaskKind, subtasks: readonly PlannedSubtask[]): string {
  const types = describeTypes(subtasks);
  switch (kind) {
    case 'product': {
      const approaches = subtasks.map((subtask) => subtask.id.replace(/-variation.*$/, '')).join(', ');
      return `reads as product or marketing copy, so it asks for ${subtasks.length} independent variations (${approaches}) that can be written in parallel and compared`;
    }
    case 'project':
      return `reads as a build project, so it follows a ${types} chain where each stage depends on the one before`;
    case 'research':
      return `reads as a research question, so it is split into ${subtasks.length} subtasks (${types}) that start from the background`;
  }
}

function analysisFor(kind: TaskKind, prompt: PlanPrompt, topic: string, subtasks: PlannedSubtask[]): string {
  const repair = prompt.isRepair ? ' It is a corrected plan issued after validation errors.' : '';
  return `Simulated plan from a local test double, not real reasoning: "${topic}" ${planReason(kind, subtasks)}.${repair}`;
}

const PREFERRED_COUNTS: Record<TaskKind, (hash: number) => number> = {
  product: (hash) => 2 + (hash % 2),
  project: (hash) => 3 + (hash % 3),
  research: (hash) => 3 + (hash % 4),
};

/**
 * The plan for a task. The kind picks the subtask types, a hash of the task picks the count and
 * the angles, and the count always stays within the prompt's bounds.
 */
export function buildPlan(prompt: PlanPrompt): Plan {
  const kind = kindFor(prompt);
  const topic = taskTopic(prompt.task);
  const hash = hashString(prompt.task.trim().toLowerCase());
  const count = clampCount(PREFERRED_COUNTS[kind](hash), prompt.bounds);
  const subtasks =
    kind === 'product'
      ? productSubtasks(prompt, topic, count, hash)
      : kind === 'project'
        ? projectSubtasks(prompt, topic, count)
        : researchSubtasks(prompt, topic, count, hash);
  const typed = subtasks.map((subtask, index) => ({
    ...subtask,
    type: allowedType(subtask.type, prompt.allowedTypes, index),
    priority: PRIORITY_BY_TYPE[subtask.type] ?? 3,
  }));
  return {
    analysis: analysisFor(kind, prompt, topic, typed),
    subtasks: typed,
    synthesisGuidance: `Open with a short summary of ${topic}, then one section per subtask in plan order, and end with the key takeaways.`,
  };
}

/** A profile's allowed types decide the kind of plan; without them, the task's words do. */
function kindFor(prompt: PlanPrompt): TaskKind {
  const allowed = prompt.allowedTypes ?? [];
  if (allowed.includes('variation')) return 'product';
  if (allowed.some((type) => Object.values(PROJECT_ROLES).includes(type))) return 'project';
  if (allowed.length > 0) return 'research';
  return classifyTask(prompt.task);
}

/** Project steps by role, for profiles that name roles as types. */
const PROJECT_ROLES: Record<string, string> = {
  research: 'researcher',
  architecture: 'architect',
  implementation: 'developer',
  review: 'reviewer',
};
const PRIORITY_BY_TYPE: Record<string, number> = {
  research: 5,
  architecture: 4,
  implementation: 3,
  review: 2,
  variation: 3,
};

function allowedType(type: string, allowed: readonly string[] | undefined, index: number): string {
  if (!allowed || allowed.includes(type)) return type;
  const role = PROJECT_ROLES[type];
  if (role && allowed.includes(role)) return role;
  return allowed[index % allowed.length] ?? type;
}

/** Renders a plan the way the model returns it: JSON text. */
export function renderPlan(plan: Plan): string {
  return JSON.stringify(plan, null, 2);
}

function withDuplicateId(plan: Plan): Plan {
  const [first, ...rest] = plan.subtasks;
  if (!first) return plan;
  const last = rest.at(-1) ?? first;
  // Renaming the last subtask (and dropping links to its old id) breaks uniqueness and nothing else.
  const renamed = { ...last, id: first.id, dependsOn: [] };
  const others = plan.subtasks.slice(0, rest.length === 0 ? 1 : -1).map((subtask) => ({
    ...subtask,
    dependsOn: subtask.dependsOn.filter((id) => id !== last.id),
  }));
  return { ...plan, subtasks: [...others, renamed] };
}

function withCycle(plan: Plan): Plan {
  const first = plan.subtasks[0];
  const last = plan.subtasks.at(-1);
  if (!first || !last) return plan;
  return {
    ...plan,
    subtasks: plan.subtasks.map((subtask) => {
      if (subtask === first) return { ...subtask, dependsOn: [...subtask.dependsOn, last.id] };
      if (subtask === last) return { ...subtask, dependsOn: [...new Set([...subtask.dependsOn, first.id])] };
      return subtask;
    }),
  };
}

function withUnknownDependency(plan: Plan): Plan {
  return {
    ...plan,
    subtasks: plan.subtasks.map((subtask, index) =>
      index === 0 ? { ...subtask, dependsOn: [...subtask.dependsOn, 'missing-prerequisite'] } : subtask,
    ),
  };
}

function wrongSchemaText(plan: Plan): string {
  const steps = plan.subtasks.map((subtask) => ({ name: subtask.title, kind: subtask.type, after: 'none' }));
  return JSON.stringify({ summary: plan.analysis, steps }, null, 2);
}

/**
 * A plan broken in the way `variant` names, for fault injection. Every other property of the
 * plan stays valid, so a validator sees exactly one kind of error.
 */
export function buildMalformedPlan(prompt: PlanPrompt, variant: MalformedPlanVariant): string {
  const valid = buildPlan(prompt);
  switch (variant) {
    case 'not_json':
      return `Simulated plan (malformed on purpose): ${renderPlan(valid).slice(0, 120)}`;
    case 'wrong_schema':
      return wrongSchemaText(valid);
    case 'duplicate_ids':
      return renderPlan(withDuplicateId(valid));
    case 'cycle':
      return renderPlan(withCycle(valid));
    case 'unknown_dependency':
      return renderPlan(withUnknownDependency(valid));
    case 'too_many': {
      const count = prompt.bounds.max + 2;
      return renderPlan(buildPlan({ ...prompt, bounds: { min: count, max: count } }));
    }
    case 'empty':
      return renderPlan({ ...valid, subtasks: [] });
  }
}

// ---------------------------------------------------------------------------------------------
// Worker and synthesis outputs
// ---------------------------------------------------------------------------------------------

const TYPE_OPENINGS: Record<string, readonly string[]> = {
  variation: [
    'This {type} presents {topic} from one distinct angle, so it can be set side by side with the others.',
    'A self-contained {type} on {topic}: one voice and one angle, ready to be compared.',
  ],
  research: [
    'This {type} note gathers what matters about {topic} before anything is concluded.',
    'Here the facts about {topic} are collected and sorted by relevance, as a {type} subtask.',
  ],
  analysis: [
    'This {type} weighs what the findings about {topic} mean in practice.',
    'An {type} of {topic}: what follows from the facts, and for whom.',
  ],
  comparison: [
    'This {type} sets {topic} against its alternatives on the same criteria.',
    'A side-by-side {type}: {topic} and the options a reader would also consider.',
  ],
  architecture: [
    'This {type} outline decides how {topic} is split into parts and how they interact.',
    'An {type} sketch for {topic}: components, boundaries and the data flowing between them.',
  ],
  implementation: [
    'This {type} plan turns the design for {topic} into concrete, ordered steps.',
    'The {type} steps for {topic}, in the order they would be built.',
  ],
  review: [
    'This {type} checks {topic} against its requirements and lists what still needs work.',
    'A {type} of {topic}: what holds up, what is risky, and what is missing.',
  ],
};
const DEFAULT_OPENINGS = [
  'This section addresses {topic} as a {type} subtask.',
  'A {type} contribution on {topic}, scoped to this subtask only.',
];

function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (placeholder, name: string) => values[name] ?? placeholder);
}

function pick<T>(items: readonly T[], hash: number): T {
  return items[hash % items.length] as T;
}

/**
 * Markdown for one subtask: a simulated-output marker, a heading with the subtask title, and a
 * paragraph and bullets naming the task's topic, the subtask type and any context fields.
 */
export function buildWorkerOutput(prompt: WorkerPrompt): string {
  const { subtask } = prompt;
  const topic = prompt.task ? taskTopic(prompt.task) : subtask.title;
  const hash = hashString(
    [prompt.task, subtask.id, subtask.type, subtask.title, subtask.description].join('\n'),
  );
  const opening = fillTemplate(pick(TYPE_OPENINGS[subtask.type] ?? DEFAULT_OPENINGS, hash), {
    topic,
    type: subtask.type,
  });
  const context = formatContext(prompt.context);
  return [
    `*Simulated output (local test double) for subtask "${subtask.title}".*`,
    '',
    `## ${subtask.title}`,
    '',
    opening,
    '',
    `- Focus: ${truncate(subtask.description || subtask.title, 200)}`,
    `- Subtask: \`${subtask.id}\` (type ${subtask.type}) of the task on ${topic}`,
    ...(prompt.instructions
      ? [`- Instructions followed: ${truncate(prompt.instructions.replace(/\s+/g, ' '), 200)}`]
      : []),
    ...(prompt.dependencyTitles
      ? [`- Builds on: ${prompt.dependencyTitles.map((title) => `"${title}"`).join(', ')}`]
      : []),
    ...(context ? [`- Context considered: ${context}`] : []),
  ].join('\n');
}

/** The gist of a worker output: markers and headings dropped, the rest flattened and shortened. */
function condense(output: string): string {
  const text = output
    .split('\n')
    .map((line) => line.trim())
    .filter(
      (line) => line && !line.startsWith('#') && !line.startsWith('*Simulated') && line !== SIMULATED_FOOTER,
    )
    .map((line) => line.replace(/^[-*]\s+/, ''))
    .map((line) => (/[.!?…:]$/.test(line) ? line : `${line}.`))
    .join(' ');
  return truncate(text, 280);
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function failureNote(failed: readonly FailedSubtask[]): string[] {
  if (failed.length === 0) return [];
  const parts = failed.map((part) => `"${part.title}" (${part.error})`).join(', ');
  return [`> **Note:** ${plural(failed.length, 'part')} could not be produced: ${parts}.`, ''];
}

/**
 * Markdown combining the subtask results: a title from the task, one condensed section per
 * successful result, a note on failed parts, and the simulated footer as the last line.
 */
export function buildSynthesisOutput(prompt: SynthesisPrompt): string {
  const title = capitalize(prompt.task ? taskTopic(prompt.task) : 'Combined result');
  const sections = prompt.results.flatMap((result) => [
    `## ${result.title}`,
    '',
    condense(result.output),
    '',
  ]);
  const empty = prompt.results.length === 0 ? ['No subtask results were available to combine.', ''] : [];
  return [
    `*Simulated synthesis (local test double) of ${plural(prompt.results.length, 'subtask result')}.*`,
    '',
    `# ${title}`,
    '',
    ...(prompt.guidance ? [`Structured as the planner advised: ${prompt.guidance}`, ''] : []),
    ...sections,
    ...empty,
    ...failureNote(prompt.failed),
    SIMULATED_FOOTER,
  ].join('\n');
}

/** Reply to a request that is neither plan, worker nor synthesis. */
export function buildEchoOutput(lastUserText: string): string {
  const snippet = truncate(lastUserText.trim().replace(/\s+/g, ' '), 200);
  return `*Simulated reply (local test double).* No script matches this request, so it is echoed: "${snippet}"\n\n${SIMULATED_FOOTER}`;
}
