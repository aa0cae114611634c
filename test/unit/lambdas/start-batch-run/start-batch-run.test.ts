import type { BatchItemLists, BatchItemRef } from '../../../../lambdas/shared/batches/item-lists';
import { parseBatchDefinition } from '../../../../lambdas/shared/batches/catalog';
import type { JobRequest } from '../../../../lambdas/shared/domain/schemas';
import {
  runIdFor,
  startBatchRun,
  type StartBatchRunDeps,
  type StartBatchRunEvent,
} from '../../../../lambdas/start-batch-run/start-batch-run';

/** Keeps what is written, by key. */
class FakeItemLists implements BatchItemLists {
  readonly written = new Map<string, readonly BatchItemRef[]>();
  async put(key: string, items: readonly BatchItemRef[]): Promise<void> {
    this.written.set(key, items);
  }
}

const event: StartBatchRunEvent = {
  input: {
    batchName: 'nightly-test',
    runId: 'nightly-test-run-1',
    items: [
      { task: 'Write a product description for a kettle', context: {}, profile: 'research' },
      { task: 'Write one for a toaster', context: {}, profile: 'research' },
    ],
    maxConcurrency: 3,
    modelCalls: 'on-demand',
    batchDeadlineMinutes: 720,
    trigger: 'api',
  },
  executionArn: 'arn:aws:states:us-east-1:000000000000:execution:Batches:run-1',
  executionName: 'run-1',
  executionStartTime: '2026-11-28T09:00:00.000Z',
};

const DEFINITION = parseBatchDefinition(
  'batches/nightly-test.json',
  JSON.stringify({
    name: 'nightly-test',
    schedule: { expression: 'cron(0 2 * * ? *)', timeZone: 'UTC' },
    defaults: { context: { market: 'UK' } },
    items: [{ task: 'Describe a kettle' }, { task: 'Describe a toaster' }, { task: 'Describe a mug' }],
  }),
);

function repositories(recorded?: JobRequest[]): Pick<
  StartBatchRunDeps,
  'batches' | 'jobs' | 'definitions'
> & {
  jobIds: string[];
  createdJobs: Record<string, unknown>[];
  created: unknown[];
  lanes: unknown[][];
} {
  const jobIds: string[] = [];
  const createdJobs: Record<string, unknown>[] = [];
  const created: unknown[] = [];
  const lanes: unknown[][] = [];
  return {
    jobIds,
    createdJobs,
    created,
    lanes,
    definitions: () => [DEFINITION],
    batches: {
      createRun: async (run) => {
        created.push(run);
      },
      getRunRequests: async () => recorded,
      recordModelCalls: async (...args) => {
        lanes.push(args);
      },
    },
    jobs: {
      createJob: async (job) => {
        jobIds.push(job.jobId);
        createdJobs.push(job);
        return true;
      },
    },
  };
}

