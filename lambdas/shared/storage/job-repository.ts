import type { Tracer } from '@aws-lambda-powertools/tracer';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, queryPartition } from './dynamo';
import { batchRunKey, ENTITY, JOB_INDEXES, jobKey, subtaskKey } from './table-layout';
import type { ErrorSummary } from '../domain/errors';
import type { PolicyErrorName } from '../domain/error-policy';
import {
  type ApprovalPolicy,
  type Budget,
  type Ceilings,
  type Estimate,
  type LedgerRefusal,
  toMicroUsd,
} from '../domain/budget';
import {
  assembleText,
  CHUNK_SORT_KEY_PREFIX,
  chunkPrefix,
  placeText,
  type TextPlacement,
} from './large-text';
import * as z from 'zod';
import {
  type ApprovalDecision,
  type CallUsage,
  ErrorSummarySchema,
  JobStatusSchema,
  type JobRecord,
  JobRecordSchema,
  type JobStatus,
  type Plan,
  type SubtaskRecord,
  SubtaskRecordSchema,
  TERMINAL_JOB_STATUSES,
} from '../domain/schemas';

export const JobSummarySchema = z.object({
  jobId: z.string(),
  status: JobStatusSchema,
  task: z.string(),
  profile: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  error: ErrorSummarySchema.optional(),
});
export type JobSummary = z.infer<typeof JobSummarySchema>;

/** Where a listing stopped; opaque to callers (the API encodes it as `nextToken`). */
export type ListCursor = Record<string, string>;

/** An amount in the budget ledger: millionths of a USD and output tokens. */
export interface LedgerAmount {
  microUsd: number;
  outputTokens: number;
}

/** The outcome of a ledger change: held, or refused by the job's or the run's ceiling. */
export type LedgerChange = { held: true } | { held: false; over: LedgerRefusal };

export interface JobWithSubtasks {
  job: JobRecord;
  subtasks: SubtaskRecord[];
}

export type SubtaskAttempt =
  { kind: 'started'; subtask: SubtaskRecord } | { kind: 'already-succeeded'; subtask: SubtaskRecord };

/** Owners of chunked texts (see large-text.ts). */
const subtaskOutputOwner = (subtaskId: string) => `SUBTASK#${subtaskId}#output`;
const SYNTHESIS_OWNER = 'JOB#synthesis';

/** Longest error message stored; a Cause can carry a whole stack trace. */
export const ERROR_MESSAGE_MAX_CHARS = 4_000;

const boundedError = (error: ErrorSummary): ErrorSummary => ({
  name: error.name.slice(0, 200),
  message:
    error.message.length > ERROR_MESSAGE_MAX_CHARS
      ? `${error.message.slice(0, ERROR_MESSAGE_MAX_CHARS)}… (cut at ${ERROR_MESSAGE_MAX_CHARS} characters)`
      : error.message,
});

const BATCH_WRITE_LIMIT = 25;
const MAX_UNPROCESSED_ROUNDS = 8;

/**
 * Every read and write of jobs and subtasks. Writes that could be repeated by a Step Functions retry
 * are conditional, so a retried invocation neither duplicates an item nor counts anything twice.
 */
export class JobRepository {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly ttlDays: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private timestamps() {
    const now = this.now();
    return { iso: now.toISOString(), expiresAt: Math.floor(now.getTime() / 1000) + this.ttlDays * 86_400 };
  }

