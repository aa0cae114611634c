import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { LocalOrchestrator } from '../../local/runtime/stack';
import { startSimulatedModel } from '../../local/simulated-model';
import { TERMINAL_JOB_STATUSES } from '../../lambdas/shared/domain/schemas';
import { createDocumentClient } from '../../lambdas/shared/storage/job-repository';
import { LaneRepository } from '../../lambdas/shared/storage/lane-repository';
import { batchRunKey } from '../../lambdas/shared/storage/table-layout';

/**
 * The Message Batches lane end to end: the batch state machine submitting every item's plan, then
 * workers wave by wave, then syntheses, as Message Batches to the simulated model, with per-request
 * faults, and a deadline that hands what is left to the on-demand Map.
 */
let orchestrator: LocalOrchestrator;

beforeAll(async () => {
  orchestrator = await LocalOrchestrator.start({
    model: { kind: 'simulated', options: { batchProcessingMs: 50 } },
    config: { batchPollSeconds: 1 },
    retryIntervalOverrides: { RunSubtask: 5, Plan: 5, Synthesize: 5, RunJob: 5 },
  });
});
afterAll(() => orchestrator.close());
beforeEach(() => {
  orchestrator.simulatedModel?.setFaults([]);
  orchestrator.simulatedModel?.setBatchProcessingMs(50);
});

const documents = () =>
  createDocumentClient({ region: 'us-east-1', endpoint: orchestrator.dynamodb.endpoint });

async function statesEntered(executionArn: string): Promise<string[]> {
  const history = await orchestrator.stepFunctions.executionHistory(executionArn);
  return history.flatMap((event) => {
    const details = event.stateEnteredEventDetails as { name?: string } | undefined;
    return details?.name ? [details.name] : [];
  });
}

const PRODUCTS = ['steel water bottle', 'merino jumper', 'bike light set', 'cast-iron casserole'];

