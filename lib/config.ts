import { z } from 'zod';
import { type Profile, PROFILES } from '../lambdas/shared/domain/profiles';
import { DEFAULT_BEDROCK_MODELS, parseBedrockModelId } from './bedrock-models';
import { limitFor, ModelLimitsSchema } from '../lambdas/shared/domain/model-limits';
import { ApprovalPolicySchema, BudgetSchema } from '../lambdas/shared/domain/budget';

/**
 * Where the model calls go: `anthropic` (the Anthropic API, key in Secrets Manager) or `bedrock`
 * (Amazon Bedrock through `@anthropic-ai/bedrock-sdk`, authorised by the functions' IAM roles).
 */
export const MODEL_PROVIDERS = ['anthropic', 'bedrock'] as const;
export type ModelProvider = (typeof MODEL_PROVIDERS)[number];

/** Default model per role: the current generation in `@anthropic-ai/sdk`, none in its deprecated list. */
export const DEFAULT_MODELS = {
  orchestrator: 'claude-sonnet-5-5',
  worker: 'claude-haiku-5-5',
  synthesis: 'claude-sonnet-5-5',
} as const;

/** Default model per role and provider. */
export const DEFAULT_MODELS_BY_PROVIDER: Record<ModelProvider, Record<ModelRole, string>> = {
  anthropic: DEFAULT_MODELS,
  bedrock: DEFAULT_BEDROCK_MODELS,
};

export const MODEL_ROLES = ['orchestrator', 'worker', 'synthesis'] as const;

/**
 * How the batch state machine runs its items: `inline` (a Map over the items in the execution state;
 * runs locally) or `distributed` (a Distributed Map reading the item list from S3; cloud only).
 */
export const BATCH_MAP_KINDS = ['inline', 'distributed'] as const;
export type ModelRole = (typeof MODEL_ROLES)[number];

const modelId = z.string().min(1).max(200);

/** The retention periods CloudWatch Logs accepts, in days (`logs.RetentionDays` has the same values). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;
export type LogRetentionDays = (typeof LOG_RETENTION_DAYS)[number];

const logRetentionDays = z
  .number()
  .int()
  .refine((days): days is LogRetentionDays => (LOG_RETENTION_DAYS as readonly number[]).includes(days), {
    message: `must be one of CloudWatch Logs' retention periods: ${LOG_RETENTION_DAYS.join(', ')} (days)`,
  });
/** Step Functions runs at most this many iterations of an inline Map at once (a service limit). */
export const INLINE_MAP_MAX_CONCURRENCY = 40;

