import * as z from 'zod';
import {
  CUSTOM_PROFILE,
  DEFAULT_PROFILE,
  PROFILE_NAMES,
  templateProblems,
  TemplatesSchema,
} from './profiles';
import { ApprovalPolicySchema, BudgetSchema, EstimateSchema, RunCeilingSchema } from './budget';

/** Limits on what a caller may submit; enforced wherever a job request enters the system. */
export const REQUEST_LIMITS = {
  taskMaxChars: 8_000,
  contextMaxBytes: 16_000,
  profileMaxChars: 64,
} as const;

export const JobIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{2,79}$/, 'must be 3–80 characters of lowercase letters, digits and dashes');

export const JobContextSchema = z
  .record(z.string(), z.unknown())
  .refine((value) => Buffer.byteLength(JSON.stringify(value)) <= REQUEST_LIMITS.contextMaxBytes, {
    message: `must serialise to at most ${REQUEST_LIMITS.contextMaxBytes} bytes of JSON`,
  });

/** What a caller asks for: the input of the CLI, of `POST /jobs` and of a batch item. */
export const JobRequestSchema = z
  .object({
    task: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(REQUEST_LIMITS.taskMaxChars, `must be at most ${REQUEST_LIMITS.taskMaxChars} characters`),
    context: JobContextSchema.default({}),
    profile: z
      .string()
      .max(REQUEST_LIMITS.profileMaxChars)
      .refine((value) => PROFILE_NAMES.includes(value), {
        message: `unknown profile; known profiles: ${PROFILE_NAMES.join(', ')}`,
      })
      .default(DEFAULT_PROFILE),
    /** The custom profile's prompts, with {{variables}}. Only (and always) with profile "custom". */
    templates: TemplatesSchema.optional(),
    /** Whether a person approves the plan before the workers start; default the profile's, then the deployment's ("none"). */
    approval: ApprovalPolicySchema.optional(),
    /** Ceilings on the job's spend; default the profile's, then the deployment's (none). */
    budget: BudgetSchema.optional(),
  })
  .strict()
  .superRefine((request, check) => {
    if (request.profile === CUSTOM_PROFILE && !request.templates) {
      check.addIssue({
        code: 'custom',
        path: ['templates'],
        message: 'is required with profile "custom" (orchestrator and worker)',
      });
    }
    if (request.profile !== CUSTOM_PROFILE && request.templates) {
      check.addIssue({
        code: 'custom',
        path: ['templates'],
        message: `is only allowed with profile "custom", not "${request.profile}"`,
      });
    }
    if (request.templates) {
      for (const problem of templateProblems(request.templates, request.context))
        check.addIssue({ code: 'custom', ...problem });
    }
  });
export type JobRequest = z.infer<typeof JobRequestSchema>;

export const JOB_STATUSES = [
  'QUEUED',
  'PLANNING',
  'AWAITING_APPROVAL',
  'RUNNING',
  'SYNTHESIZING',
  'SUCCEEDED',
  'PARTIAL',
  'FAILED',
  'CANCELLED',
] as const;
export const JobStatusSchema = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof JobStatusSchema>;
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['SUCCEEDED', 'PARTIAL', 'FAILED', 'CANCELLED'];

export const SubtaskStatusSchema = z.enum(['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED']);
export type SubtaskStatus = z.infer<typeof SubtaskStatusSchema>;

export const SubtaskIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be 1–64 characters of lowercase letters, digits and dashes');

/** One subtask as the orchestrator model proposes it. */
export const PlannedSubtaskSchema = z.object({
  id: SubtaskIdSchema.describe('Short kebab-case identifier, unique within the plan'),
  type: z.string().min(1).max(40).describe('Kind of work, e.g. research, analysis, variation'),
  title: z.string().min(1).max(200).describe('A few words naming the subtask'),
  description: z.string().min(1).max(4_000).describe('What the worker must produce, and what to leave out'),
  dependsOn: z
    .array(z.string())
    .default([])
    .describe('Ids of subtasks whose results this one needs; empty when independent'),
  priority: z
    .number()
    .int()
    .min(1)
    .max(5)
    .default(3)
    .describe('1 (low) to 5 (urgent); higher starts first within a wave'),
});
export type PlannedSubtask = z.infer<typeof PlannedSubtaskSchema>;

/** The orchestrator's structured output, before the semantic checks (ids, cycles, bounds). */
export const PlanSchema = z.object({
  analysis: z.string().min(1).max(4_000).describe('Why these subtasks, and how they fit together'),
  subtasks: z.array(PlannedSubtaskSchema).describe('The subtasks worth doing for this task'),
  synthesisGuidance: z
    .string()
    .max(4_000)
    .optional()
    .describe('How the final deliverable should be structured and what it should emphasise'),
});
export type Plan = z.infer<typeof PlanSchema>;

export const UsageSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  cacheReadTokens: z.number().int().nonnegative().default(0),
  cacheWriteTokens: z.number().int().nonnegative().default(0),
});
export type Usage = z.infer<typeof UsageSchema>;

export const ErrorSummarySchema = z.object({ name: z.string(), message: z.string() });

