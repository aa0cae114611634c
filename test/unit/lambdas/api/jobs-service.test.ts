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
