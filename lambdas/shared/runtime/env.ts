import * as z from 'zod';
import { ModelLimitsSchema } from '../domain/model-limits';
import { ApprovalPolicySchema, BudgetSchema } from '../domain/budget';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** Settings every function shares. Parsed once per container; a bad value fails the first invocation. */
export const CommonEnvSchema = z.object({
  TABLE_NAME: z.string().min(1),
  /** Local runs only: dynalite's endpoint. Unset in the cloud. */
  DYNAMODB_ENDPOINT: z.url().optional(),
  AWS_REGION: z.string().default('us-east-1'),
  JOB_TTL_DAYS: positiveInt(30),
  /**
   * The credentials the function's AWS requests are signed with. Lambda sets them from the
   * function's role; locally each sandbox gets its own. Unset, the AWS default chain is used.
   */
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  AWS_SESSION_TOKEN: z.string().min(1).optional(),
});

/** StartBatchRun: the bucket item lists go to, set only when the batch runs a Distributed Map. */
export const StartBatchRunEnvSchema = CommonEnvSchema.extend({
  BATCH_ITEMS_BUCKET: z.string().min(3).max(63).optional(),
  /** The folder of batch definitions bundled with the function (runs that name one). */
  BATCHES_DIR: z.string().min(1).optional(),
  /** `false` when the deployment has no Message Batches lane (provider `bedrock`). */
  BATCH_LANE: z.enum(['true', 'false']).default('true'),
});

/** Settings of a function that calls a model. */
export const ModelEnvSchema = CommonEnvSchema.extend({
  MODEL: z.string().min(1),
  MODEL_MAX_TOKENS: positiveInt(4_096),
  /** Kept low on purpose: waiting out throttling happens in Step Functions (free), not in Lambda (billed). */
  MODEL_MAX_RETRIES: z.coerce.number().int().min(0).max(5).default(0),
  /** `anthropic` (the Anthropic API with an API key) or `bedrock` (Amazon Bedrock, IAM-signed requests). */
  MODEL_PROVIDER: z.enum(['anthropic', 'bedrock']).default('anthropic'),
  /** Secrets Manager secret holding the Anthropic API key (cloud). */
  ANTHROPIC_API_KEY_SECRET_ARN: z.string().min(1).optional(),
  /** Local runs only: the local stack's Secrets Manager endpoint. Unset in the cloud. */
  SECRETS_MANAGER_ENDPOINT: z.url().optional(),
  /** Tests of a single handler only: the key itself. Neither the deployed nor the local stack sets it. */
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  ANTHROPIC_BASE_URL: z.url().optional(),
  /** Provider `bedrock`: another Bedrock runtime endpoint (the simulated model locally); default the region's. */
  ANTHROPIC_BEDROCK_BASE_URL: z.url().optional(),
  /** The deployment's `modelLimits` as JSON; set (with CAPACITY_TABLE_NAME) only when it has entries. */
  MODEL_LIMITS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text === '') return {};
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not JSON' });
        return z.NEVER;
      }
    })
    .pipe(ModelLimitsSchema),
  /** The governor's table (model capacity shared by every execution). */
  CAPACITY_TABLE_NAME: z.string().min(1).optional(),
});
export type ModelEnv = z.infer<typeof ModelEnvSchema>;

/** A JSON value in a variable, checked by `schema`; unset or empty gives `fallback`. */
const jsonVariable = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text === '') return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema.optional());

/** The worker's and synthesis's calls, for pricing their worst cases before they are made. */
export const JobRolesEnvSchema = z.object({
  WORKER_MODEL: z.string().min(1),
  WORKER_MAX_TOKENS: positiveInt(4_096),
  SYNTHESIS_MODEL: z.string().min(1),
  SYNTHESIS_MAX_TOKENS: positiveInt(8_192),
});

export const jobRolesOf = (env: z.infer<typeof JobRolesEnvSchema>) => ({
  worker: { model: env.WORKER_MODEL, maxTokens: env.WORKER_MAX_TOKENS },
  synthesis: { model: env.SYNTHESIS_MODEL, maxTokens: env.SYNTHESIS_MAX_TOKENS },
});

export const PlanEnvSchema = ModelEnvSchema.extend({
  MAX_SUBTASKS: z.coerce.number().int().min(1).max(100).default(10),
  PLAN_REPAIR_ATTEMPTS: z.coerce.number().int().min(0).max(5).default(2),
  /** The deployment's defaults (`defaults.approval`, `defaults.budget`) as JSON. */
  DEFAULT_APPROVAL: jsonVariable(ApprovalPolicySchema),
  DEFAULT_BUDGET: jsonVariable(BudgetSchema),
}).extend(JobRolesEnvSchema.shape);

export const CheckBudgetEnvSchema = CommonEnvSchema.extend(JobRolesEnvSchema.shape);

export type Env = Record<string, string | undefined>;

/** Parses `env` with `schema`, failing with every bad variable named. */
export function parseEnv<T extends z.ZodType>(schema: T, env: Env): z.infer<T> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new Error(`Invalid environment: ${problems}`);
  }
  return result.data;
}
