import { DEFAULT_PROFILE } from './profiles';
import { MODEL_CALL_LANES } from './pricing';
import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { JobContextSchema, type JobRequest, JobRequestSchema, JobStatusSchema } from './schemas';
import { ApprovalPolicySchema, BudgetSchema, RunBudgetSchema } from './budget';

/**
 * Limits of a batch run. The items never travel in the execution input (256 KiB): StartBatchRun reads
 * them from the bundled definition or the run's records. `maxItems` keeps an inline Map's run inside
 * one execution history (25,000 events, about 15 per item); a Distributed Map runs each item in a
 * child execution, so it takes up to `maxItemsDistributed`.
 */
export const BATCH_LIMITS = {
  maxItems: 200,
  maxItemsDistributed: 10_000,
  maxConcurrency: 40,
  nameMaxChars: 40,
  /** The batch lane's deadline: past it, what is pending is cancelled and finished on demand. */
  defaultDeadlineMinutes: 720,
  maxDeadlineMinutes: 1_380,
} as const;

/**
 * How a batch's model calls are made: `on-demand` (one orchestrator execution per item, the Messages
 * API) or `batch` (phase by phase across all items through the Message Batches API, at half price).
 */
export const ModelCallsSchema = z.enum(MODEL_CALL_LANES);
export type ModelCalls = z.infer<typeof ModelCallsSchema>;

/** Minutes the batch lane waits for Message Batches before finishing what is left on demand. */
export const BatchDeadlineMinutesSchema = z
  .number()
  .int()
  .min(1)
  .max(
    BATCH_LIMITS.maxDeadlineMinutes,
    `must be at most ${BATCH_LIMITS.maxDeadlineMinutes} (23 h): the batch execution times out after 24 h and the rest runs on demand`,
  );

/** The most items one run may have with the deployment's `batchMap`. */
export function maxBatchItems(batchMap: 'inline' | 'distributed'): number {
  return batchMap === 'distributed' ? BATCH_LIMITS.maxItemsDistributed : BATCH_LIMITS.maxItems;
}

export const BatchNameSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{2,39}$/,
    'must be 3–40 characters of lowercase letters, digits and dashes, starting with a letter or digit',
  );

const isTimeZone = (zone: string) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

/** An EventBridge Scheduler expression: `cron(min hour day-of-month month day-of-week year)` or `rate(n unit)`. */
export const ScheduleExpressionSchema = z
  .string()
  .refine(
    (value) =>
      /^cron\((\S+\s+){5}\S+\)$/.test(value) ||
      /^rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\)$/.test(value),
    {
      message: 'must be cron(<6 fields>) or rate(<n> <minute(s)|hour(s)|day(s)>), e.g. cron(0 2 * * ? *)',
    },
  );

export const BatchScheduleSchema = z
  .object({
    expression: ScheduleExpressionSchema,
    /** IANA time zone the cron expression is read in. */
    timeZone: z.string().refine(isTimeZone, { message: 'must be an IANA time zone, e.g. Europe/London' }),
    /** Scheduler may start the run up to this many minutes late, spreading load. */
    flexibleWindowMinutes: z.number().int().min(1).max(1_440).default(15),
    enabled: z.boolean().default(true),
  })
  .strict();

/** One item of a batch: a job request whose fields fall back to the batch's defaults. */
export const BatchItemSchema = z
  .object({
    task: z.string(),
    context: JobContextSchema.optional(),
    profile: z.string().optional(),
    approval: ApprovalPolicySchema.optional(),
    budget: BudgetSchema.optional(),
  })
  .strict();

/** What the Message Batches lane cannot honour, with the reason (docs/batches.md: choosing a lane). */
export const BATCH_LANE_REFUSES = {
  approval:
    'is not taken with modelCalls "batch": the lane plans every item in one Message Batch and has no AwaitApproval; run items that need a person\'s approval with modelCalls "on-demand"',
  budget:
    'is not taken with modelCalls "batch": a Message Batch is paid for as a whole once submitted, so a ceiling cannot stop its calls one by one; run budgeted work with modelCalls "on-demand"',
} as const;

/**
 * Where a run that asks for the Message Batches lane also asks for what the lane cannot honour: a
 * person's approval or a budget (the run's or an item's). Paths as a request names them.
 */
export function batchLaneConflicts(run: {
  modelCalls: ModelCalls;
  budget?: unknown;
  items: readonly { approval?: unknown; budget?: unknown }[];
}): { path: (string | number)[]; message: string }[] {
  if (run.modelCalls !== 'batch') return [];
  const conflicts: { path: (string | number)[]; message: string }[] = [];
  if (run.budget !== undefined) conflicts.push({ path: ['budget'], message: BATCH_LANE_REFUSES.budget });
  for (const [index, item] of run.items.entries()) {
    if (item.approval !== undefined && item.approval !== 'none')
      conflicts.push({ path: ['items', index, 'approval'], message: BATCH_LANE_REFUSES.approval });
    if (item.budget !== undefined)
      conflicts.push({ path: ['items', index, 'budget'], message: BATCH_LANE_REFUSES.budget });
  }
  return conflicts;
}

