import type { BatchItemLists, BatchItemRef } from '../../../../lambdas/shared/batches/item-lists';
import {
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
    trigger: 'api',
  },
  executionArn: 'arn:aws:states:us-east-1:000000000000:execution:Batches:run-1',
  executionName: 'run-1',
  executionStartTime: '2026-11-28T09:00:00.000Z',
};

function repositories(): Pick<StartBatchRunDeps, 'batches' | 'jobs'> & { jobIds: string[] } {
  const jobIds: string[] = [];
  return {
    jobIds,
    batches: { createRun: async () => undefined },
    jobs: {
      createJob: async (job) => {
        jobIds.push(job.jobId);
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
      items: [
        { index: 0, jobId: 'nightly-test-run-1-001' },
        { index: 1, jobId: 'nightly-test-run-1-002' },
      ],
    });
  });

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
      itemsKey: 'batch-items/nightly-test-run-1.json',
    });
    expect(itemLists.written.get('batch-items/nightly-test-run-1.json')).toEqual([
      { index: 0, jobId: 'nightly-test-run-1-001' },
      { index: 1, jobId: 'nightly-test-run-1-002' },
    ]);
    expect(deps.jobIds).toEqual(['nightly-test-run-1-001', 'nightly-test-run-1-002']);
  });
});