describe('starting a batch run', () => {
  it('returns the item ids in the state when there is no item list store (inline Map)', async () => {
    // Arrange
    const deps = repositories();

    // Act
    const result = await startBatchRun(event, deps);

    // Assert
    expect(result).toEqual({
      runId: 'nightly-test-run-1',
      batchName: 'nightly-test',
      maxConcurrency: 3,
      modelCalls: 'on-demand',
      items: [
        { index: 0, jobId: 'nightly-test-run-1-001' },
        { index: 1, jobId: 'nightly-test-run-1-002' },
      ],
    });
    expect(deps.lanes).toEqual([['nightly-test-run-1', 'on-demand', undefined]]);
  });

  it('fails a batch-lane run with BatchLaneUnavailable in a deployment without the lane, recording nothing', async () => {
    const deps = { ...repositories(), batchLane: false };
    const batchLane = { ...event, input: { ...event.input, modelCalls: 'batch' as const } };

    await expect(startBatchRun(batchLane, deps)).rejects.toMatchObject({ name: 'BatchLaneUnavailable' });
    expect(deps.created).toEqual([]);
  });

  it('records a batch-lane run with its deadline counted from the execution start', async () => {
    const deps = repositories();
    const batchLane = {
      ...event,
      input: { ...event.input, modelCalls: 'batch' as const, batchDeadlineMinutes: 90 },
    };

    const result = await startBatchRun(batchLane, deps);

    expect(result.modelCalls).toBe('batch');
    expect(deps.lanes).toEqual([['nightly-test-run-1', 'batch', '2026-11-28T10:30:00.000Z']]);
  });

  it("records a run's budget and gives every job the run's ceilings, so their calls share one ledger", async () => {
    const deps = repositories();
    const budgeted = { ...event, input: { ...event.input, budget: { maxCostUsd: 0.5 } } };

    await startBatchRun(budgeted, deps);

    expect(deps.lanes).toEqual([['nightly-test-run-1', 'on-demand', undefined, { maxCostUsd: 0.5 }]]);
    expect(deps.createdJobs.map((job) => job.runBudget)).toEqual([
      { runId: 'nightly-test-run-1', maxCostUsd: 0.5 },
      { runId: 'nightly-test-run-1', maxCostUsd: 0.5 },
    ]);
  });

  it.each([
    ['a run budget', { budget: { maxCostUsd: 1 } }, /budget, which is not taken with modelCalls "batch"/],
    [
      "an item's approval",
      {
        items: [
          { task: 'Describe a kettle', context: {}, profile: 'research', approval: 'required' as const },
        ],
      },
      /items\.0\.approval, which is not taken with modelCalls "batch"/,
    ],
    [
      "an item's budget",
      { items: [{ task: 'Describe a kettle', context: {}, profile: 'research', budget: { maxCostUsd: 1 } }] },
      /items\.0\.budget, which is not taken/,
    ],
  ])(
    'fails a batch-lane run that asks for %s with BatchLaneUnavailable, recording nothing',
    async (_, extra, message) => {
      const deps = repositories();
      const lane = { ...event, input: { ...event.input, modelCalls: 'batch' as const, ...extra } };

      await expect(startBatchRun(lane, deps)).rejects.toMatchObject({
        name: 'BatchLaneUnavailable',
        message,
      });
      expect(deps.created).toEqual([]);
    },
  );

  it('writes the item list to the store and returns only its key (Distributed Map)', async () => {
    // Arrange
    const itemLists = new FakeItemLists();
    const deps = { ...repositories(), itemLists };

    // Act
    const result = await startBatchRun(event, deps);

    // Assert
    expect(result).toEqual({
      runId: 'nightly-test-run-1',
      batchName: 'nightly-test',
      maxConcurrency: 3,
      modelCalls: 'on-demand',
      itemsKey: 'batch-items/nightly-test-run-1.json',
    });
    expect(itemLists.written.get('batch-items/nightly-test-run-1.json')).toEqual([
      { index: 0, jobId: 'nightly-test-run-1-001' },
      { index: 1, jobId: 'nightly-test-run-1-002' },
    ]);
    expect(deps.jobIds).toEqual(['nightly-test-run-1-001', 'nightly-test-run-1-002']);
  });

  const byName: StartBatchRunEvent = {
    ...event,
    input: {
      batchName: 'nightly-test',
      maxConcurrency: 2,
      modelCalls: 'on-demand',
      batchDeadlineMinutes: 720,
      trigger: 'schedule',
    },
  };

  it('reads the items of a run that names its batch from the bundled definition (a schedule)', async () => {
    const deps = repositories();

    const result = await startBatchRun(byName, deps);

    expect('items' in result && result.items).toHaveLength(3);
    expect(deps.jobIds).toHaveLength(3);
    const run = deps.created[0] as { items: { request: JobRequest }[] };
    expect(run.items.map((item) => item.request)).toEqual([
      { task: 'Describe a kettle', context: { market: 'UK' }, profile: 'research' },
      { task: 'Describe a toaster', context: { market: 'UK' }, profile: 'research' },
      { task: 'Describe a mug', context: { market: 'UK' }, profile: 'research' },
    ]);
  });

  it('takes the requests recorded with the run (the API, the CLI) over the definition', async () => {
    const deps = repositories([{ task: 'Recorded task', context: {}, profile: 'research' }]);

    const result = await startBatchRun(byName, deps);

    expect('items' in result && result.items).toEqual([{ index: 0, jobId: `${runIdFor(byName)}-001` }]);
  });

  it('fails with UnknownBatch when the requests are nowhere', async () => {
    const deps = repositories();

    await expect(
      startBatchRun({ ...byName, input: { ...byName.input, batchName: 'no-such-batch' } }, deps),
    ).rejects.toMatchObject({
      name: 'UnknownBatch',
      message: expect.stringContaining('known: nightly-test'),
    });
  });
});
