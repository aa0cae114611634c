/**
 * Fault rules, the injector that applies them, and the configuration knobs (options and their
 * `SIM_MODEL_*` environment variables).
 */
import { z } from 'zod';
import { MALFORMED_PLAN_VARIANTS, type MalformedPlanVariant } from './content';
import { type ProviderLimits, providerLimitsSchema } from './limits';

/** The calls the orchestrator-workers system makes. */
export const MODEL_ROLES = ['plan', 'worker', 'synthesis'] as const;

/** A call of the orchestrator-workers system, see {@link MODEL_ROLES}. */
export type ModelRole = (typeof MODEL_ROLES)[number];

/** Role of a logged request; `other` is anything unrecognised, invalid or off-route. */
export type RequestRole = ModelRole | 'other';

/** Every fault the simulated model can inject. */
export const FAULT_KINDS = [
  'rate_limit',
  'overloaded',
  'server_error',
  'hang',
  'bad_request',
  'malformed_plan',
  'refusal',
  'empty_output',
  'expired',
] as const;

/** One injectable fault, see {@link FAULT_KINDS}. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * When to inject a fault. Rules are tried in order and the first that fires wins.
 * `malformed_plan` only ever applies to plan requests.
 */
export interface FaultRule {
  kind: FaultKind;
  /** Only requests of this role; default any role. */
  role?: ModelRole;
  /** Only requests whose whole text (system + messages) contains this substring. */
  match?: string;
  /** Only the first N requests this rule matches (whether or not it fired); default unlimited. */
  times?: number;
  /** Probability 0..1 that a matching request gets the fault, drawn from the seeded PRNG; default 1. */
  rate?: number;
  /** For `malformed_plan`: how the plan is broken; default `not_json`. */
  variant?: MalformedPlanVariant;
}

/** A fault chosen for one request. */
export interface InjectedFault {
  kind: FaultKind;
  variant?: MalformedPlanVariant;
}

/** Fixed delay per role, in milliseconds. */
export interface LatencyByRole {
  plan: number;
  worker: number;
  synthesis: number;
}

/** Options of `startSimulatedModel`. */
export interface SimulatedModelOptions {
  /** Port to listen on; default 0 (an ephemeral port). */
  port?: number;
  /** Interface to bind; default `127.0.0.1`. */
  host?: string;
  /** Delay before answering, per role or one number for all; default 0. */
  latencyMs?: Partial<LatencyByRole> | number;
  /** Extra uniform random delay of 0..jitterMs, from the seeded PRNG; default 0. */
  jitterMs?: number;
  /** Seed of the PRNG behind probabilistic faults and jitter; default 1. */
  seed?: number;
  /** Fault rules; default none. */
  faults?: FaultRule[];
  /** Keep each request's whole text (system + messages) in the request log, for tests; default false. */
  recordPrompts?: boolean;
  /** Shortest prefix (estimated tokens) the prompt cache takes, for every model; default 2,048 for Haiku, 1,024 otherwise. */
  promptCacheMinTokens?: number;
  /** Rate limits enforced per model id, answering 429 with `retry-after` beyond them; default none. */
  limits?: ProviderLimits;
  /** Characters appended to every worker or synthesis answer, for tests of outputs stored in chunks; default 0. */
  outputPaddingChars?: Partial<Record<'worker' | 'synthesis', number>>;
  /** Milliseconds a Message Batch takes before its requests are processed and it ends; default 500. */
  batchProcessingMs?: number;
}

/** Zod schema of a duration in milliseconds. */
export const millisecondsSchema = z.number().finite().min(0);

/** Zod schema of a {@link FaultRule}. */
export const faultRuleSchema: z.ZodType<FaultRule> = z
  .strictObject({
    kind: z.enum(FAULT_KINDS),
    role: z.enum(MODEL_ROLES).optional(),
    match: z.string().optional(),
    times: z.number().int().min(0).optional(),
    rate: z.number().min(0).max(1).optional(),
    variant: z.enum(MALFORMED_PLAN_VARIANTS).optional(),
  })
  .refine((rule) => rule.variant === undefined || rule.kind === 'malformed_plan', {
    message: 'variant only applies to malformed_plan',
    path: ['variant'],
  });

/** Zod schema of a latency setting: one number, or numbers per role. */
export const latencySchema = z.union([
  millisecondsSchema,
  z.strictObject({
    plan: millisecondsSchema.optional(),
    worker: millisecondsSchema.optional(),
    synthesis: millisecondsSchema.optional(),
  }),
]);

