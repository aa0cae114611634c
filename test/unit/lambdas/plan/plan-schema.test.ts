import { planJsonSchema } from '../../../../lambdas/plan/plan-schema';
import { validatePlan } from '../../../../lambdas/plan/plan-validation';
import { PROFILES, type Profile } from '../../../../lambdas/shared/domain/profiles';

type JsonSchema = Record<string, unknown>;

/** A small seeded generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const IDS = ['market-scan', 'pricing', 'risks', 'intro', 'summary-2', 'deep-dive'];

/**
 * The constraints the SDK could not send as JSON Schema keywords, written into a description as
 * `{maxItems: 8, minItems: 3}`: the model is told them, and a generated instance keeps to them.
 */
function hint(schema: JsonSchema, name: string): number | undefined {
  const match = new RegExp(`${name}: (\\d+)`).exec(String(schema.description ?? ''));
  return match ? Number(match[1]) : undefined;
}

/**
 * Any instance of the JSON Schema as sent: every keyword it carries (type, enum, const, anyOf,
 * properties, required, additionalProperties false, items, minItems) is honoured, optional
 * properties come and go, and strings keep to the hints in their descriptions (kebab-case ids,
 * lengths). Ids are drawn from a small pool, so duplicates and unknown dependencies do occur.
 */
function instanceOf(
  schema: JsonSchema,
  root: JsonSchema,
  next: () => number,
  key = '',
  followHints = true,
): unknown {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.replace('#/$defs/', '');
    return instanceOf((root.$defs as Record<string, JsonSchema>)[name]!, root, next, key, followHints);
  }
  if (Array.isArray(schema.enum)) return pick(schema.enum);
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.anyOf))
    return instanceOf(pick(schema.anyOf as JsonSchema[]), root, next, key, followHints);
  switch (schema.type) {
    case 'object': {
      const properties = schema.properties as Record<string, JsonSchema>;
      const required = new Set((schema.required as string[] | undefined) ?? []);
      return Object.fromEntries(
        Object.entries(properties)
          .filter(([name]) => required.has(name) || next() < 0.5)
          .map(([name, property]) => [name, instanceOf(property, root, next, name, followHints)]),
      );
    }
    case 'array': {
      const keyword = (schema.minItems as number | undefined) ?? 0;
      const min = followHints ? (hint(schema, 'minItems') ?? keyword) : keyword;
      const max = followHints ? (hint(schema, 'maxItems') ?? min + 3) : min + 12;
      const length = min + Math.floor(next() * (max - min + 1));
      return Array.from({ length }, () =>
        instanceOf(schema.items as JsonSchema, root, next, `${key}[]`, followHints),
      );
    }
    case 'string':
      if (!followHints) return pick(['', 'Not Kebab Case', 'x'.repeat(5_000), ...IDS]);
      if (key === 'id' || key === 'dependsOn[]') return pick(IDS);
      if (key === 'type') return pick(['research', 'analysis', 'writing']);
      return pick(['A few plain words.', 'Compare the options, naming the trade-offs.']);
    case 'integer':
    case 'number':
      return Math.floor(next() * 10);
    case 'boolean':
      return next() < 0.5;
    default:
      throw new Error(`The generator does not know schema ${JSON.stringify(schema)}`);
  }
}

/** What only validation can check: a schema cannot say that ids are unique, known, and acyclic. */
const BEYOND_A_SCHEMA = [
  /^Subtask ids must be unique/,
  /depends on unknown ids/,
  /depends on itself/,
  /form a cycle/,
];

const boundsOf = (profile: Profile) => ({ min: profile.subtasks.min, max: profile.subtasks.max });
const subtaskSchema = (schema: JsonSchema) => {
  const items = (schema.properties as Record<string, JsonSchema>).subtasks!.items as JsonSchema;
  return (schema.$defs as Record<string, JsonSchema>)[String(items.$ref).replace('#/$defs/', '')]!;
};

