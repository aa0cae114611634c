import * as z from 'zod';
import {
  BATCH_LIMITS,
  BatchItemStatusSchema,
  BatchNameSchema,
  BatchRunIdSchema,
  BatchRunStatusSchema,
  BatchDeadlineMinutesSchema,
  ModelCallsSchema,
} from '../shared/domain/batch-schemas';
import { JobIdSchema, JobRequestSchema, JobStatusSchema, SubtaskIdSchema } from '../shared/domain/schemas';
import { RunBudgetSchema } from '../shared/domain/budget';

/** `POST /jobs` body. */
export const CreateJobBodySchema = JobRequestSchema;

export const JobPathSchema = z.object({ jobId: JobIdSchema }).strict();

/** `POST /jobs/{jobId}/approval` body: a person's decision on the plan. */
export const ApprovalBodySchema = z
  .object({
    decision: z.enum(['approve', 'reject']),
    comment: z.string().trim().max(2_000, 'must be at most 2000 characters').optional(),
    /** Approve only: the subtask ids to keep; the others are taken out of the plan. */
    subtasks: z.array(SubtaskIdSchema).min(1, 'must keep at least one subtask').max(100).optional(),
  })
  .strict()
  .superRefine((body, check) => {
    if (body.subtasks && body.decision !== 'approve')
      check.addIssue({
        code: 'custom',
        path: ['subtasks'],
        message: 'is only allowed with decision "approve"',
      });
  });
export type ApprovalBody = z.infer<typeof ApprovalBodySchema>;

export const ListJobsQuerySchema = z
  .object({
    status: JobStatusSchema.optional(),
    limit: z.coerce.number().int('must be a whole number').min(1).max(100).default(20),
    nextToken: z.string().min(1).max(2_048).optional(),
  })
  .strict();
export type ListJobsQuery = z.infer<typeof ListJobsQuerySchema>;

export const IdempotencyKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1–128 characters of letters, digits, _ . : -');

export const JobAcceptedSchema = z.object({
  jobId: z.string(),
  status: JobStatusSchema,
  executionArn: z.string().nullable(),
});
export type JobAccepted = z.infer<typeof JobAcceptedSchema>;

const ErrorSummary = z.object({ name: z.string(), message: z.string() });

export const JobSummaryResponseSchema = z.object({
  jobId: z.string(),
  status: JobStatusSchema,
  task: z.string(),
  profile: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  error: ErrorSummary.nullable(),
});

export const JobListSchema = z.object({
  items: z.array(JobSummaryResponseSchema),
  nextToken: z.string().optional(),
});
export type JobList = z.infer<typeof JobListSchema>;

const UsageTotals = z.object({
  inputTokens: z.number().int().describe('Input tokens not read from or written to the prompt cache'),
  outputTokens: z.number().int(),
  cacheReadTokens: z.number().int().describe('Input tokens read from the prompt cache'),
  cacheWriteTokens: z.number().int().describe('Input tokens written to the prompt cache'),
  costUsd: z
    .number()
    .describe('Estimated cost in USD, from the price table in lambdas/shared/domain/pricing.ts'),
});

