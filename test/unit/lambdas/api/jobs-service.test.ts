import { IdempotencyStore } from '../../../../lambdas/api/idempotency';
import { HttpError } from '../../../../lambdas/api/http-error';
import { type ExecutionStarter, JobsService } from '../../../../lambdas/api/jobs-service';
import { createDocumentClient } from '../../../../lambdas/shared/storage/job-repository';
import { startTestTable, type TestTable } from '../../../helpers/local-table';

let table: TestTable;
beforeAll(async () => {
  table = await startTestTable();
});
afterAll(() => table.close());

function serviceWith(executions: ExecutionStarter): JobsService {
  const documents = createDocumentClient({ region: 'us-east-1', endpoint: table.dynamodb.endpoint });
  return new JobsService({
    repository: table.repository,
    idempotency: new IdempotencyStore(documents, table.tableName),
    executions,
  });
}

const request = { task: 'Describe a folding kayak', context: {}, profile: 'research' };

describe('starting a job', () => {
  it('records the job QUEUED with its execution ARN when the execution starts', async () => {
    const started: string[] = [];
    const service = serviceWith({
      start: async (name) => {
        started.push(name);
        return `arn:aws:states:us-east-1:1:execution:sm:${name}`;
      },
      stop: async () => undefined,
    });

    const { accepted } = await service.createJob(request);

    expect(started).toEqual([accepted.jobId]);
    expect(await table.repository.getJob(accepted.jobId)).toMatchObject({
      status: 'QUEUED',
      executionArn: accepted.executionArn,
    });
  });

  it('records the job FAILED (not stuck in QUEUED) and answers 503 when the execution cannot start', async () => {
    const service = serviceWith({
      start: async () => {
        throw new Error('StateMachineDoesNotExist');
      },
      stop: async () => undefined,
    });

    const attempt = service.createJob(request);

    await expect(attempt).rejects.toBeInstanceOf(HttpError);
    await expect(attempt).rejects.toMatchObject({ statusCode: 503, code: 'EXECUTION_NOT_STARTED' });
    const listed = await table.repository.listJobs({ status: 'FAILED', limit: 10 });
    expect(listed.items[0]).toMatchObject({
      status: 'FAILED',
      error: { name: 'StartExecutionFailed', message: expect.stringContaining('StateMachineDoesNotExist') },
    });
    expect(
      (await table.repository.listJobs({ status: 'QUEUED', limit: 10 })).items.map((job) => job.jobId),
    ).not.toContain(listed.items[0]?.jobId);
  });
});

