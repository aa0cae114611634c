import { LocalOrchestrator } from '../../local/runtime/stack';
import { TERMINAL_JOB_STATUSES } from '../../lambdas/shared/domain/schemas';
import { loadBatchDefinitions } from '../../lambdas/shared/batches/catalog';
import { batchExecutionInput } from '../../lambdas/shared/domain/batch-schemas';

/** A batch through the local runtime: the batch state machine starting orchestrator executions with `.sync:2`. */
let orchestrator: LocalOrchestrator;
const FAST_RETRIES = {
  Plan: 5,
  RunSubtask: 5,
  Synthesize: 5,
  RecordSubtaskFailure: 5,
  MarkFailed: 5,
  StartBatchRun: 5,
  RunJob: 5,
  RecordItemResult: 5,
  RecordItemFailure: 5,
  FinishBatchRun: 5,
};

beforeAll(async () => {
  orchestrator = await LocalOrchestrator.start({
    model: { kind: 'simulated' },
    retryIntervalOverrides: FAST_RETRIES,
  });
});
afterAll(() => orchestrator.close());
beforeEach(() => {
  orchestrator.simulatedModel?.setFaults([]);
  orchestrator.simulatedModel?.setLatency(0);
});

const PRODUCTS = [
  'insulated steel water bottle',
  'merino wool jumper',
  'LED bike light set',
  'cast-iron casserole dish',
  'bamboo bath towel set',
  'ceramic pour-over coffee dripper',
  'waxed canvas tote bag',
  'solar garden lantern',
];
const DOOMED = ['cursed umbrella stand', 'cursed doormat'];

describe('a batch run locally', () => {
  it('runs a batch named by a schedule from its bundled definition, the input carrying no items', async () => {
    // Arrange: what a schedule sends (batchExecutionInput): the name, never the items.
    const definition = loadBatchDefinitions().find(
      (candidate) => candidate.name === 'nightly-product-descriptions',
    )!;
    const input = batchExecutionInput(definition, 'schedule');

    // Act
    const batch = await orchestrator.startBatch(input);
    const finished = await batch.finished;

    // Assert
    expect(input).not.toHaveProperty('items');
    expect(finished.status).toBe('SUCCEEDED');
    const view = await orchestrator.getBatchRunView(batch.runId);
    expect(view).toMatchObject({ status: 'COMPLETED', itemCount: definition.items.length });
    expect(view?.items.map((item) => item.task)).toEqual(definition.items.map((item) => item.task));
  });

  it('ends with 8 SUCCEEDED and 2 FAILED items when 2 jobs are rejected by the model, all recorded', async () => {
    // Arrange: the planner rejects (400) any request mentioning "cursed", so those two jobs fail.
    orchestrator.simulatedModel?.setFaults([{ kind: 'bad_request', role: 'plan', match: 'cursed' }]);
    const tasks = [...PRODUCTS.slice(0, 4), DOOMED[0], ...PRODUCTS.slice(4), DOOMED[1]].map((product) => ({
      task: `Write a product description for a ${product}`,
    }));

    // Act
    const batch = await orchestrator.startBatch({
      batchName: 'test-products',
      items: tasks,
      maxConcurrency: 4,
      trigger: 'cli',
    });
    const execution = await batch.finished;

    // Assert: the batch execution succeeded despite the failed items, and the run says so.
    expect({ status: execution.status, error: execution.error, cause: execution.cause }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
      cause: undefined,
    });
    expect(JSON.parse(execution.output ?? '{}')).toEqual({
      runId: batch.runId,
      status: 'COMPLETED',
      itemCount: 10,
      counts: { SUCCEEDED: 8, FAILED: 2 },
    });
    const view = await orchestrator.getBatchRunView(batch.runId);
    expect(view).toMatchObject({ status: 'COMPLETED', itemCount: 10, counts: { SUCCEEDED: 8, FAILED: 2 } });
    const failed = view?.items.filter((item) => item.status === 'FAILED') ?? [];
    expect(failed.map((item) => item.index)).toEqual([4, 9]);
    for (const item of failed) expect(item.error).toMatchObject({ name: 'ModelRequestRejected' });

    // Every item's job exists, ended in the item's status, and ran as an execution named after it.
    for (const item of view?.items ?? []) {
      const job = await orchestrator.getJobView(item.jobId);
      expect(job?.status).toBe(item.status);
      expect(TERMINAL_JOB_STATUSES).toContain(job?.status);
      expect(job?.task).toBe(tasks[item.index]?.task);
      const child = orchestrator.stepFunctions.describeExecution(
        `${orchestrator.stateMachineArn.replace(':stateMachine:', ':execution:')}:${item.jobId}`,
      );
      expect(child.status).toBe(item.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED');
      expect(JSON.parse(child.input)).toMatchObject({
        jobId: item.jobId,
        AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: batch.executionArn,
      });
    }
  });

  it('ends a run whose execution was stopped as FAILED (ExecutionAborted, by the rule), failing the items that never finished', async () => {
    // Arrange: a slow model, so the run is stopped with items still pending.
    orchestrator.simulatedModel?.setLatency(300);
    const batch = await orchestrator.startBatch({
      batchName: 'test-stopped',
      items: PRODUCTS.slice(0, 4).map((product) => ({
        task: `Write a product description for a ${product}`,
      })),
      maxConcurrency: 1,
    });
    while (!(await orchestrator.getBatchRunView(batch.runId))) await new Promise((r) => setTimeout(r, 50));

    // Act
    orchestrator.stepFunctions.stopExecution(batch.executionArn, 'Manual', 'stopped by the test');
    await batch.finished;
    await orchestrator.eventRules.settled();

    // Assert
    orchestrator.simulatedModel?.setLatency(0);
    const view = await orchestrator.getBatchRunView(batch.runId);
    expect(view).toMatchObject({
      status: 'FAILED',
      error: { name: 'ExecutionAborted', message: expect.stringContaining('Manual: stopped by the test') },
    });
    expect(view?.items.every((item) => item.status !== 'PENDING')).toBe(true);
    expect(Object.values(view?.counts ?? {}).reduce((sum, count) => sum + count, 0)).toBe(4);
  });
});
