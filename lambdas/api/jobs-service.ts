import {
  ExecutionDoesNotExist,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { isBudgeted } from '../shared/domain/budget';
import type { PolicyErrorName } from '../shared/domain/error-policy';
import { profileNamed } from '../shared/domain/profiles';
import { jobEstimate, type JobRoles, roleFor } from '../shared/model/worst-cases';
import { dependencyWaves } from '../plan/plan-waves';
import * as z from 'zod';
import { newJobId } from '../shared/domain/job-id';
import type { JobRepository, ListCursor } from '../shared/storage/job-repository';
import { type JobView, toJobView } from '../shared/views/job-view';
import { type JobRequest, TERMINAL_JOB_STATUSES } from '../shared/domain/schemas';
import type { ApprovalBody, JobAccepted, JobList, ListJobsQuery } from './api-schemas';
import { HttpError } from './http-error';
import { type IdempotencyStore, requestFingerprint } from './idempotency';

/** What the API needs from Step Functions. */
export interface ExecutionStarter {
  start(name: string, input: string): Promise<string>;
  stop(executionArn: string, error: string, cause: string): Promise<void>;
}

export function sfnExecutionStarter(client: SFNClient, stateMachineArn: string): ExecutionStarter {
  return {
    async start(name, input) {
      const result = await client.send(new StartExecutionCommand({ stateMachineArn, name, input }));
      if (!result.executionArn) throw new Error('StartExecution returned no executionArn');
      return result.executionArn;
    },
    async stop(executionArn, error, cause) {
      try {
        await client.send(new StopExecutionCommand({ executionArn, error, cause }));
      } catch (failure) {
        // Already gone (finished long ago, or never started): nothing left to stop.
        if (!(failure instanceof ExecutionDoesNotExist)) throw failure;
      }
    },
  };
}

/** What the API needs to answer AwaitApproval's task token. */
export interface TaskTokenResponder {
  succeed(taskToken: string, output: string): Promise<void>;
  fail(taskToken: string, error: string, cause: string): Promise<void>;
}

export function sfnTaskTokens(client: SFNClient): TaskTokenResponder {
  return {
    async succeed(taskToken, output) {
      await client.send(new SendTaskSuccessCommand({ taskToken, output }));
    },
    async fail(taskToken, error, cause) {
      await client.send(new SendTaskFailureCommand({ taskToken, error, cause }));
    },
  };
}

/** Step Functions' answers for a token whose task no longer waits. */
const EXPIRED_TOKEN_ERRORS = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

export interface JobsServiceDependencies {
  repository: Pick<
    JobRepository,
    | 'cancelJob'
    | 'createJob'
    | 'decideApproval'
    | 'failJob'
    | 'failUnfinishedSubtasks'
    | 'getJob'
    | 'getJobWithSubtasks'
    | 'listJobs'
    | 'removeSubtasks'
    | 'setExecutionArn'
  >;
  /** Answers the approval task tokens; without it, the approval route answers 404. */
  taskTokens?: TaskTokenResponder;
  /** The deployment's worker and synthesis calls, to re-estimate a trimmed plan. */
  roles?: JobRoles;
  idempotency: IdempotencyStore;
  executions: ExecutionStarter;
  /** Local servers only: the execution console that job views link to. */
  localConsoleUrl?: string;
}

const CursorTokenSchema = z
  .object({ s: z.string().optional(), k: z.record(z.string(), z.string()) })
  .strict();

const encodeToken = (status: string | undefined, cursor: ListCursor) =>
  Buffer.from(JSON.stringify({ ...(status ? { s: status } : {}), k: cursor })).toString('base64url');

function decodeToken(token: string, status: string | undefined): ListCursor {
  const invalid = () =>
    new HttpError(400, 'VALIDATION_FAILED', 'nextToken: is not a token returned by this API for this query', [
      { field: 'nextToken', message: 'is not a token returned by this API for this query' },
    ]);
  let parsed;
  try {
    parsed = CursorTokenSchema.safeParse(JSON.parse(Buffer.from(token, 'base64url').toString('utf8')));
  } catch {
    throw invalid();
  }
  if (!parsed.success || parsed.data.s !== status) throw invalid();
  return parsed.data.k;
}

/** The jobs API's operations, independent of HTTP. */
export class JobsService {
  constructor(private readonly deps: JobsServiceDependencies) {}

  /** Records the job as QUEUED, then starts its execution (execution name = job id). */
  async createJob(
    request: JobRequest,
    idempotencyKey?: string,
  ): Promise<{ accepted: JobAccepted; replayed: boolean }> {
    const jobId = newJobId(request.task);
    if (idempotencyKey) {
      const claim = await this.deps.idempotency.claim(idempotencyKey, requestFingerprint(request), jobId);
      if (claim.kind === 'existing') {
        if (!claim.sameRequest) {
          throw new HttpError(
            409,
            'IDEMPOTENCY_KEY_REUSED',
            'Idempotency-Key: was already used for a different request',
            [{ field: 'Idempotency-Key', message: 'was already used for a different request' }],
          );
        }
        const job = await this.deps.repository.getJob(claim.jobId);
        return {
          accepted: {
            jobId: claim.jobId,
            status: job?.status ?? 'QUEUED',
            executionArn: job?.executionArn ?? null,
          },
          replayed: true,
        };
      }
    }

    await this.deps.repository.createJob({ jobId, status: 'QUEUED', ...request });
    let executionArn: string;
    try {
      executionArn = await this.deps.executions.start(jobId, JSON.stringify({ jobId }));
    } catch (error) {
      const message = `Could not start the execution: ${error instanceof Error ? error.message : String(error)}`;
      await this.deps.repository.failJob(jobId, { name: 'StartExecutionFailed', message });
      throw new HttpError(
        503,
        'EXECUTION_NOT_STARTED',
        `${message}. The job ${jobId} is recorded as FAILED; try again.`,
        undefined,
        {
          cause: error,
        },
      );
    }
    await this.deps.repository.setExecutionArn(jobId, executionArn);
    return { accepted: { jobId, status: 'QUEUED', executionArn }, replayed: false };
  }

  async getJob(jobId: string): Promise<JobView> {
    const stored = await this.deps.repository.getJobWithSubtasks(jobId);
    if (!stored)
      throw new HttpError(404, 'JOB_NOT_FOUND', `jobId: no job ${jobId}`, [
        { field: 'jobId', message: 'no such job' },
      ]);
    return toJobView(stored, { localConsoleUrl: this.deps.localConsoleUrl });
  }

  async listJobs(query: ListJobsQuery): Promise<JobList> {
    const cursor = query.nextToken ? decodeToken(query.nextToken, query.status) : undefined;
    const page = await this.deps.repository.listJobs({ status: query.status, limit: query.limit, cursor });
    return {
      items: page.items.map((job) => ({
        jobId: job.jobId,
        status: job.status,
        task: job.task,
        profile: job.profile,
        createdAt: job.createdAt,
        updatedAt: job.updatedAt,
        error: job.error ?? null,
      })),
      ...(page.cursor ? { nextToken: encodeToken(query.status, page.cursor) } : {}),
    };
  }

  /**
   * A person's decision on a plan that awaits one. Approve lets the execution go on, with only the
   * subtasks in `subtasks` when given (each kept subtask's dependencies must be kept too); reject
   * ends the job CANCELLED with PlanRejected, no worker having run. 409 unless the job awaits approval.
   */
  async decideApproval(jobId: string, body: ApprovalBody): Promise<JobView> {
    const taskTokens = this.deps.taskTokens;
    if (!taskTokens) throw new HttpError(404, 'ROUTE_NOT_FOUND', `No route for POST /jobs/${jobId}/approval`);
    const job = await this.deps.repository.getJob(jobId);
    if (!job)
      throw new HttpError(404, 'JOB_NOT_FOUND', `jobId: no job ${jobId}`, [
        { field: 'jobId', message: 'no such job' },
      ]);
    const notAwaiting = (status: string) =>
      new HttpError(
        409,
        'JOB_NOT_AWAITING_APPROVAL',
        `Job ${jobId} is ${status}; only a job awaiting approval takes a decision`,
      );
    if (job.status !== 'AWAITING_APPROVAL' || !job.plan) throw notAwaiting(job.status);
    // The plan is stored (and the status says so) a moment before AwaitApproval keeps its token.
    const notReady = () =>
      new HttpError(
        409,
        'APPROVAL_NOT_READY',
        `Job ${jobId} is AWAITING_APPROVAL, but its execution has not reached AwaitApproval yet; try again in a second`,
      );
    if (!job.approvalToken) throw notReady();

    const plan = job.plan;
    let trimmed:
      { plan: typeof plan; waves: string[][]; estimate: NonNullable<typeof job.estimate> } | undefined;
    let removed: string[] = [];
    if (body.decision === 'approve' && body.subtasks) {
      const keep = new Set(body.subtasks);
      const known = new Set(plan.subtasks.map((subtask) => subtask.id));
      const unknown = [...keep].filter((id) => !known.has(id));
      if (unknown.length > 0)
        throw new HttpError(400, 'VALIDATION_FAILED', `subtasks: not in the plan: ${unknown.join(', ')}`, [
          { field: 'subtasks', message: `not in the plan: ${unknown.join(', ')}` },
        ]);
      const broken = plan.subtasks
        .filter((subtask) => keep.has(subtask.id))
        .flatMap((subtask) =>
          subtask.dependsOn.filter((id) => !keep.has(id)).map((id) => `"${subtask.id}" depends on "${id}"`),
        );
      if (broken.length > 0) {
        const message = `keeps subtasks whose dependencies are removed: ${broken.join(', ')}; keep those too or remove these`;
        throw new HttpError(400, 'VALIDATION_FAILED', `subtasks: ${message}`, [
          { field: 'subtasks', message },
        ]);
      }
      const kept = { ...plan, subtasks: plan.subtasks.filter((subtask) => keep.has(subtask.id)) };
      removed = plan.subtasks.filter((subtask) => !keep.has(subtask.id)).map((subtask) => subtask.id);
      const profile = profileNamed(job.profile);
      const roles = this.deps.roles;
      trimmed = {
        plan: kept,
        waves: dependencyWaves(kept),
        estimate:
          roles && job.planUsage
            ? jobEstimate(
                job,
                profile,
                kept,
                {
                  worker: roleFor(profile, 'worker', roles.worker),
                  synthesis: roleFor(profile, 'synthesis', roles.synthesis),
                },
                job.planUsage,
              )
            : (job.estimate ?? { costUsd: 0, inputTokens: 0, outputTokens: 0 }),
      };
    }

    const decision = {
      decision: body.decision,
      comment: body.comment ?? null,
      at: new Date().toISOString(),
      by: 'person' as const,
      ...(body.subtasks && body.decision === 'approve'
        ? { subtasks: trimmed?.plan.subtasks.map((s) => s.id) ?? [] }
        : {}),
    };
    const claimed = await this.deps.repository.decideApproval(jobId, decision, trimmed);
    if (!claimed) {
      const now = await this.deps.repository.getJob(jobId);
      if (now?.status === 'AWAITING_APPROVAL' && !now.approvalToken) throw notReady();
      throw notAwaiting(now?.status ?? 'gone');
    }
    if (removed.length > 0) await this.deps.repository.removeSubtasks(jobId, removed);
    try {
      if (body.decision === 'approve') {
        await taskTokens.succeed(
          claimed.taskToken,
          JSON.stringify({
            decision: 'approve',
            waves: trimmed?.waves ?? job.waves ?? [plan.subtasks.map((subtask) => subtask.id)],
            budgeted: isBudgeted(job.budget),
          }),
        );
      } else {
        const cause = `The plan was rejected${body.comment ? `: ${body.comment}` : ''}`;
        const rejection = { name: 'PlanRejected' satisfies PolicyErrorName, message: cause };
        await this.deps.repository.failUnfinishedSubtasks(jobId, rejection);
        await taskTokens.fail(claimed.taskToken, rejection.name, rejection.message);
      }
    } catch (error) {
      const name = error instanceof Error ? error.name : '';
      if (!EXPIRED_TOKEN_ERRORS.has(name)) throw error;
      // The wait ended first (it timed out): the job ends as the timeout would have ended it.
      const expired = {
        name: 'ApprovalTimedOut' satisfies PolicyErrorName,
        message: `The approval wait had ended (${name}) when the decision came`,
      };
      await this.deps.repository.failJob(jobId, expired);
      await this.deps.repository.failUnfinishedSubtasks(jobId, expired);
      throw new HttpError(409, 'APPROVAL_EXPIRED', `Job ${jobId}: ${expired.message}`);
    }
    return this.getJob(jobId);
  }

  /** Stops the execution and marks the job CANCELLED; a finished job cannot be cancelled (409). */
  async cancelJob(jobId: string): Promise<JobAccepted> {
    const job = await this.deps.repository.getJob(jobId);
    if (!job)
      throw new HttpError(404, 'JOB_NOT_FOUND', `jobId: no job ${jobId}`, [
        { field: 'jobId', message: 'no such job' },
      ]);
    const finished = () =>
      new HttpError(
        409,
        'JOB_ALREADY_FINISHED',
        `Job ${jobId} already ended as ${job.status}; only unfinished jobs can be cancelled`,
      );
    if (TERMINAL_JOB_STATUSES.includes(job.status)) throw finished();

    const reason = { name: 'JobCancelled', message: 'Cancelled through the API' };
    if (job.executionArn) await this.deps.executions.stop(job.executionArn, reason.name, reason.message);
    if (!(await this.deps.repository.cancelJob(jobId, reason))) {
      const now = await this.deps.repository.getJob(jobId);
      throw new HttpError(
        409,
        'JOB_ALREADY_FINISHED',
        `Job ${jobId} ended as ${now?.status} before it could be cancelled`,
      );
    }
    return { jobId, status: 'CANCELLED', executionArn: job.executionArn ?? null };
  }
}