describe('deciding on a plan', () => {
  const noExecutions = { start: async () => 'arn', stop: async () => undefined };
  let counter = 0;

  /** A job waiting in AwaitApproval: a, b (after a) and c, with the token stored (unless `token` is false). */
  async function awaitingJob(token = true): Promise<string> {
    const jobId = `approval-test-${++counter}`;
    await table.repository.createJob({
      jobId,
      status: 'QUEUED',
      task: 'Plan a garden',
      context: {},
      profile: 'project',
    });
    const plan = {
      analysis: 'Three parts',
      subtasks: [
        { id: 'a', type: 'research', title: 'A', description: 'Do a', dependsOn: [], priority: 3 },
        { id: 'b', type: 'research', title: 'B', description: 'Do b', dependsOn: ['a'], priority: 3 },
        { id: 'c', type: 'research', title: 'C', description: 'Do c', dependsOn: [], priority: 3 },
      ],
    };
    const usage = {
      inputTokens: 10,
      outputTokens: 10,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      costUsd: 0.0002,
      model: 'claude-sonnet-5-5',
    };
    await table.repository.savePlan(jobId, plan, [['a', 'c'], ['b']], usage, 1, {
      awaitApproval: true,
      estimate: { costUsd: 0.5, inputTokens: 1000, outputTokens: 1000 },
    });
    if (token)
      await table.repository.awaitApproval(jobId, `local-task-token:orchestrator:${crypto.randomUUID()}`);
    return jobId;
  }

  function serviceAnswering(answers: {
    succeed?: (token: string, output: string) => Promise<void>;
    fail?: () => Promise<void>;
  }) {
    const documents = createDocumentClient({ region: 'us-east-1', endpoint: table.dynamodb.endpoint });
    return new JobsService({
      repository: table.repository,
      idempotency: new IdempotencyStore(documents, table.tableName),
      executions: noExecutions,
      taskTokens: {
        succeed: answers.succeed ?? (async () => undefined),
        fail: answers.fail ?? (async () => undefined),
      },
      roles: {
        worker: { model: 'claude-haiku-5-5', maxTokens: 1000 },
        synthesis: { model: 'claude-sonnet-5-5', maxTokens: 2000 },
      },
    });
  }

  it('asks to try again (409 APPROVAL_NOT_READY) when the plan is stored but AwaitApproval has no token yet', async () => {
    const jobId = await awaitingJob(false);
    let answered = false;
    const service = serviceAnswering({
      succeed: async () => {
        answered = true;
      },
    });

    await expect(service.decideApproval(jobId, { decision: 'approve' })).rejects.toMatchObject({
      statusCode: 409,
      code: 'APPROVAL_NOT_READY',
      message: expect.stringContaining('has not reached AwaitApproval yet'),
    });
    expect(answered).toBe(false);
    expect((await table.repository.getJob(jobId))?.status).toBe('AWAITING_APPROVAL');
  });

  it('refuses with 400 a trim that keeps a subtask but removes what it depends on, naming both', async () => {
    const jobId = await awaitingJob();
    const attempt = serviceAnswering({}).decideApproval(jobId, { decision: 'approve', subtasks: ['b', 'c'] });

    await expect(attempt).rejects.toMatchObject({
      statusCode: 400,
      details: [{ field: 'subtasks', message: expect.stringContaining('"b" depends on "a"') }],
    });
    expect((await table.repository.getJob(jobId))?.status).toBe('AWAITING_APPROVAL');
  });

  it('sends the kept waves with the approval, deletes the removed subtasks and re-estimates', async () => {
    const jobId = await awaitingJob();
    const outputs: string[] = [];
    const view = await serviceAnswering({
      succeed: async (_token, output) => void outputs.push(output),
    }).decideApproval(jobId, {
      decision: 'approve',
      subtasks: ['a', 'b'],
    });

    expect(JSON.parse(outputs[0] ?? '{}')).toEqual({
      decision: 'approve',
      waves: [['a'], ['b']],
      budgeted: false,
    });
    expect(view.subtasks.map((subtask) => subtask.id)).toEqual(['a', 'b']);
    expect(view.plan?.subtasks.map((subtask) => subtask.id)).toEqual(['a', 'b']);
    expect(view.approval).toMatchObject({ decision: 'approve', subtasks: ['a', 'b'], by: 'person' });
    expect(view.estimate?.outputTokens).toBe(10 + 2 * 1000 + 2000);
    expect((await table.repository.getJob(jobId))?.approvalToken).toBeUndefined();
  });

  it('ends the job FAILED ApprovalTimedOut with a 409 when the wait had already timed out', async () => {
    const jobId = await awaitingJob();
    const timedOut = Object.assign(new Error('Task Timed Out'), { name: 'TaskTimedOut' });
    const attempt = serviceAnswering({
      succeed: async () => {
        throw timedOut;
      },
    }).decideApproval(jobId, { decision: 'approve' });

    await expect(attempt).rejects.toMatchObject({ statusCode: 409, code: 'APPROVAL_EXPIRED' });
    expect(await table.repository.getJob(jobId)).toMatchObject({
      status: 'FAILED',
      error: { name: 'ApprovalTimedOut' },
    });
  });

  it('lets one of two decisions at once win; the other gets 409', async () => {
    const jobId = await awaitingJob();
    const service = serviceAnswering({});

    const results = await Promise.allSettled([
      service.decideApproval(jobId, { decision: 'approve' }),
      service.decideApproval(jobId, { decision: 'reject' }),
    ]);

    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((result) => result.status === 'rejected')).toMatchObject({
      reason: { statusCode: 409 },
    });
  });
});
