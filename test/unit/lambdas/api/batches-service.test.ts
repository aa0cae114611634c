import { BatchesService } from '../../../../lambdas/api/batches-service';
import { HttpError } from '../../../../lambdas/api/http-error';
import { BatchRepository } from '../../../../lambdas/shared/storage/batch-repository';
import { BatchDefinitionSchema } from '../../../../lambdas/shared/domain/batch-schemas';
import { createDocumentClient } from '../../../../lambdas/shared/storage/job-repository';
import { startTestTable, type TestTable } from '../../../helpers/local-table';

let table: TestTable;
let batches: BatchRepository;
beforeAll(async () => {
  table = await startTestTable();
  batches = new BatchRepository(
    createDocumentClient({ region: 'us-east-1', endpoint: table.dynamodb.endpoint }),
    table.tableName,
    30,
  );
});
afterAll(() => table.close());

const definition = BatchDefinitionSchema.parse({
  name: 'nightly-mugs',
  schedule: { expression: 'rate(1 day)', timeZone: 'UTC' },
  defaults: { context: { market: 'UK' } },
  maxConcurrency: 2,
  items: [{ task: 'Describe a blue mug' }, { task: 'Describe a red mug' }],
});

function serviceWith(
  start: (name: string, input: string) => Promise<string>,
  maxItems?: number,
  batchLane?: boolean,
): BatchesService {
  return new BatchesService({
    batches,
    executions: { start },
    definitions: () => [definition],
    ...(maxItems ? { maxItems } : {}),
    ...(batchLane === undefined ? {} : { batchLane }),
  });
}

