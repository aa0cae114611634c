import {
  ExecutionDoesNotExist,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import * as z from 'zod';
import { newJobId } from '../shared/domain/job-id';
import type { JobRepository, ListCursor } from '../shared/storage/job-repository';
import { type JobView, toJobView } from '../shared/views/job-view';
import { type JobRequest, TERMINAL_JOB_STATUSES } from '../shared/domain/schemas';
import type { JobAccepted, JobList, ListJobsQuery } from './api-schemas';
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

export interface JobsServiceDependencies {
  repository: Pick<
    JobRepository,
    'cancelJob' | 'createJob' | 'failJob' | 'getJob' | 'getJobWithSubtasks' | 'listJobs' | 'setExecutionArn'
  >;
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