/** The job view of docs/architecture.md, as a schema (for the OpenAPI document). */
export const JobViewSchema = z.object({
  jobId: z.string(),
  status: JobStatusSchema,
  task: z.string(),
  context: z.record(z.string(), z.unknown()),
  profile: z.string(),
  plan: z
    .object({
      analysis: z.string(),
      subtasks: z.array(
        z.object({
          id: z.string(),
          type: z.string(),
          title: z.string(),
          description: z.string(),
          dependsOn: z.array(z.string()),
          priority: z.number().int(),
        }),
      ),
      synthesisGuidance: z.string().nullable(),
    })
    .nullable(),
  subtasks: z.array(
    z.object({
      id: z.string(),
      status: z.enum(['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED']),
      wave: z.number().int(),
      attempts: z.number().int(),
      output: z.string().nullable(),
      truncated: z
        .boolean()
        .describe('The output was cut off at the token limit (kept, and flagged to synthesis)'),
      error: ErrorSummary.nullable(),
      usage: UsageTotals.extend({
        model: z.string().nullable().describe('The model that answered; null until a call was recorded'),
      }).describe(
        "The subtask's recorded model call (the stored answer, or a refused or empty one); zeros until then",
      ),
    }),
  ),
  synthesis: z.string().nullable(),
  warnings: z.array(z.string()).describe('Caveats about a usable result, e.g. outputs cut off at max_tokens'),
  usage: UsageTotals.extend({
    byRole: z
      .object({ plan: UsageTotals, workers: UsageTotals, synthesis: UsageTotals })
      .describe('The same totals for the planning calls, all workers, and synthesis'),
  }).describe('Every model call of the job, summed'),
  error: ErrorSummary.nullable(),
  estimate: z
    .object({ costUsd: z.number(), inputTokens: z.number().int(), outputTokens: z.number().int() })
    .nullable()
    .describe(
      "Upper bound for the whole job from the plan: the planning calls as spent, each worker's and the synthesis's prompt and max_tokens at the price table; null until planned",
    ),
  budget: z
    .object({ maxCostUsd: z.number().nullable(), maxOutputTokens: z.number().int().nullable() })
    .nullable()
    .describe("The ceilings in force (the request's, the profile's or the deployment's); null when none"),
  approval: z
    .object({
      decision: z.enum(['approve', 'reject']),
      comment: z.string().nullable(),
      at: z.string(),
      by: z.enum(['person', 'auto']),
      subtasks: z.array(z.string()).nullable().describe('The subtasks kept, when the plan was trimmed'),
    })
    .nullable()
    .describe('The decision on the plan; null until there is one'),
  executionArn: z.string().nullable(),
  consoleUrl: z
    .string()
    .nullable()
    .describe('Deep link to the execution in the AWS Step Functions console (or the local console)'),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const TemplateVariables = z.object({ allowed: z.array(z.string()), required: z.array(z.string()) });

export const ProfileListSchema = z.object({
  items: z.array(
    z.object({
      name: z.string(),
      description: z.string(),
      default: z.boolean(),
      subtasks: z.object({ min: z.number().int(), max: z.number().int() }),
      subtaskTypes: z.array(z.object({ name: z.string(), description: z.string() })).nullable(),
      templates: z
        .object({ orchestrator: TemplateVariables, worker: TemplateVariables, synthesis: TemplateVariables })
        .nullable(),
    }),
  ),
});
/** `POST /batches` body: a definition's name, or a name for an inline list of items. */
export const CreateBatchBodySchema = z
  .object({
    batchName: BatchNameSchema,
    /** Inline items; when absent, the items of the batch definition named `batchName`. */
    items: z.array(JobRequestSchema).min(1).max(BATCH_LIMITS.maxItemsDistributed).optional(),
    /** Jobs at once; default the definition's, or 5 for inline items. */
    maxConcurrency: z.number().int().min(1).max(BATCH_LIMITS.maxConcurrency).optional(),
    /** `on-demand` or `batch` (the Message Batches lane); default the definition's, or on-demand for inline items. */
    modelCalls: ModelCallsSchema.optional(),
    /** The batch lane's deadline in minutes; default the definition's, or 720. */
    batchDeadlineMinutes: BatchDeadlineMinutesSchema.optional(),
    /** Ceilings on the whole run's spend, shared by its jobs; default the definition's (none). On demand only. */
    budget: RunBudgetSchema.optional(),
  })
  .strict();
export type CreateBatchBody = z.infer<typeof CreateBatchBodySchema>;

export const BatchRunPathSchema = z.object({ runId: BatchRunIdSchema }).strict();

export const ListBatchesQuerySchema = z
  .object({
    limit: z.coerce.number().int('must be a whole number').min(1).max(100).default(20),
    nextToken: z.string().min(1).max(2_048).optional(),
  })
  .strict();
export type ListBatchesQuery = z.infer<typeof ListBatchesQuerySchema>;

export const BatchAcceptedSchema = z.object({
  runId: z.string(),
  batchName: z.string(),
  status: BatchRunStatusSchema,
  itemCount: z.number().int(),
  executionArn: z.string().nullable(),
});
export type BatchAccepted = z.infer<typeof BatchAcceptedSchema>;

const Counts = z.record(z.string(), z.number().int());

const RunUsage = z.object({
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  cacheReadTokens: z.number().int(),
  cacheWriteTokens: z.number().int(),
  costUsd: z.number().describe('Estimated cost in USD at the rate paid (the batch rate in the batch lane)'),
  onDemandCostUsd: z.number().describe('What the same tokens would have cost on demand'),
});

/** A batch run, as `GET /batches/{runId}` returns it. */
export const BatchRunViewSchema = z.object({
  runId: z.string(),
  batchName: z.string(),
  status: BatchRunStatusSchema,
  trigger: z.string(),
  modelCalls: ModelCallsSchema,
  itemCount: z.number().int(),
  counts: Counts,
  usage: RunUsage.describe("The finished items' usage summed"),
  awaitingApproval: z.number().int().describe("Items whose job's plan waits for approval now"),
  budget: z
    .object({
      maxCostUsd: z.number().nullable(),
      maxOutputTokens: z.number().int().nullable(),
      committedUsd: z
        .number()
        .describe(
          "What the run's jobs spent plus what they hold now (calls in flight, synthesis reservations)",
        ),
    })
    .nullable()
    .describe("The run's ceilings, shared by its jobs; null when the run has none"),
  items: z.array(
    z.object({
      index: z.number().int(),
      jobId: z.string(),
      task: z.string(),
      status: BatchItemStatusSchema,
      error: ErrorSummary.nullable(),
      usage: RunUsage.nullable(),
    }),
  ),
  error: ErrorSummary.nullable(),
  executionArn: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const BatchRunListSchema = z.object({
  items: z.array(BatchRunViewSchema.omit({ items: true, usage: true, awaitingApproval: true })),
  nextToken: z.string().optional(),
});
export type BatchRunList = z.infer<typeof BatchRunListSchema>;