/** A batch definition as kept in `batches/*.json`. */
export const BatchDefinitionSchema = z
  .object({
    name: BatchNameSchema,
    description: z.string().max(500).optional(),
    schedule: BatchScheduleSchema,
    defaults: z
      .object({
        profile: z.string().optional(),
        context: JobContextSchema.optional(),
        approval: ApprovalPolicySchema.optional(),
        budget: BudgetSchema.optional(),
      })
      .strict()
      .default({}),
    /** Ceilings on the whole run's spend, shared by its jobs (on demand only). */
    budget: RunBudgetSchema.optional(),
    /** Jobs of this batch running at once (the batch Map's MaxConcurrency). */
    maxConcurrency: z.number().int().min(1).max(BATCH_LIMITS.maxConcurrency).default(5),
    /** `batch`: the Message Batches lane (half price, results within hours); see docs/batches.md. */
    modelCalls: ModelCallsSchema.default('on-demand'),
    /** The batch lane's deadline (default 12 h): what is still pending then is finished on demand. */
    batchDeadlineMinutes: BatchDeadlineMinutesSchema.default(BATCH_LIMITS.defaultDeadlineMinutes),
    items: z
      .array(BatchItemSchema)
      .min(1, 'must list at least one item')
      .max(
        BATCH_LIMITS.maxItemsDistributed,
        `must list at most ${BATCH_LIMITS.maxItemsDistributed} items (${BATCH_LIMITS.maxItems} with batchMap "inline"; see docs/batches.md: scale)`,
      ),
  })
  .strict()
  .superRefine((definition, ctx) => {
    const merged = definition.items.map((item) => mergeItem(definition.defaults, item));
    for (const [index, request] of merged.entries()) {
      const result = JobRequestSchema.safeParse(request);
      if (!result.success)
        for (const issue of result.error.issues)
          ctx.addIssue({ code: 'custom', message: issue.message, path: ['items', index, ...issue.path] });
    }
    for (const conflict of batchLaneConflicts({ ...definition, items: merged }))
      ctx.addIssue({ code: 'custom', ...conflict });
  });
export type BatchDefinition = z.infer<typeof BatchDefinitionSchema>;

type BatchDefaults = BatchDefinition['defaults'];
type BatchItem = z.infer<typeof BatchItemSchema>;

function mergeItem(
  defaults: BatchDefaults,
  item: BatchItem,
): Record<string, unknown> & { approval?: unknown; budget?: unknown } {
  const approval = item.approval ?? defaults.approval;
  const budget = item.budget ?? defaults.budget;
  return {
    task: item.task,
    context: { ...defaults.context, ...item.context },
    profile: item.profile ?? defaults.profile ?? DEFAULT_PROFILE,
    ...(approval !== undefined ? { approval } : {}),
    ...(budget !== undefined ? { budget } : {}),
  };
}

/** The job request of every item, with the batch's defaults applied (the definition is already valid). */
export function resolveBatchItems(definition: Pick<BatchDefinition, 'defaults' | 'items'>): JobRequest[] {
  return definition.items.map((item) => JobRequestSchema.parse(mergeItem(definition.defaults, item)));
}

export const BatchRunIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{2,63}$/, 'must be 3–64 characters of lowercase letters, digits and dashes');

/** A run id that reads well in the console: the batch name, the UTC minute and a random suffix. */
export function newBatchRunId(
  batchName: string,
  now: Date = new Date(),
  random: () => string = () => randomBytes(3).toString('hex'),
): string {
  const stamp = now.toISOString().slice(0, 16).replace(/[-:T]/g, '');
  return `${batchName}-${stamp}-${random()}`;
}

/**
 * The job id of one item: derived from the run and the item's position, so a retried start of the
 * same item reuses the job (and the execution name) instead of creating a second one.
 */
export function batchJobId(runId: string, index: number): string {
  return `${runId}-${String(index + 1).padStart(3, '0')}`;
}

/**
 * The batch state machine's input for a bundled definition: its name, not its items (StartBatchRun
 * reads those from the definitions bundled with it), so the input stays small whatever the batch.
 */
export function batchExecutionInput(
  definition: BatchDefinition,
  trigger: BatchExecutionInput['trigger'],
  runId?: string,
): BatchExecutionInput {
  return {
    batchName: definition.name,
    ...(runId ? { runId } : {}),
    maxConcurrency: definition.maxConcurrency,
    modelCalls: definition.modelCalls,
    batchDeadlineMinutes: definition.batchDeadlineMinutes,
    ...(definition.budget ? { budget: definition.budget } : {}),
    trigger,
  };
}

/** What starts a batch state machine execution (from a schedule, the API or `npm run batch`). */
export const BatchExecutionInputSchema = z.object({
  batchName: BatchNameSchema,
  /** Set by the API and the CLI; a scheduled run derives one from its execution name. */
  runId: BatchRunIdSchema.optional(),
  /**
   * The requests themselves, for a direct StartExecution (the whole input stays under 256 KiB). Unset,
   * StartBatchRun takes the requests recorded with the run (API, CLI) or the bundled definition's.
   */
  items: z.array(JobRequestSchema).min(1).max(BATCH_LIMITS.maxItemsDistributed).optional(),
  maxConcurrency: z.number().int().min(1).max(BATCH_LIMITS.maxConcurrency).default(5),
  modelCalls: ModelCallsSchema.default('on-demand'),
  batchDeadlineMinutes: BatchDeadlineMinutesSchema.default(BATCH_LIMITS.defaultDeadlineMinutes),
  /** Ceilings on the whole run's spend (on demand only): every job's calls are held against them too. */
  budget: RunBudgetSchema.optional(),
  trigger: z.enum(['schedule', 'api', 'cli']).default('schedule'),
});
export type BatchExecutionInput = z.infer<typeof BatchExecutionInputSchema>;

export const BATCH_RUN_STATUSES = ['RUNNING', 'COMPLETED', 'FAILED'] as const;
export const BatchRunStatusSchema = z.enum(BATCH_RUN_STATUSES);
export type BatchRunStatus = z.infer<typeof BatchRunStatusSchema>;

/** An item is PENDING until its job ends; then it carries the job's terminal status. */
export const BatchItemStatusSchema = z.union([z.literal('PENDING'), JobStatusSchema]);
export type BatchItemStatus = z.infer<typeof BatchItemStatusSchema>;