/** Everything a deployment (or a local run) can tune. Validated before any construct is built. */
export const OrchestratorConfigSchema = z
  .object({
    provider: z.enum(MODEL_PROVIDERS).default('anthropic'),
    /** Model per role; unset roles get the provider's default (`DEFAULT_MODELS_BY_PROVIDER`). */
    models: z
      .object({
        orchestrator: modelId.optional(),
        worker: modelId.optional(),
        synthesis: modelId.optional(),
      })
      .strict()
      .default({}),
    maxTokens: z
      .object({
        orchestrator: z.number().int().min(256).max(64_000).default(4_096),
        worker: z.number().int().min(256).max(64_000).default(4_096),
        synthesis: z.number().int().min(256).max(64_000).default(8_192),
      })
      .strict()
      .default({ orchestrator: 4_096, worker: 4_096, synthesis: 8_192 }),
    /** Workers running at once per job (the Map's MaxConcurrency). */
    maxConcurrency: z
      .number()
      .int()
      .min(1)
      .max(
        INLINE_MAP_MAX_CONCURRENCY,
        `must be at most ${INLINE_MAP_MAX_CONCURRENCY}: an inline Map state runs at most ${INLINE_MAP_MAX_CONCURRENCY} iterations at once, whatever MaxConcurrency says`,
      )
      .default(10),
    /** Ceiling on subtasks per job, whatever a profile allows (profiles set their own bounds). */
    maxSubtasks: z.number().int().min(1).max(100).default(10),
    planRepairAttempts: z.number().int().min(0).max(5).default(2),
    /** The approval policy and budget of jobs whose request and profile set none. */
    defaults: z
      .object({ approval: ApprovalPolicySchema.default('none'), budget: BudgetSchema.optional() })
      .strict()
      .default({ approval: 'none' }),
    /**
     * Hours a plan waits in AwaitApproval for a decision, then the job fails ApprovalTimedOut. At most
     * a week (the local runtime's timers, and the job's execution, wait that long at most).
     */
    approvalTimeoutHours: z.number().int().min(1).max(168).default(24),
    /**
     * One budget of model capacity shared by every execution, per model id or family prefix (e.g.
     * `{"claude-haiku-5-5": {"maxInFlight": 50, "requestsPerMinute": 4000}}`); models without an entry
     * are not governed. See docs/configuration.md#model-limits for sizing them from the provider's quotas.
     */
    modelLimits: ModelLimitsSchema.default({}),
    /** Days until DynamoDB's TTL removes a job and its subtasks. */
    jobTtlDays: z.number().int().min(1).max(3_650).default(30),
    logRetentionDays: logRetentionDays.default(30),
    /** The batch Map: `inline` (default, runs locally) or `distributed` (item lists in S3, cloud only). */
    batchMap: z.enum(BATCH_MAP_KINDS).default('inline'),
    /** The batch lane: seconds between checks of a Message Batch in progress (the Wait state's). */
    batchPollSeconds: z.number().int().min(1).max(3_600).default(60),
    /** The jobs API: throttling and quota of its usage plan, and the largest request body accepted. */
    api: z
      .object({
        throttleRateLimit: z.number().min(1).max(10_000).default(10),
        throttleBurstLimit: z.number().int().min(1).max(5_000).default(20),
        quotaPerDay: z.number().int().min(1).default(10_000),
        maxBodyBytes: z.number().int().min(1_024).max(1_000_000).default(65_536),
        /**
         * Set the region's API Gateway account setting to a CloudWatch Logs role this stack creates
         * (retained when the stack is deleted), so access logging works in an account that never had
         * one. The setting is shared by every REST API in the account and region: set false when one
         * is already configured and should stay as it is.
         */
        cloudWatchRole: z.boolean().default(true),
      })
      .strict()
      .default({
        throttleRateLimit: 10,
        throttleBurstLimit: 20,
        quotaPerDay: 10_000,
        maxBodyBytes: 65_536,
        cloudWatchRole: true,
      }),
    /**
     * Provider `anthropic` only: an existing Secrets Manager secret holding the Anthropic API key; a
     * new one is created when unset.
     */
    apiKeySecretArn: z.string().startsWith('arn:').optional(),
    /**
     * Provider `bedrock` only: the AWS Marketplace product ids of the Anthropic models used. Given, the
     * model functions may `aws-marketplace:Subscribe` to those products only (and
     * `ViewSubscriptions`), so Bedrock's automatic subscription on a model's first invocation in the
     * account succeeds from the functions themselves. Unset: an administrator makes that first call
     * once (docs/deploying.md).
     */
    bedrockMarketplaceProductIds: z
      .array(z.string().regex(/^[a-z0-9-]{3,64}$/, 'must be an AWS Marketplace product id, e.g. prod-abc123'))
      .min(1)
      .optional(),
    /**
     * With `apiKeySecretArn`: the customer-managed KMS key that secret is encrypted with; the model
     * functions get `kms:Decrypt` on it (through Secrets Manager only). Unset: the secret uses the
     * AWS-managed key, which needs no grant.
     */
    apiKeySecretKmsKeyArn: z
      .string()
      .regex(
        /^arn:aws[\w-]*:kms:[\w-]+:\d{12}:key\/[\w-]+$/,
        'must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)',
      )
      .optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    for (const problem of profileModelProblems(config.provider)) {
      ctx.addIssue({ code: 'custom', message: problem, path: ['provider'] });
    }
    if (config.provider === 'bedrock' && config.apiKeySecretArn) {
      ctx.addIssue({
        code: 'custom',
        message: 'is only used with provider "anthropic" (Bedrock is authorised by IAM, not an API key)',
        path: ['apiKeySecretArn'],
      });
    }
    if (config.bedrockMarketplaceProductIds && config.provider !== 'bedrock') {
      ctx.addIssue({
        code: 'custom',
        message: 'is only used with provider "bedrock"',
        path: ['bedrockMarketplaceProductIds'],
      });
    }
    if (config.apiKeySecretKmsKeyArn && !config.apiKeySecretArn) {
      ctx.addIssue({
        code: 'custom',
        message: 'is the key of an existing secret: set apiKeySecretArn too',
        path: ['apiKeySecretKmsKeyArn'],
      });
    }
    for (const role of MODEL_ROLES) {
      const id = config.models[role];
      if (id === undefined) continue;
      const isBedrockId = parseBedrockModelId(id) !== undefined;
      if (config.provider === 'bedrock' && !isBedrockId) {
        ctx.addIssue({
          code: 'custom',
          message: `"${id}" is not a Bedrock model id or inference profile id of an Anthropic model (e.g. "${DEFAULT_BEDROCK_MODELS[role]}")`,
          path: ['models', role],
        });
      }
      if (config.provider === 'anthropic' && isBedrockId) {
        ctx.addIssue({
          code: 'custom',
          message: `"${id}" is a Bedrock model id; set provider "bedrock" to use it`,
          path: ['models', role],
        });
      }
    }
  })
  .transform((config) => {
    const defaults = DEFAULT_MODELS_BY_PROVIDER[config.provider];
    const models: Record<ModelRole, string> = {
      orchestrator: config.models.orchestrator ?? defaults.orchestrator,
      worker: config.models.worker ?? defaults.worker,
      synthesis: config.models.synthesis ?? defaults.synthesis,
    };
    return { ...config, models };
  })
  .superRefine((config, ctx) => {
    // A key that matches none of the models the functions call (theirs or a profile's) is a typo.
    const models = [...new Set(Object.values(modelsByRole(config)).flat())];
    for (const key of Object.keys(config.modelLimits)) {
      if (!models.some((model) => limitFor(model, { [key]: {} })?.key === key)) {
        ctx.addIssue({
          code: 'custom',
          message: `matches none of the models the functions call (${models.join(', ')})`,
          path: ['modelLimits', key],
        });
      }
    }
  });