/** Usage of one model call, priced, as stored per role on the job. */
export const CallUsageSchema = UsageSchema.extend({
  model: z.string(),
  costUsd: z.number().nonnegative(),
  /** Set when the call went through the Message Batches API: `costUsd` is then at the batch rate. */
  lane: z.literal('batch').optional(),
  /** Set when the call's cache writes used the 1-hour TTL (priced higher than the default 5 minutes). */
  cacheTtl: z.literal('1h').optional(),
});
export type CallUsage = z.infer<typeof CallUsageSchema>;

/**
 * Where a text too large to keep inline is stored: `chunks` items in the job's partition, under
 * `CHUNK#<owner>#<version>#<index>`. A fresh version per write, so a retried write never mixes with
 * the chunks of an attempt that crashed half-way.
 */
export const TextRefSchema = z.object({
  version: z.string(),
  chunks: z.number().int().positive(),
  bytes: z.number().int().positive(),
});
export type TextRef = z.infer<typeof TextRefSchema>;

export const ApprovalDecisionSchema = z.object({
  decision: z.enum(['approve', 'reject']),
  comment: z.string().nullable().default(null),
  at: z.string(),
  /** The subtask ids kept, when a person trimmed the plan. */
  subtasks: z.array(z.string()).optional(),
  /** Who decided: a person (`person`) or the auto-approval under `autoApproveUnderUsd` (`auto`). */
  by: z.enum(['person', 'auto']).default('person'),
});
export type ApprovalDecision = z.infer<typeof ApprovalDecisionSchema>;

/** The job as stored in DynamoDB (pk `JOB#<id>`, sk `JOB`). */
export const JobRecordSchema = z.object({
  jobId: JobIdSchema,
  status: JobStatusSchema,
  task: z.string(),
  context: z.record(z.string(), z.unknown()).default({}),
  profile: z.string(),
  templates: TemplatesSchema.optional(),
  plan: PlanSchema.optional(),
  /** Subtask ids by dependency wave, each wave in start order (priority first). */
  waves: z.array(z.array(z.string())).optional(),
  planAttempts: z.number().int().optional(),
  planUsage: CallUsageSchema.optional(),
  synthesis: z.string().optional(),
  /** Set instead of `synthesis` in the item when the deliverable is stored in chunks (read back as `synthesis`). */
  synthesisRef: TextRefSchema.optional(),
  /** Why the synthesis call stopped; `max_tokens` means the deliverable was cut off. */
  synthesisStopReason: z.string().optional(),
  synthesisUsage: CallUsageSchema.optional(),
  error: ErrorSummarySchema.optional(),
  executionArn: z.string().optional(),
  /** The approval policy and budget in force (the request's, else the profile's, else the deployment's). */
  approval: ApprovalPolicySchema.optional(),
  budget: BudgetSchema.optional(),
  /** A job of a budgeted batch run: the run's ceilings, over the run's ledger (kept on the run's item). */
  runBudget: RunCeilingSchema.optional(),
  /** Upper bound for the whole job, from the plan (set when the plan is stored). */
  estimate: EstimateSchema.optional(),
  /** A person's (or the auto-approval's) decision on the plan. */
  approvalDecision: ApprovalDecisionSchema.optional(),
  /** The AwaitApproval task token while the job waits; never leaves the table. */
  approvalToken: z.string().optional(),
  /** The budget ledger: spent plus held (calls in flight and the synthesis reservation). */
  budgetCommittedMicroUsd: z.number().int().optional(),
  budgetCommittedOutputTokens: z.number().int().optional(),
  /** The synthesis's reservation, held in the ledger from before the first worker until synthesis starts. */
  synthesisHoldMicroUsd: z.number().int().optional(),
  synthesisHoldOutputTokens: z.number().int().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type JobRecord = z.infer<typeof JobRecordSchema>;

/** One subtask as stored in DynamoDB (pk `JOB#<id>`, sk `SUBTASK#<id>`). */
export const SubtaskRecordSchema = PlannedSubtaskSchema.extend({
  jobId: JobIdSchema,
  index: z.number().int().nonnegative(),
  wave: z.number().int().nonnegative().default(0),
  status: SubtaskStatusSchema,
  attempts: z.number().int().nonnegative().default(0),
  output: z.string().optional(),
  /** Set instead of `output` in the item when the output is stored in chunks (read back as `output`). */
  outputRef: TextRefSchema.optional(),
  stopReason: z.string().optional(),
  error: ErrorSummarySchema.optional(),
  usage: CallUsageSchema.optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
});
export type SubtaskRecord = z.infer<typeof SubtaskRecordSchema>;

/** The state machine's input. `request` lets a caller start an execution directly, without a job record. */
export const ExecutionInputSchema = z.object({
  jobId: JobIdSchema,
  request: JobRequestSchema.optional(),
});
export type ExecutionInput = z.infer<typeof ExecutionInputSchema>;

/** What a Catch puts at `$.error`. */
export const CaughtErrorSchema = z.object({ Error: z.string().optional(), Cause: z.string().optional() });