describe('running a batch through the API', () => {
  it('records the run and its requests, then starts the batch execution with only its name and run id', async () => {
    const started: { name: string; input: unknown }[] = [];
    const service = serviceWith(async (name, input) => {
      started.push({ name, input: JSON.parse(input) });
      return `arn:aws:states:us-east-1:1:execution:batch:${name}`;
    });

    const accepted = await service.createBatch({ batchName: 'nightly-mugs' });

    expect(started).toEqual([
      {
        name: accepted.runId,
        input: {
          batchName: 'nightly-mugs',
          runId: accepted.runId,
          maxConcurrency: 2,
          modelCalls: 'on-demand',
          batchDeadlineMinutes: 720,
          trigger: 'api',
        },
      },
    ]);
    // StartBatchRun reads the requests back from the run's records.
    expect(await batches.getRunRequests(accepted.runId)).toEqual([
      { task: 'Describe a blue mug', context: { market: 'UK' }, profile: 'research' },
      { task: 'Describe a red mug', context: { market: 'UK' }, profile: 'research' },
    ]);
    expect(await service.getBatch(accepted.runId)).toMatchObject({
      status: 'RUNNING',
      itemCount: 2,
      counts: { PENDING: 2 },
      items: [{ jobId: `${accepted.runId}-001` }, { jobId: `${accepted.runId}-002` }],
    });
  });

  it('records the run FAILED (never left RUNNING) and answers 503 when the execution cannot start', async () => {
    const service = serviceWith(async () => {
      throw new Error('StateMachineDoesNotExist');
    });

    const attempt = service.createBatch({
      batchName: 'adhoc-run',
      items: [{ task: 'x', context: {}, profile: 'research' }],
    });

    await expect(attempt).rejects.toMatchObject({ statusCode: 503, code: 'EXECUTION_NOT_STARTED' });
    const [run] = (await batches.listRuns({ limit: 10 })).items.filter(
      (item) => item.batchName === 'adhoc-run',
    );
    expect(run).toMatchObject({
      status: 'FAILED',
      error: { name: 'StartExecutionFailed', message: expect.stringContaining('StateMachineDoesNotExist') },
    });
  });

  it('answers 400 naming batchName for a definition that does not exist', async () => {
    const service = serviceWith(async () => 'unused');

    const attempt = service.createBatch({ batchName: 'nightly-cups' });

    await expect(attempt).rejects.toBeInstanceOf(HttpError);
    await expect(attempt).rejects.toMatchObject({
      statusCode: 400,
      details: [{ field: 'batchName', message: expect.stringContaining('known: nightly-mugs') }],
    });
  });

  it('keeps the execution input small however large the batch: 200 items of the largest size', async () => {
    const inputs: string[] = [];
    const service = serviceWith(async (name, input) => {
      inputs.push(input);
      return `arn:aws:states:us-east-1:1:execution:batch:${name}`;
    });
    const items = Array.from({ length: 200 }, (_, index) => ({
      task: `${index} ${'x'.repeat(7_990)}`,
      context: { notes: 'y'.repeat(15_900) },
      profile: 'research',
    }));
    const requestBytes = Buffer.byteLength(JSON.stringify(items));

    await service.createBatch({ batchName: 'big-batch', items });

    expect(requestBytes).toBeGreaterThan(4_000_000);
    expect(Buffer.byteLength(inputs[0]!)).toBeLessThan(1_000);
  });

  it("refuses more items than the deployment's batch Map takes, naming the field and the limit", async () => {
    const service = serviceWith(async () => 'arn', 2);

    const attempt = service.createBatch({
      batchName: 'too-big',
      items: [{ task: 'a' }, { task: 'b' }, { task: 'c' }].map((item) => ({
        ...item,
        context: {},
        profile: 'research',
      })),
    });

    await expect(attempt).rejects.toMatchObject({
      statusCode: 400,
      details: [{ field: 'items', message: expect.stringContaining('has 3 items; a run takes at most 2') }],
    });
  });

  it('passes modelCalls and the deadline on to the execution, the body overriding the definition', async () => {
    const inputs: unknown[] = [];
    const service = serviceWith(async (name, input) => {
      inputs.push(JSON.parse(input));
      return `arn:aws:states:us-east-1:1:execution:batch:${name}`;
    });

    await service.createBatch({ batchName: 'nightly-mugs', modelCalls: 'batch', batchDeadlineMinutes: 60 });

    expect(inputs[0]).toMatchObject({ modelCalls: 'batch', batchDeadlineMinutes: 60 });
  });

  it("passes the run's budget on to the execution, the body's winning over the definition's", async () => {
    const inputs: unknown[] = [];
    const service = serviceWith(async (name, input) => {
      inputs.push(JSON.parse(input));
      return `arn:aws:states:us-east-1:1:execution:batch:${name}`;
    });

    await service.createBatch({ batchName: 'nightly-mugs', budget: { maxCostUsd: 0.25 } });

    expect(inputs[0]).toMatchObject({ budget: { maxCostUsd: 0.25 } });
  });

  it('answers 400 naming each field the batch lane cannot honour: a run budget, an item’s approval', async () => {
    const starts: string[] = [];
    const service = serviceWith(async (name) => {
      starts.push(name);
      return 'arn';
    });

    const attempt = service.createBatch({
      batchName: 'inline-lane',
      modelCalls: 'batch',
      budget: { maxCostUsd: 1 },
      items: [
        { task: 'Describe a mug', context: {}, profile: 'research' },
        { task: 'Describe a cup', context: {}, profile: 'research', approval: 'required' },
      ],
    });

    await expect(attempt).rejects.toMatchObject({
      statusCode: 400,
      details: [
        { field: 'budget', message: expect.stringContaining('not taken with modelCalls "batch"') },
        { field: 'items.1.approval', message: expect.stringContaining('has no AwaitApproval') },
      ],
    });
    expect(starts).toEqual([]);
  });

  it('answers 400 naming modelCalls when the deployment cannot run the batch lane (Bedrock)', async () => {
    const service = serviceWith(async () => 'arn', undefined, false);

    const attempt = service.createBatch({ batchName: 'nightly-mugs', modelCalls: 'batch' });

    await expect(attempt).rejects.toMatchObject({
      statusCode: 400,
      details: [{ field: 'modelCalls', message: expect.stringContaining('provider "anthropic"') }],
    });
  });
});