  /** Writes a new job; returns false (and changes nothing) when the id is taken. */
  async createJob(job: Omit<JobRecord, 'createdAt' | 'updatedAt'>): Promise<boolean> {
    const { iso, expiresAt } = this.timestamps();
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...jobKey(job.jobId),
            entity: ENTITY.job,
            ...job,
            jobStatus: job.status,
            createdAt: iso,
            updatedAt: iso,
            expiresAt,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** The job item alone: a synthesis stored in chunks is not read here (getJobWithSubtasks reads it). */
  async getJob(jobId: string): Promise<JobRecord | undefined> {
    const result = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: jobKey(jobId), ConsistentRead: true }),
    );
    return result.Item ? JobRecordSchema.parse(result.Item) : undefined;
  }

  async getJobWithSubtasks(jobId: string): Promise<JobWithSubtasks | undefined> {
    const items = await queryPartition(this.documents, this.tableName, jobKey(jobId).pk);
    const jobItem = items.find((item) => item.sk === 'JOB');
    if (!jobItem) return undefined;
    const chunks = items.filter(
      (item) => typeof item.sk === 'string' && item.sk.startsWith(CHUNK_SORT_KEY_PREFIX),
    );
    const subtasks = items
      .filter((item) => typeof item.sk === 'string' && item.sk.startsWith('SUBTASK#'))
      .map((item) => withAssembledOutput(SubtaskRecordSchema.parse(item), chunks))
      .sort((a, b) => a.index - b.index);
    const job = JobRecordSchema.parse(jobItem);
    return {
      job: job.synthesisRef
        ? { ...job, synthesis: assembleText(SYNTHESIS_OWNER, job.synthesisRef, chunks) }
        : job,
      subtasks,
    };
  }

  async getSubtask(jobId: string, subtaskId: string): Promise<SubtaskRecord | undefined> {
    const result = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: subtaskKey(jobId, subtaskId), ConsistentRead: true }),
    );
    if (!result.Item) return undefined;
    const subtask = SubtaskRecordSchema.parse(result.Item);
    if (!subtask.outputRef) return subtask;
    const owner = subtaskOutputOwner(subtaskId);
    const chunks = await queryPartition(
      this.documents,
      this.tableName,
      jobKey(jobId).pk,
      chunkPrefix(owner, subtask.outputRef.version),
    );
    return withAssembledOutput(subtask, chunks);
  }

  /**
   * Moves a job that has not finished to `status`. Returns false when the job is already terminal
   * (for example CANCELLED), so late writers never resurrect a finished job.
   */
  async setJobStatus(jobId: string, status: JobStatus): Promise<boolean> {
    return this.updateUnlessTerminal(jobId, 'SET #status = :status', { ':status': status });
  }

  async setExecutionArn(jobId: string, executionArn: string): Promise<void> {
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: jobKey(jobId),
        UpdateExpression: 'SET executionArn = :arn',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':arn': executionArn },
      }),
    );
  }

  /**
   * Records what planning cost when it produced no plan (the calls are billed all the same), so the
   * job's usage stays truthful. Never overwrites the usage of a stored plan.
   */
  async recordFailedPlanningUsage(jobId: string, usage: CallUsage, attempts: number): Promise<void> {
    await this.conditionalUpdate({
      TableName: this.tableName,
      Key: jobKey(jobId),
      UpdateExpression: 'SET planUsage = :usage, planAttempts = :attempts',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#plan)',
      ExpressionAttributeNames: { '#plan': 'plan' },
      ExpressionAttributeValues: { ':usage': usage, ':attempts': attempts },
    });
  }

  /**
   * Moves the job to PLANNING with the approval policy and budget in force (the request's, the
   * profile's or the deployment's), so every later step reads them from the job.
   */
  async startPlanning(
    jobId: string,
    policies: { approval: ApprovalPolicy; budget?: Budget },
  ): Promise<boolean> {
    return this.updateUnlessTerminal(
      jobId,
      // A budget the request carried but that is not in force (the batch lane's) must not be read as one.
      `SET #status = :status, approval = :approval${policies.budget ? ', budget = :budget' : ' REMOVE budget'}`,
      {
        ':status': 'PLANNING',
        ':approval': policies.approval,
        ...(policies.budget ? { ':budget': policies.budget } : {}),
      },
    );
  }

  /**
   * Adds an amount (negative to give back) to the budget ledgers of the job and, for a job of a
   * budgeted batch run, of the run (kept on the run's item). With `enforce`, a positive amount is
   * added only where it keeps each ledger within its ceiling; `hold` moves the job's synthesis
   * reservation in the same write. The run's ledger is written first and given back if the job's
   * refuses, so a crash in between can only over-reserve the run, never let it overspend.
   */
  async changeBudgetLedger(
    jobId: string,
    change: {
      microUsd: number;
      outputTokens: number;
      ceilings: Ceilings;
      enforce?: boolean;
      hold?: { from: LedgerAmount | 'absent'; to: LedgerAmount };
    },
  ): Promise<LedgerChange> {
    const amount = { microUsd: change.microUsd, outputTokens: change.outputTokens };
    const { run, job } = change.ceilings;
    if (run) {
      const added = await this.addToLedger(batchRunKey(run.runId), amount, change.enforce ? run : undefined);
      if (!added) return { held: false, over: 'run' };
    }
    const added = await this.addToLedger(
      jobKey(jobId),
      amount,
      change.enforce ? job : undefined,
      change.hold,
    );
    if (added) return { held: true };
    if (run) {
      await this.addToLedger(batchRunKey(run.runId), {
        microUsd: -amount.microUsd,
        outputTokens: -amount.outputTokens,
      });
    }
    return { held: false, over: 'job' };
  }

  /** One ledger's conditional ADD (the job's or a run's item); false when a ceiling or the hold refuses it. */
  private async addToLedger(
    key: Record<string, string>,
    amount: LedgerAmount,
    within?: Budget,
    hold?: { from: LedgerAmount | 'absent'; to: LedgerAmount },
  ): Promise<boolean> {
    const conditions = ['attribute_exists(pk)'];
    const values: Record<string, unknown> = { ':usd': amount.microUsd, ':tokens': amount.outputTokens };
    if (within?.maxCostUsd !== undefined && amount.microUsd > 0) {
      const room = toMicroUsd(within.maxCostUsd) - amount.microUsd;
      if (room < 0) return false;
      conditions.push(
        '(attribute_not_exists(budgetCommittedMicroUsd) OR budgetCommittedMicroUsd <= :usdRoom)',
      );
      values[':usdRoom'] = room;
    }
    if (within?.maxOutputTokens !== undefined && amount.outputTokens > 0) {
      const room = within.maxOutputTokens - amount.outputTokens;
      if (room < 0) return false;
      conditions.push(
        '(attribute_not_exists(budgetCommittedOutputTokens) OR budgetCommittedOutputTokens <= :tokenRoom)',
      );
      values[':tokenRoom'] = room;
    }
    let set = '';
    if (hold) {
      if (hold.from === 'absent') conditions.push('attribute_not_exists(synthesisHoldMicroUsd)');
      else {
        conditions.push('synthesisHoldMicroUsd = :holdUsd AND synthesisHoldOutputTokens = :holdTokens');
        values[':holdUsd'] = hold.from.microUsd;
        values[':holdTokens'] = hold.from.outputTokens;
      }
      set = 'SET synthesisHoldMicroUsd = :toUsd, synthesisHoldOutputTokens = :toTokens ';
      values[':toUsd'] = hold.to.microUsd;
      values[':toTokens'] = hold.to.outputTokens;
    }
    return this.conditionalUpdate({
      TableName: this.tableName,
      Key: key,
      UpdateExpression: `${set}ADD budgetCommittedMicroUsd :usd, budgetCommittedOutputTokens :tokens`,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeValues: values,
    });
  }

  /** Keeps AwaitApproval's task token with the job, which waits as AWAITING_APPROVAL; false if it ended. */
  async awaitApproval(jobId: string, taskToken: string): Promise<boolean> {
    return this.updateUnlessTerminal(jobId, 'SET #status = :status, approvalToken = :token', {
      ':status': 'AWAITING_APPROVAL',
      ':token': taskToken,
    });
  }

  /**
   * Records a person's decision on a job that awaits one, atomically: approve (with the plan's kept
   * subtasks and their waves, when trimmed) moves it to RUNNING; reject ends it CANCELLED with
   * PlanRejected. The token is taken out of the item and returned; undefined when the job was not
   * awaiting approval (anything else changed it first).
   */
  async decideApproval(
    jobId: string,
    decision: ApprovalDecision,
    trimmed?: { plan: Plan; waves: string[][]; estimate: Estimate },
  ): Promise<{ taskToken: string } | undefined> {
    const approve = decision.decision === 'approve';
    const sets = [
      '#status = :status',
      'jobStatus = :status',
      'approvalDecision = :decision',
      'updatedAt = :now',
    ];
    const values: Record<string, unknown> = {
      ':status': approve ? 'RUNNING' : 'CANCELLED',
      ':awaiting': 'AWAITING_APPROVAL',
      ':decision': decision,
      ':now': this.timestamps().iso,
    };
    if (!approve) {
      sets.push('#error = :error');
      values[':error'] = boundedError({
        name: 'PlanRejected' satisfies PolicyErrorName,
        message: `The plan was rejected${decision.comment ? `: ${decision.comment}` : ''}`,
      });
    }
    if (trimmed) {
      sets.push('#plan = :plan', 'waves = :waves', 'estimate = :estimate');
      Object.assign(values, {
        ':plan': trimmed.plan,
        ':waves': trimmed.waves,
        ':estimate': trimmed.estimate,
      });
    }
    try {
      const result = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: jobKey(jobId),
          UpdateExpression: `SET ${sets.join(', ')} REMOVE approvalToken`,
          ConditionExpression: '#status = :awaiting AND attribute_exists(approvalToken)',
          ExpressionAttributeNames: {
            '#status': 'status',
            ...(approve ? {} : { '#error': 'error' }),
            ...(trimmed ? { '#plan': 'plan' } : {}),
          },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_OLD',
        }),
      );
      const token = (result.Attributes as { approvalToken?: unknown } | undefined)?.approvalToken;
      return typeof token === 'string' ? { taskToken: token } : undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** Deletes the items of subtasks a person took out of the plan before it ran. */
  async removeSubtasks(jobId: string, subtaskIds: readonly string[]): Promise<void> {
    for (const subtaskId of subtaskIds) {
      await this.documents.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: subtaskKey(jobId, subtaskId),
          ConditionExpression: 'attribute_not_exists(pk) OR #status = :pending',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':pending': 'PENDING' },
        }),
      );
    }
  }

  /** Stores the validated plan and one PENDING item per subtask, then moves the job to RUNNING. */
  async savePlan(
    jobId: string,
    plan: Plan,
    waves: string[][],
    usage: CallUsage,
    attempts: number,
    extras: { estimate?: Estimate; approvalDecision?: ApprovalDecision; awaitApproval?: boolean } = {},
  ): Promise<boolean> {
    const { iso, expiresAt } = this.timestamps();
    const waveOf = new Map(waves.flatMap((wave, index) => wave.map((id) => [id, index] as const)));
    const subtaskItems = plan.subtasks.map((subtask, index) => ({
      ...subtaskKey(jobId, subtask.id),
      entity: 'subtask',
      ...subtask,
      jobId,
      index,
      wave: waveOf.get(subtask.id) ?? 0,
      status: 'PENDING',
      attempts: 0,
      expiresAt,
    }));
    await this.batchPut(subtaskItems);
    return this.updateUnlessTerminal(
      jobId,
      `SET #status = :status, #plan = :plan, waves = :waves, planUsage = :usage, planAttempts = :attempts, updatedAt = :now${
        extras.estimate ? ', estimate = :estimate' : ''
      }${extras.approvalDecision ? ', approvalDecision = :decision' : ''}`,
      {
        ':status': extras.awaitApproval ? 'AWAITING_APPROVAL' : 'RUNNING',
        ':plan': plan,
        ':waves': waves,
        ':usage': usage,
        ':attempts': attempts,
        ':now': iso,
        ...(extras.estimate ? { ':estimate': extras.estimate } : {}),
        ...(extras.approvalDecision ? { ':decision': extras.approvalDecision } : {}),
      },
      { '#plan': 'plan' },
    );
  }

  /**
   * Counts an attempt and marks the subtask RUNNING, atomically. When an earlier invocation already
   * succeeded, nothing changes and the stored result is returned instead.
   */
  async beginSubtaskAttempt(jobId: string, subtaskId: string): Promise<SubtaskAttempt | undefined> {
    const { iso } = this.timestamps();
    try {
      const result = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: subtaskKey(jobId, subtaskId),
          UpdateExpression:
            'SET #status = :running, startedAt = if_not_exists(startedAt, :now), updatedAt = :now ADD attempts :one',
          ConditionExpression: 'attribute_exists(pk) AND #status <> :succeeded',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':running': 'RUNNING',
            ':succeeded': 'SUCCEEDED',
            ':one': 1,
            ':now': iso,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { kind: 'started', subtask: SubtaskRecordSchema.parse(result.Attributes) };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const existing = await this.getSubtask(jobId, subtaskId);
      return existing ? { kind: 'already-succeeded', subtask: existing } : undefined;
    }
  }

  /**
   * Takes back an attempt that never reached the model (the governor deferred it): the count and
   * status go back to what they were, so `attempts` counts model tries only. Ignored (false) when the
   * subtask moved on meanwhile.
   */
  async undoSubtaskAttempt(jobId: string, subtaskId: string, attempts: number): Promise<boolean> {
    const { iso } = this.timestamps();
    const first = attempts === 1;
    return this.conditionalUpdate({
      TableName: this.tableName,
      Key: subtaskKey(jobId, subtaskId),
      UpdateExpression: `SET #status = :before, updatedAt = :now ADD attempts :minusOne${first ? ' REMOVE startedAt' : ''}`,
      ConditionExpression: 'attempts = :attempts AND #status = :running',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':before': first ? 'PENDING' : 'RUNNING',
        ':running': 'RUNNING',
        ':attempts': attempts,
        ':minusOne': -1,
        ':now': iso,
      },
    });
  }

  /**
   * Records a subtask's output. A second write for the same subtask is ignored (returns false). An
   * output too large to keep inline goes to chunk items first; the subtask item then points at them.
   */
  async completeSubtask(
    jobId: string,
    subtaskId: string,
    result: { output: string; usage: CallUsage; stopReason: string | null },
  ): Promise<boolean> {
    const { iso } = this.timestamps();
    const placement = await this.storeText(jobId, subtaskOutputOwner(subtaskId), result.output);
    return this.conditionalUpdate({
      TableName: this.tableName,
      Key: subtaskKey(jobId, subtaskId),
      UpdateExpression: `SET #status = :succeeded, ${placement.kind === 'inline' ? '#output = :output' : 'outputRef = :ref'}, #usage = :usage, stopReason = :stop, finishedAt = :now, updatedAt = :now REMOVE #error`,
      ConditionExpression: 'attribute_exists(pk) AND #status <> :succeeded',
      ExpressionAttributeNames: {
        '#status': 'status',
        '#usage': 'usage',
        '#error': 'error',
        ...(placement.kind === 'inline' ? { '#output': 'output' } : {}),
      },
      ExpressionAttributeValues: {
        ':succeeded': 'SUCCEEDED',
        ...(placement.kind === 'inline' ? { ':output': placement.text } : { ':ref': placement.ref }),
        ':usage': result.usage,
        ':stop': result.stopReason ?? 'unknown',
        ':now': iso,
      },
    });
  }

  /**
   * Marks a subtask FAILED with its error, unless it already succeeded. `usage` is the billed call
   * that produced the failure (a refusal, an empty answer), when there was one.
   */
  async failSubtask(
    jobId: string,
    subtaskId: string,
    error: ErrorSummary,
    usage?: CallUsage,
  ): Promise<boolean> {
    const { iso } = this.timestamps();
    return this.conditionalUpdate({
      TableName: this.tableName,
      Key: subtaskKey(jobId, subtaskId),
      UpdateExpression: `SET #status = :failed, #error = :error, finishedAt = :now, updatedAt = :now${usage ? ', #usage = :usage' : ''}`,
      ConditionExpression: 'attribute_exists(pk) AND #status <> :succeeded',
      ExpressionAttributeNames: {
        '#status': 'status',
        '#error': 'error',
        ...(usage ? { '#usage': 'usage' } : {}),
      },
      ExpressionAttributeValues: {
        ':failed': 'FAILED',
        ':succeeded': 'SUCCEEDED',
        ':error': boundedError(error),
        ':now': iso,
        ...(usage ? { ':usage': usage } : {}),
      },
    });
  }

  /**
   * Marks every subtask still PENDING or RUNNING as FAILED with `error` (the job ended without them:
   * its execution stopped, timed out or was interrupted). Subtasks that finished keep their outcome.
   * Returns the ids it failed.
   */
  async failUnfinishedSubtasks(jobId: string, error: ErrorSummary): Promise<string[]> {
    const stored = await this.getJobWithSubtasks(jobId);
    const unfinished = (stored?.subtasks ?? []).filter(
      (subtask) => subtask.status === 'PENDING' || subtask.status === 'RUNNING',
    );
    const { iso } = this.timestamps();
    const failed: string[] = [];
    for (const subtask of unfinished) {
      const updated = await this.conditionalUpdate({
        TableName: this.tableName,
        Key: subtaskKey(jobId, subtask.id),
        UpdateExpression: 'SET #status = :failed, #error = :error, finishedAt = :now, updatedAt = :now',
        ConditionExpression: 'attribute_exists(pk) AND #status IN (:pending, :running)',
        ExpressionAttributeNames: { '#status': 'status', '#error': 'error' },
        ExpressionAttributeValues: {
          ':failed': 'FAILED',
          ':pending': 'PENDING',
          ':running': 'RUNNING',
          ':error': boundedError(error),
          ':now': iso,
        },
      });
      if (updated) failed.push(subtask.id);
    }
    return failed;
  }

  /** Records the usage of a synthesis call whose answer could not be used (refused or empty). */
  async recordFailedSynthesisUsage(jobId: string, usage: CallUsage): Promise<boolean> {
    return this.updateUnlessTerminal(jobId, 'SET synthesisUsage = :usage', { ':usage': usage });
  }

  /** Writes the deliverable and the final status (SUCCEEDED or PARTIAL); a large deliverable goes to chunks. */
  async completeJob(
    jobId: string,
    outcome: {
      status: 'SUCCEEDED' | 'PARTIAL';
      synthesis: string;
      usage: CallUsage;
      stopReason?: string | null;
      error?: ErrorSummary;
    },
  ): Promise<boolean> {
    const placement = await this.storeText(jobId, SYNTHESIS_OWNER, outcome.synthesis);
    const errorUpdate = outcome.error ? ', #error = :error' : ' REMOVE #error';
    const synthesisUpdate = placement.kind === 'inline' ? 'synthesis = :synthesis' : 'synthesisRef = :ref';
    return this.updateUnlessTerminal(
      jobId,
      `SET #status = :status, ${synthesisUpdate}, synthesisUsage = :usage, synthesisStopReason = :stop, updatedAt = :now${errorUpdate}`,
      {
        ':status': outcome.status,
        ...(placement.kind === 'inline' ? { ':synthesis': placement.text } : { ':ref': placement.ref }),
        ':usage': outcome.usage,
        ':stop': outcome.stopReason ?? 'unknown',
        ...(outcome.error ? { ':error': boundedError(outcome.error) } : {}),
      },
      { '#error': 'error' },
    );
  }

  /** Marks an unfinished job CANCELLED. Returns false when it had already finished. */
  async cancelJob(jobId: string, reason: ErrorSummary): Promise<boolean> {
    return this.updateUnlessTerminal(
      jobId,
      'SET #status = :status, #error = :error, updatedAt = :now',
      { ':status': 'CANCELLED', ':error': boundedError(reason) },
      { '#error': 'error' },
    );
  }

  /** Jobs newest first, optionally of one status, a page at a time (an index query, never a scan). */
  async listJobs(options: { status?: JobStatus; limit: number; cursor?: ListCursor }): Promise<{
    items: JobSummary[];
    cursor?: ListCursor;
  }> {
    const byStatus = options.status !== undefined;
    const page = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: byStatus ? JOB_INDEXES.byStatus : JOB_INDEXES.byCreatedAt,
        KeyConditionExpression: byStatus ? 'jobStatus = :key' : 'entity = :key',
        ExpressionAttributeValues: { ':key': byStatus ? options.status : ENTITY.job },
        ScanIndexForward: false,
        Limit: options.limit,
        ExclusiveStartKey: options.cursor,
      }),
    );
    return {
      items: (page.Items ?? []).map((item) => JobSummarySchema.parse(item)),
      ...(page.LastEvaluatedKey ? { cursor: page.LastEvaluatedKey as ListCursor } : {}),
    };
  }

  /** Records FAILED and why. A job that already reached a terminal status keeps it. */
  async failJob(jobId: string, error: ErrorSummary): Promise<boolean> {
    return this.updateUnlessTerminal(
      jobId,
      'SET #status = :status, #error = :error, updatedAt = :now',
      { ':status': 'FAILED', ':error': boundedError(error) },
      { '#error': 'error' },
    );
  }

  private async updateUnlessTerminal(
    jobId: string,
    updateExpression: string,
    values: Record<string, unknown>,
    names: Record<string, string> = {},
  ): Promise<boolean> {
    const terminal = Object.fromEntries(TERMINAL_JOB_STATUSES.map((status, i) => [`:terminal${i}`, status]));
    // Every status change is mirrored into `jobStatus`, the key of the by-status index (job items only).
    let expression = updateExpression.includes('updatedAt')
      ? updateExpression
      : updateExpression.replace(/^SET /, 'SET updatedAt = :now, ');
    if (':status' in values) expression = expression.replace(/^SET /, 'SET jobStatus = :status, ');
    return this.conditionalUpdate({
      TableName: this.tableName,
      Key: jobKey(jobId),
      UpdateExpression: expression,
      ConditionExpression: `attribute_exists(pk) AND NOT (#status IN (${Object.keys(terminal).join(', ')}))`,
      ExpressionAttributeNames: { '#status': 'status', ...names },
      ExpressionAttributeValues: { ':now': this.timestamps().iso, ...values, ...terminal },
    });
  }

  /** Writes the chunk items of a text too large to keep inline; says where the text is. */
  private async storeText(jobId: string, owner: string, text: string): Promise<TextPlacement> {
    const placement = placeText(owner, text);
    if (placement.kind === 'chunked') {
      const { expiresAt } = this.timestamps();
      await this.batchPut(
        placement.chunks.map((chunk) => ({
          pk: jobKey(jobId).pk,
          sk: chunk.sk,
          entity: 'chunk',
          text: chunk.text,
          expiresAt,
        })),
      );
    }
    return placement;
  }

  private async conditionalUpdate(input: ConstructorParameters<typeof UpdateCommand>[0]): Promise<boolean> {
    try {
      await this.documents.send(new UpdateCommand(input));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  private async batchPut(items: Record<string, unknown>[]): Promise<void> {
    for (let start = 0; start < items.length; start += BATCH_WRITE_LIMIT) {
      let requests = items.slice(start, start + BATCH_WRITE_LIMIT).map((Item) => ({ PutRequest: { Item } }));
      for (let round = 0; requests.length > 0; round++) {
        if (round >= MAX_UNPROCESSED_ROUNDS) throw new Error('DynamoDB kept returning unprocessed items');
        const result = await this.documents.send(
          new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }),
        );
        requests = (result.UnprocessedItems?.[this.tableName] ?? []).flatMap((request) =>
          request.PutRequest?.Item ? [{ PutRequest: { Item: request.PutRequest.Item } }] : [],
        );
        if (requests.length > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** round));
      }
    }
  }
}