/** Zod schema of {@link SimulatedModelOptions}. */
export const simulatedModelOptionsSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).optional(),
  host: z.string().min(1).optional(),
  latencyMs: latencySchema.optional(),
  jitterMs: millisecondsSchema.optional(),
  seed: z.number().int().optional(),
  faults: z.array(faultRuleSchema).optional(),
  recordPrompts: z.boolean().optional(),
  promptCacheMinTokens: z.number().int().positive().optional(),
  limits: providerLimitsSchema.optional(),
  outputPaddingChars: z
    .strictObject({
      worker: z.number().int().min(0).optional(),
      synthesis: z.number().int().min(0).optional(),
    })
    .optional(),
  batchProcessingMs: millisecondsSchema.optional(),
});

/** One line per zod issue, prefixed with its path. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/** Parses `value` with `schema` or throws an error starting with `what`. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new Error(`${what}: ${formatIssues(result.error)}`);
  return result.data;
}

/** Applies a latency setting on top of `base`. */
export function resolveLatency(
  value: Partial<LatencyByRole> | number | undefined,
  base: LatencyByRole,
): LatencyByRole {
  if (value === undefined) return base;
  if (typeof value === 'number') return { plan: value, worker: value, synthesis: value };
  return { ...base, ...value };
}

/** What the injector needs to know about a request. */
export interface FaultCandidate {
  role: RequestRole;
  /** The request's whole text: system prompt and all messages. */
  text: string;
}

function appliesTo(rule: FaultRule, candidate: FaultCandidate): boolean {
  if (rule.kind === 'malformed_plan' && candidate.role !== 'plan') return false;
  if (rule.role !== undefined && rule.role !== candidate.role) return false;
  return rule.match === undefined || candidate.text.includes(rule.match);
}

/** Decides, request by request, which fault (if any) to inject. */
export class FaultInjector {
  private rules: FaultRule[] = [];
  private matchCounts: number[] = [];

  /** @param random the seeded PRNG used for `rate` draws */
  constructor(
    rules: readonly FaultRule[],
    private readonly random: () => number,
  ) {
    this.setRules(rules);
  }

  /** Replaces the rules (validated) and restarts their `times` counts. */
  setRules(rules: readonly FaultRule[]): void {
    this.rules = parseOrThrow(z.array(faultRuleSchema), rules, 'Invalid fault rules');
    this.matchCounts = this.rules.map(() => 0);
  }

  /** The fault for this request, or null to answer normally. */
  pick(candidate: FaultCandidate): InjectedFault | null {
    for (const [index, rule] of this.rules.entries()) {
      if (!appliesTo(rule, candidate)) continue;
      const seen = this.matchCounts[index] ?? 0;
      if (rule.times !== undefined && seen >= rule.times) continue;
      this.matchCounts[index] = seen + 1;
      if (!this.fires(rule.rate ?? 1)) continue;
      return rule.kind === 'malformed_plan'
        ? { kind: rule.kind, variant: rule.variant ?? 'not_json' }
        : { kind: rule.kind };
    }
    return null;
  }

  // Certain outcomes skip the PRNG so adding a rate-1 rule does not shift later random draws.
  private fires(rate: number): boolean {
    if (rate >= 1) return true;
    if (rate <= 0) return false;
    return this.random() < rate;
  }
}

// ---------------------------------------------------------------------------------------------
// Environment variables
// ---------------------------------------------------------------------------------------------

type Env = Record<string, string | undefined>;

const integerText = z
  .string()
  .trim()
  .regex(/^-?\d+$/, 'expected an integer')
  .transform(Number);
const millisecondsText = integerText.pipe(z.number().int().min(0, 'expected 0 or more milliseconds'));
const portText = integerText.pipe(z.number().int().min(0).max(65535, 'expected a port between 0 and 65535'));
const seedText = integerText.pipe(z.number().int().safe());
const rateText = z
  .string()
  .trim()
  .regex(/^\d*\.?\d+$/, 'expected a number between 0 and 1')
  .transform(Number)
  .pipe(z.number().min(0).max(1, 'expected a number between 0 and 1'));

function envError(name: string, raw: string, detail: string): Error {
  return new Error(`Invalid ${name}="${raw}": ${detail}`);
}

function readEnv(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
}

/** `key=value` pairs (described by `form` in errors) of a comma-separated variable, each checked by `parse`. */
function parsePairs<T>(
  name: string,
  raw: string,
  form: string,
  parse: (key: string, value: string) => T,
): T[] {
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const separator = entry.indexOf('=');
      if (separator <= 0) throw envError(name, raw, `"${entry}" is not of the form ${form}`);
      return parse(entry.slice(0, separator).trim(), entry.slice(separator + 1).trim());
    });
}