describe('a batch with modelCalls "batch", run locally', () => {
  it('runs every item phase by phase through Message Batches at half the on-demand price, faults retried in the next round', async () => {
    // Arrange: one worker overloaded once, one synthesis expired once, one plan malformed once (repaired
    // next round), and every plan mentioning "cursed" rejected (that job fails alone).
    const before = orchestrator.simulatedModel?.requests.length ?? 0;
    orchestrator.simulatedModel?.setFaults([
      { kind: 'bad_request', role: 'plan', match: 'cursed' },
      { kind: 'malformed_plan', role: 'plan', match: 'merino', times: 1 },
      { kind: 'overloaded', role: 'worker', match: 'bike light', times: 1 },
      { kind: 'expired', role: 'synthesis', match: 'casserole', times: 1 },
    ]);
    const items = [...PRODUCTS, 'cursed doormat'].map((product) => ({
      task: `Write a product description for a ${product}`,
      profile: 'marketing',
    }));

    // Act
    const batch = await orchestrator.startBatch({
      batchName: 'lane-test',
      items,
      modelCalls: 'batch',
      trigger: 'cli',
    });
    const execution = await batch.finished;

    // Assert: the run completed, each item in a truthful terminal state; the rejected one alone failed.
    expect(execution.status).toBe('SUCCEEDED');
    const view = await orchestrator.getBatchRunView(batch.runId);
    expect(view).toMatchObject({
      status: 'COMPLETED',
      modelCalls: 'batch',
      counts: { SUCCEEDED: 4, FAILED: 1 },
    });
    expect(view?.items[4]).toMatchObject({ status: 'FAILED', error: { name: 'ModelRequestRejected' } });

    // Every model call went through a Message Batch, none on demand, and none waited in a Lambda.
    const requests = orchestrator.simulatedModel?.requests.slice(before) ?? [];
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((request) => request.batchId !== undefined)).toBe(true);
    const states = await statesEntered(batch.executionArn);
    expect(states).toEqual(expect.arrayContaining(['SubmitPlans', 'AwaitPlans', 'CheckPlans']));
    expect(states).toEqual(expect.arrayContaining(['SubmitWorkers', 'CheckWorkers', 'SubmitSyntheses']));
    expect(states).toContain('FinishLane');
    expect(states).not.toContain('RunJob');

    // The cost is the batch rate: half of what the same tokens cost on demand.
    const usage = view?.usage;
    expect(usage?.costUsd).toBeGreaterThan(0);
    // (Each call is rounded to the micro-dollar, so the ratio is a half to within rounding.)
    expect((usage?.costUsd ?? 0) / (usage?.onDemandCostUsd ?? 1)).toBeCloseTo(0.5, 3);

    // Each job's view looks as on demand: plan, subtasks with outputs, synthesis; the retried worker
    // counted both tries.
    for (const item of view?.items.slice(0, 4) ?? []) {
      const job = await orchestrator.getJobView(item.jobId);
      expect(job?.status).toBe('SUCCEEDED');
      expect(job?.plan?.subtasks.length).toBeGreaterThan(0);
      expect(job?.subtasks.every((subtask) => subtask.status === 'SUCCEEDED' && subtask.output)).toBe(true);
      expect(job?.synthesis).toEqual(expect.any(String));
      expect(job?.usage.costUsd).toBeGreaterThan(0);
    }
    const bikeLight = await orchestrator.getJobView(view?.items[2]?.jobId ?? '');
    expect(Math.max(...(bikeLight?.subtasks.map((subtask) => subtask.attempts) ?? []))).toBe(2);
    const faults = orchestrator.simulatedModel?.stats().faults;
    expect(faults).toMatchObject({ malformed_plan: 1, overloaded: 1, expired: 1 });
    for (const item of view?.items ?? []) {
      expect(TERMINAL_JOB_STATUSES).toContain((await orchestrator.getJobView(item.jobId))?.status);
    }
  });

  it('past its deadline cancels the batch in progress and finishes every item on demand', async () => {
    // Arrange: batches that would take a minute; once the plans are submitted, the deadline passes.
    orchestrator.simulatedModel?.setBatchProcessingMs(60_000);
    const before = orchestrator.simulatedModel?.requests.length ?? 0;
    const batch = await orchestrator.startBatch({
      batchName: 'lane-deadline',
      items: PRODUCTS.slice(0, 2).map((product) => ({
        task: `Write a product description for a ${product}`,
      })),
      modelCalls: 'batch',
      trigger: 'cli',
    });
    const lanes = new LaneRepository(documents(), orchestrator.stack.jobsTableName, 1);
    while (!(await lanes.getRound(batch.runId))?.batchId) await new Promise((r) => setTimeout(r, 50));

    // Act
    await documents().send(
      new UpdateCommand({
        TableName: orchestrator.stack.jobsTableName,
        Key: batchRunKey(batch.runId),
        UpdateExpression: 'SET deadlineAt = :past',
        ExpressionAttributeValues: { ':past': new Date(Date.now() - 1_000).toISOString() },
      }),
    );
    const execution = await batch.finished;

    // Assert: the plans' batch was cancelled (its requests never ran) and the items ran on demand.
    expect(execution.status).toBe('SUCCEEDED');
    const view = await orchestrator.getBatchRunView(batch.runId);
    expect(view).toMatchObject({ status: 'COMPLETED', modelCalls: 'batch', counts: { SUCCEEDED: 2 } });
    const requests = orchestrator.simulatedModel?.requests.slice(before) ?? [];
    expect(requests.some((request) => request.batchId !== undefined)).toBe(false);
    expect(requests.filter((request) => request.role === 'plan')).toHaveLength(2);
    const states = await statesEntered(batch.executionArn);
    expect(states).toEqual(expect.arrayContaining(['CheckPlans', 'FinishLane', 'RunRestOnDemand', 'RunJob']));
    // On demand, the tokens cost what they cost on demand.
    expect(view?.usage.costUsd).toBeCloseTo(view?.usage.onDemandCostUsd ?? 0, 6);
  });

  it('stopped mid-way, ends the run FAILED with every job and subtask in a terminal state, what succeeded kept', async () => {
    // Arrange: plans answered quickly, then a workers' batch that would take a minute.
    const batch = await orchestrator.startBatch({
      batchName: 'lane-stopped',
      items: PRODUCTS.slice(0, 2).map((product) => ({
        task: `Write a product description for a ${product}`,
      })),
      modelCalls: 'batch',
      trigger: 'cli',
    });
    const lanes = new LaneRepository(documents(), orchestrator.stack.jobsTableName, 1);
    while ((await lanes.getRound(batch.runId))?.phase !== 'workers') {
      if ((await lanes.getRound(batch.runId))?.collected)
        orchestrator.simulatedModel?.setBatchProcessingMs(60_000);
      await new Promise((r) => setTimeout(r, 20));
    }
    orchestrator.simulatedModel?.setBatchProcessingMs(60_000);

    // Act
    orchestrator.stepFunctions.stopExecution(batch.executionArn, 'Manual', 'stopped by the test');
    await batch.finished;
    await orchestrator.eventRules.settled();

    // Assert
    const view = await orchestrator.getBatchRunView(batch.runId);
    expect(view).toMatchObject({ status: 'FAILED', error: { name: 'ExecutionAborted' } });
    for (const item of view?.items ?? []) {
      const stored = await orchestrator.repository.getJobWithSubtasks(item.jobId);
      expect(item.status).toBe('FAILED');
      expect(stored?.job.status).toBe('FAILED');
      expect(stored?.job.plan).toBeDefined();
      expect(stored?.subtasks.length).toBeGreaterThan(0);
      for (const subtask of stored?.subtasks ?? []) expect(subtask.status).toBe('FAILED');
    }
  });

  it('runs against any Messages-API-compatible server at ANTHROPIC_BASE_URL, through the SDK', async () => {
    // Arrange: a separate server speaking the Messages and Message Batches APIs, reached as the
    // Anthropic API is (an API key and a base URL), not as the in-process simulated model.
    const server = await startSimulatedModel({ batchProcessingMs: 50 });
    const remote = await LocalOrchestrator.start({
      model: { kind: 'anthropic', apiKey: 'sk-compatible-server', baseUrl: server.url },
      config: { batchPollSeconds: 1 },
    });
    try {
      // Act
      const batch = await remote.startBatch({
        batchName: 'lane-base-url',
        items: [{ task: `Write a product description for a ${PRODUCTS[0]}` }],
        modelCalls: 'batch',
        trigger: 'cli',
      });
      await batch.finished;

      // Assert
      expect(await remote.getBatchRunView(batch.runId)).toMatchObject({
        status: 'COMPLETED',
        counts: { SUCCEEDED: 1 },
      });
      expect(server.requests.length).toBeGreaterThan(2);
      expect(server.requests.every((request) => request.batchId !== undefined)).toBe(true);
    } finally {
      await remote.close();
      await server.close();
    }
  });
});