export type OrchestratorConfig = z.infer<typeof OrchestratorConfigSchema>;
export type OrchestratorConfigInput = z.input<typeof OrchestratorConfigSchema>;

/** Profiles whose model ids belong to the other provider, each as a problem naming the profile. */
export function profileModelProblems(
  provider: ModelProvider,
  profiles: readonly Profile[] = PROFILES,
): string[] {
  return profiles.flatMap((profile) =>
    MODEL_ROLES.flatMap((role) => {
      const model = profile.models?.[role];
      if (model === undefined) return [];
      const isBedrockId = parseBedrockModelId(model) !== undefined;
      if (provider === 'bedrock' && !isBedrockId)
        return [
          `profile ${profile.name}: models.${role} "${model}" is not a Bedrock model id (provider is "bedrock")`,
        ];
      if (provider === 'anthropic' && isBedrockId)
        return [
          `profile ${profile.name}: models.${role} "${model}" is a Bedrock model id (provider is "anthropic")`,
        ];
      return [];
    }),
  );
}

/** Every model a role may call: the deployment's, plus any a profile sets for that role. */
export function modelsForRole(
  config: Pick<OrchestratorConfig, 'models'>,
  role: ModelRole,
  profiles: readonly Profile[] = PROFILES,
): string[] {
  const fromProfiles = profiles.flatMap((profile) => profile.models?.[role] ?? []);
  return [...new Set([config.models[role], ...fromProfiles])];
}

/** `modelsForRole` for every role. */
export const modelsByRole = (config: Pick<OrchestratorConfig, 'models'>): Record<ModelRole, string[]> => ({
  orchestrator: modelsForRole(config, 'orchestrator'),
  worker: modelsForRole(config, 'worker'),
  synthesis: modelsForRole(config, 'synthesis'),
});

/**
 * Reads the configuration from CDK context (`-c orchestrator='{"maxConcurrency":20}'` or cdk.json)
 * with the per-role model environment variables of docs/architecture.md and `MODEL_PROVIDER` taking precedence.
 */
export function loadConfig(context: unknown, env: Record<string, string | undefined>): OrchestratorConfig {
  const fromContext: Record<string, unknown> =
    typeof context === 'string'
      ? parseJson(context)
      : ((context as Record<string, unknown> | undefined) ?? {});
  const models = { ...((fromContext.models as Record<string, unknown> | undefined) ?? {}) };
  if (env.ORCHESTRATOR_MODEL) models.orchestrator = env.ORCHESTRATOR_MODEL;
  if (env.WORKER_MODEL) models.worker = env.WORKER_MODEL;
  if (env.SYNTHESIS_MODEL) models.synthesis = env.SYNTHESIS_MODEL;
  const provider = env.MODEL_PROVIDER ?? fromContext.provider;
  const pollSeconds = env.BATCH_POLL_SECONDS ? Number(env.BATCH_POLL_SECONDS) : fromContext.batchPollSeconds;
  return parseConfig({
    ...fromContext,
    models,
    ...(provider === undefined ? {} : { provider }),
    ...(pollSeconds === undefined ? {} : { batchPollSeconds: pollSeconds }),
  });
}

export function parseConfig(input: unknown): OrchestratorConfig {
  const result = OrchestratorConfigSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new Error(`Invalid orchestrator configuration: ${problems.join('; ')}`);
  }
  return result.data;
}

function parseJson(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`Invalid orchestrator configuration: the "orchestrator" context is not JSON: ${text}`);
  }
}