/**
 * What the API cannot enforce, so the SDK's helper writes it into descriptions for the model to follow:
 * string patterns and lengths, and item counts. Only validation checks these (and repair mends them).
 */
const ONLY_IN_DESCRIPTIONS = [
  /^The plan has \d+ subtasks; it must have between \d+ and \d+\./,
  /^subtasks\.\d+\.id:/,
  /^subtasks\.\d+\.(title|description|type):/,
  /^subtasks\.\d+\.dependsOn\.\d+:/,
  /^(analysis|synthesisGuidance):/,
];

describe("the plan's structured-output schema", () => {
  it.each(PROFILES.map((profile) => [profile.name, profile] as const))(
    'is the %s profile’s exact contract: its subtask types, and only the fields it uses',
    (_name, profile) => {
      const schema = planJsonSchema(profile, boundsOf(profile));
      const subtask = subtaskSchema(schema);
      const properties = subtask.properties as Record<string, JsonSchema>;
      const types = profile.subtaskTypes ? Object.keys(profile.subtaskTypes) : undefined;
      // Typed profiles: an enum of their types; the untyped custom profile: any string.
      expect(properties.type?.enum ?? properties.type?.type).toEqual(types ?? 'string');
      expect('priority' in properties).toBe(profile.fields.priority);
      expect('dependsOn' in properties).toBe(profile.fields.dependencies);
      expect('synthesisGuidance' in (schema.properties as object)).toBe(profile.fields.synthesisGuidance);
      expect(subtask.required).toEqual(Object.keys(properties));
      expect(properties.priority?.enum).toEqual(profile.fields.priority ? [1, 2, 3, 4, 5] : undefined);
    },
  );

  it.each(PROFILES.map((profile) => [profile.name, profile] as const))(
    'gives the %s profile plans that pass validation whatever instance the model returns, when it follows the descriptions, but for what no schema can say',
    (_name, profile) => {
      const bounds = boundsOf(profile);
      const schema = planJsonSchema(profile, bounds);
      const allowedTypes = profile.subtaskTypes ? Object.keys(profile.subtaskTypes) : undefined;
      const next = random(profile.name.length * 7_919);
      const problems = new Set<string>();
      let valid = 0;
      for (let sample = 0; sample < 300; sample++) {
        const answer = JSON.stringify(instanceOf(schema, schema, next));
        const validation = validatePlan(answer, bounds, allowedTypes);
        if (validation.ok) valid++;
        else for (const problem of validation.problems) problems.add(problem);
      }
      expect(
        [...problems].filter((problem) => !BEYOND_A_SCHEMA.some((allowed) => allowed.test(problem))),
      ).toEqual([]);
      expect(valid).toBeGreaterThan(0);
    },
  );

  it.each(PROFILES.map((profile) => [profile.name, profile] as const))(
    'leaves to validation, for the %s profile, only what no schema can say and what the API cannot enforce',
    (_name, profile) => {
      const bounds = boundsOf(profile);
      const schema = planJsonSchema(profile, bounds);
      const allowedTypes = profile.subtaskTypes ? Object.keys(profile.subtaskTypes) : undefined;
      const next = random(profile.name.length * 104_729);
      const problems = new Set<string>();
      for (let sample = 0; sample < 300; sample++) {
        const answer = JSON.stringify(instanceOf(schema, schema, next, '', false));
        const validation = validatePlan(answer, bounds, allowedTypes);
        if (!validation.ok) for (const problem of validation.problems) problems.add(problem);
      }
      const allowed = [...BEYOND_A_SCHEMA, ...ONLY_IN_DESCRIPTIONS];
      expect([...problems].filter((problem) => !allowed.some((pattern) => pattern.test(problem)))).toEqual(
        [],
      );
      // The schema's keywords hold: never a subtask type the profile lacks, nor a field it does not use.
      expect(
        [...problems].filter((problem) => /the type must be one of|Unrecognized key/.test(problem)),
      ).toEqual([]);
    },
  );
});