function withAssembledOutput(
  subtask: SubtaskRecord,
  chunks: readonly Record<string, unknown>[],
): SubtaskRecord {
  if (!subtask.outputRef) return subtask;
  return { ...subtask, output: assembleText(subtaskOutputOwner(subtask.id), subtask.outputRef, chunks) };
}

/** Records an AWS SDK client's calls as X-Ray subsegments (Powertools' `Tracer`). */
export type ClientTracer = Pick<Tracer, 'captureAWSv3Client'>;

/** Credentials from a function's own environment (what Lambda sets from its role). */
export interface EnvCredentials {
  AWS_ACCESS_KEY_ID?: string | undefined;
  AWS_SECRET_ACCESS_KEY?: string | undefined;
  AWS_SESSION_TOKEN?: string | undefined;
}

/**
 * Local runs only (an endpoint is set): sign with the credentials in the function's environment, so
 * the local stack knows which function's role makes the call; dummies when there are none.
 */
export function localCredentials(env: EnvCredentials) {
  return {
    accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'local',
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'local',
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
  };
}

/** One DynamoDB client per container; `endpoint` is set only for local runs against dynalite. */
export function createDocumentClient(options: {
  region: string;
  endpoint?: string;
  tracer?: ClientTracer;
  credentials?: EnvCredentials;
}): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: options.region,
    ...(options.endpoint
      ? { endpoint: options.endpoint, credentials: localCredentials(options.credentials ?? {}) }
      : {}),
  });
  options.tracer?.captureAWSv3Client(client);
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** The repository a function uses, from its parsed environment. */
export function repositoryFromEnv(
  env: EnvCredentials & {
    TABLE_NAME: string;
    AWS_REGION: string;
    DYNAMODB_ENDPOINT?: string | undefined;
    JOB_TTL_DAYS: number;
  },
  tracer?: ClientTracer,
): JobRepository {
  const documents = createDocumentClient({
    region: env.AWS_REGION,
    endpoint: env.DYNAMODB_ENDPOINT,
    credentials: env,
    ...(tracer ? { tracer } : {}),
  });
  return new JobRepository(documents, env.TABLE_NAME, env.JOB_TTL_DAYS);
}