function parseValue<T>(schema: z.ZodType<T>, value: unknown, name: string, raw: string, label: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw envError(name, raw, `${label}: ${formatIssues(result.error)}`);
  return result.data;
}

/**
 * Reads `SIM_MODEL_FAULTS`: comma-separated `kind=rate` pairs such as
 * `rate_limit=0.2,overloaded=0.1,malformed_plan=0.1`, each becoming a rule with that rate.
 * `malformed_plan:cycle=0.1` picks a malformed-plan variant. Unset or empty gives no rules.
 * @throws Error naming the variable and the bad value
 */
export function parseFaultsFromEnv(env: Env = process.env): FaultRule[] {
  const name = 'SIM_MODEL_FAULTS';
  const raw = readEnv(env, name);
  if (raw === undefined) return [];
  return parsePairs(name, raw, 'kind=rate', (key, value) => {
    const [kind, variant] = key.split(':');
    const rate = parseValue(rateText, value, name, raw, `rate of "${key}"`);
    const rule = { kind, rate, ...(variant === undefined ? {} : { variant }) };
    return parseValue(faultRuleSchema, rule, name, raw, `"${key}"`);
  });
}

/**
 * Reads `SIM_MODEL_LATENCY_MS`: one number for every role, or `plan=400,worker=800,synthesis=400`
 * (roles left out get 0).
 * @throws Error naming the variable and the bad value
 */
export function parseLatencyFromEnv(env: Env = process.env): LatencyByRole | undefined {
  const name = 'SIM_MODEL_LATENCY_MS';
  const raw = readEnv(env, name);
  if (raw === undefined) return undefined;
  if (!raw.includes('=')) {
    const ms = parseValue(millisecondsText, raw, name, raw, 'latency');
    return { plan: ms, worker: ms, synthesis: ms };
  }
  const entries = parsePairs(name, raw, 'role=ms', (key, value) => ({
    role: parseValue(z.enum(MODEL_ROLES), key, name, raw, `role "${key}"`),
    ms: parseValue(millisecondsText, value, name, raw, `latency of ${key}`),
  }));
  return entries.reduce((latency, { role, ms }) => ({ ...latency, [role]: ms }), {
    plan: 0,
    worker: 0,
    synthesis: 0,
  });
}

function readNumber(env: Env, name: string, schema: z.ZodType<number, string>): number | undefined {
  const raw = readEnv(env, name);
  return raw === undefined ? undefined : parseValue(schema, raw, name, raw, 'value');
}

/**
 * Reads `SIM_MODEL_LIMITS`: comma-separated `limit=number` pairs such as
 * `maxInFlight=4,requestsPerMinute=100` (per model id). Unset or empty gives no limits.
 * @throws Error naming the variable and the bad value
 */
export function parseLimitsFromEnv(env: Env = process.env): ProviderLimits | undefined {
  const name = 'SIM_MODEL_LIMITS';
  const raw = readEnv(env, name);
  if (raw === undefined) return undefined;
  const pairs = parsePairs(name, raw, 'limit=number', (key, value) => [
    key,
    parseValue(integerText, value, name, raw, `"${key}"`),
  ]);
  return parseValue(providerLimitsSchema, Object.fromEntries(pairs), name, raw, 'limits');
}

/**
 * Options from `SIM_MODEL_FAULTS`, `SIM_MODEL_LIMITS`, `SIM_MODEL_LATENCY_MS`, `SIM_MODEL_JITTER_MS`, `SIM_MODEL_SEED`,
 * `SIM_MODEL_BATCH_MS` and `SIM_MODEL_PORT`. Unset variables are left out, so the caller's or the server's defaults apply.
 * @throws Error naming the variable and the bad value
 */
export function optionsFromEnv(env: Env = process.env): SimulatedModelOptions {
  const candidates: SimulatedModelOptions = {
    faults: parseFaultsFromEnv(env),
    latencyMs: parseLatencyFromEnv(env),
    jitterMs: readNumber(env, 'SIM_MODEL_JITTER_MS', millisecondsText),
    seed: readNumber(env, 'SIM_MODEL_SEED', seedText),
    port: readNumber(env, 'SIM_MODEL_PORT', portText),
    limits: parseLimitsFromEnv(env),
    batchProcessingMs: readNumber(env, 'SIM_MODEL_BATCH_MS', millisecondsText),
  };
  return Object.fromEntries(
    Object.entries(candidates).filter(([, value]) => value !== undefined),
  ) as SimulatedModelOptions;
}
