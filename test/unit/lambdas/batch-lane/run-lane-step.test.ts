import Anthropic from '@anthropic-ai/sdk';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  checkRound,
  type LaneDependencies,
  type MessageBatchesClient,
  submitRound,
} from '../../../../lambdas/batch-lane/run-lane-step';
import type { BatchResult, CapturedRequest } from '../../../../lambdas/batch-lane/lane-gateway';
import { anthropicMessageBatches } from '../../../../lambdas/batch-lane/message-batches';
import { BatchRepository } from '../../../../lambdas/shared/storage/batch-repository';
import { type LanePhase, LaneRepository } from '../../../../lambdas/shared/storage/lane-repository';
import { startSimulatedModel, type SimulatedModel } from '../../../../local/simulated-model';
import { startTestTable, type TestTable } from '../../../helpers/local-table';

let table: TestTable;
let batches: BatchRepository;
let lanes: LaneRepository;
beforeAll(async () => {
  table = await startTestTable();
  batches = new BatchRepository(table.documents, table.tableName, 30);
  lanes = new LaneRepository(table.documents, table.tableName, 30);
});
afterAll(() => table.close());

/** A Message Batches API that keeps what is created and answers every request with `answer`. */
class FakeBatches implements MessageBatchesClient {
  readonly created: CapturedRequest[][] = [];
  readonly cancelled: string[] = [];
  status: 'in_progress' | 'canceling' | 'ended' = 'ended';
  recent: { id: string; createdAt: string; requestCount: number }[] = [];
  constructor(private readonly answer: (request: CapturedRequest) => BatchResult) {}
  async create(requests: readonly CapturedRequest[]) {
    this.created.push([...requests]);
    return { id: `batch-${this.created.length}` };
  }
  async retrieve() {
    return { processingStatus: this.status };
  }
  async cancel(id: string) {
    this.cancelled.push(id);
  }
  async results(id: string) {
    const requests = this.created[Number(id.split('-')[1]) - 1] ?? [];
    return new Map(requests.map((request) => [request.customId, this.answer(request)]));
  }
  async listRecent() {
    return this.recent;
  }
}

let runs = 0;
async function newRun(itemCount: number, deadlineAt?: string): Promise<string> {
  runs += 1;
  const runId = `lane-unit-${runs}`;
  const items = Array.from({ length: itemCount }, (_, index) => ({
    index,
    jobId: `${runId}-00${index + 1}`,
    task: `Research topic ${index}`,
  }));
  await batches.createRun({ runId, batchName: 'lane-unit', trigger: 'cli', items });
  for (const item of items)
    await table.repository.createJob({
      jobId: item.jobId,
      status: 'QUEUED',
      task: item.task,
      context: {},
      profile: 'research',
    });
  await batches.recordModelCalls(
    runId,
    'batch',
    deadlineAt ?? new Date(Date.now() + 3_600_000).toISOString(),
  );
  return runId;
}

function deps(messageBatches: MessageBatchesClient, maxTries = 3): LaneDependencies {
  return {
    batches,
    jobs: table.repository,
    lanes,
    messageBatches,
    settings: {
      plan: {
        model: 'claude-sonnet-5-5',
        maxTokens: 1_024,
        maxSubtasks: 5,
        repairAttempts: 1,
        roles: {
          worker: { model: 'claude-haiku-5-5', maxTokens: 1_024 },
          synthesis: { model: 'claude-sonnet-5-5', maxTokens: 1_024 },
        },
        defaults: { approval: 'none' },
      },
      worker: { model: 'claude-haiku-5-5', maxTokens: 1_024 },
      synthesis: { model: 'claude-sonnet-5-5', maxTokens: 1_024 },
      maxTries,
      pollSeconds: 7,
    },
  };
}

const expired = (): BatchResult => ({ type: 'expired' });

describe('the batch lane', () => {
  it("submits every item's plan as one batch, and a retried submit reuses it instead of creating another", async () => {
    const runId = await newRun(3);
    const api = new FakeBatches(expired);

    const first = await submitRound(runId, 'plans', deps(api));
    const retried = await submitRound(runId, 'plans', deps(api));

    expect(first).toEqual({ next: 'await', pollSeconds: 7, batchId: 'batch-1', requests: 3 });
    expect(retried).toEqual(first);
    expect(api.created).toHaveLength(1);
    expect(api.created[0]?.map((request) => request.customId)).toEqual(['i0-p1', 'i1-p1', 'i2-p1']);
  });

  it('adopts the batch a lost submit created (intent recorded, id not) rather than creating a second', async () => {
    const runId = await newRun(2);
    const submittingAt = new Date().toISOString();
    await lanes.beginRound(runId, { phase: 'plans', round: 1, submittingAt, requestCount: 2 });
    const api = new FakeBatches(expired);
    api.recent = [{ id: 'msgbatch-lost', createdAt: submittingAt, requestCount: 2 }];

    const result = await submitRound(runId, 'plans', deps(api));

    expect(result.batchId).toBe('msgbatch-lost');
    expect(api.created).toHaveLength(0);
    expect((await lanes.getRound(runId))?.batchId).toBe('msgbatch-lost');
  });

  it('sends an expired request again in the next round, and after maxTries fails that job with the error', async () => {
    const runId = await newRun(1);
    const api = new FakeBatches(expired);
    const lane = deps(api, 2);

    await submitRound(runId, 'plans', lane);
    expect(await checkRound(runId, 'plans', lane)).toMatchObject({ next: 'submit' });
    const jobAfterOne = await table.repository.getJob(`${runId}-001`);
    await submitRound(runId, 'plans', lane);
    await checkRound(runId, 'plans', lane);

    expect(jobAfterOne?.status).toBe('PLANNING');
    expect(api.created).toHaveLength(2);
    expect(await table.repository.getJob(`${runId}-001`)).toMatchObject({
      status: 'FAILED',
      error: {
        name: 'BatchRequestExpired',
        message: expect.stringContaining('after 2 Message Batch rounds'),
      },
    });
    expect(await submitRound(runId, 'plans', lane)).toMatchObject({ next: 'done' });
  });

  it('fails only the job whose request was rejected (non-retryable), at once', async () => {
    const runId = await newRun(2);
    const api = new FakeBatches((request) =>
      request.customId.startsWith('i1-')
        ? ({
            type: 'errored',
            error: { type: 'error', error: { type: 'invalid_request_error', message: 'bad' } },
          } as never)
        : expired(),
    );

    await submitRound(runId, 'plans', deps(api));
    await checkRound(runId, 'plans', deps(api));

    expect((await table.repository.getJob(`${runId}-002`))?.error?.name).toBe('ModelRequestRejected');
    expect((await table.repository.getJob(`${runId}-001`))?.status).toBe('PLANNING');
  });

  it('past the deadline cancels a batch in progress, then hands the rest to on demand', async () => {
    const runId = await newRun(1, new Date(Date.now() + 3_600_000).toISOString());
    const api = new FakeBatches(() => ({ type: 'canceled' }));
    await submitRound(runId, 'plans', deps(api));
    await table.documents.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { pk: `BATCH#${runId}`, sk: 'RUN' },
        UpdateExpression: 'SET deadlineAt = :past',
        ExpressionAttributeValues: { ':past': new Date(Date.now() - 1_000).toISOString() },
      }),
    );
    api.status = 'in_progress';

    const waiting = await checkRound(runId, 'plans', deps(api));
    api.status = 'ended';
    const ended = await checkRound(runId, 'plans', deps(api));

    expect(waiting.next).toBe('await');
    expect(api.cancelled).toEqual(['batch-1']);
    expect(ended.next).toBe('fallback');
    expect((await table.repository.getJob(`${runId}-001`))?.status).toBe('PLANNING');
    expect(await submitRound(runId, 'plans', deps(api))).toMatchObject({ next: 'fallback' });
  });
});

describe('the batch lane against the simulated Message Batches API', () => {
  let model: SimulatedModel;
  beforeAll(async () => {
    model = await startSimulatedModel({ batchProcessingMs: 5 });
  });
  afterAll(() => model.close());
  beforeEach(() => model.setFaults([]));

  /** The simulated API through the lane's client, keeping the requests of every batch it creates. */
  function simulatedBatches() {
    const client = anthropicMessageBatches(
      async () => new Anthropic({ apiKey: 'sk-test', baseURL: model.url, maxRetries: 0 }),
    );
    const created: CapturedRequest[][] = [];
    const recording: MessageBatchesClient = {
      ...client,
      create: (requests) => {
        created.push([...requests]);
        return client.create(requests);
      },
    };
    /** The custom ids of each batch created so far, sorted (items are submitted concurrently). */
    const rounds = () => created.map((requests) => requests.map((request) => request.customId).sort());
    return { created, rounds, lane: deps(recording) };
  }

  /** Checks the phase's batch until it has ended and its results are applied. */
  async function untilApplied(runId: string, phase: LanePhase, lane: LaneDependencies): Promise<void> {
    for (let checks = 0; checks < 200; checks += 1) {
      const checked = await checkRound(runId, phase, lane);
      if (checked.next === 'submit') return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`The ${phase} batch of ${runId} never ended`);
  }

  /** Runs a phase as the state machine does: submit, await, check, round after round until nothing is left. */
  async function runPhase(runId: string, phase: LanePhase, lane: LaneDependencies): Promise<void> {
    for (let rounds = 0; rounds < 10; rounds += 1) {
      if ((await submitRound(runId, phase, lane)).next === 'done') return;
      await untilApplied(runId, phase, lane);
    }
    throw new Error(`The ${phase} phase of ${runId} never ran out of requests`);
  }

  const textOf = (request: CapturedRequest | undefined) =>
    (request?.params.messages ?? [])
      .flatMap((message) =>
        typeof message.content === 'string'
          ? [message.content]
          : message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])),
      )
      .join('\n');

  const statuses = async (jobId: string) =>
    Object.fromEntries(
      ((await table.repository.getJobWithSubtasks(jobId))?.subtasks ?? []).map((subtask) => [
        subtask.id,
        subtask.status,
      ]),
    );

  it("submits each job's first wave in one worker round and its second wave, with the first wave's outputs, in the next", async () => {
    const runId = await newRun(2);
    const { created, rounds, lane } = simulatedBatches();
    await runPhase(runId, 'plans', lane);
    const [first, second] = [`${runId}-001`, `${runId}-002`];

    expect((await table.repository.getJob(first))?.waves).toEqual([
      ['background'],
      ['benefits-and-drawbacks', 'practical-implications', 'common-misconceptions', 'alternatives-compared'],
    ]);
    expect((await table.repository.getJob(second))?.waves).toEqual([
      ['background', 'current-state'],
      ['approaches-compared'],
    ]);

    await submitRound(runId, 'workers', lane);
    expect(rounds().at(-1)).toEqual(['i0-w0', 'i1-w0', 'i1-w2']);
    await untilApplied(runId, 'workers', lane);
    expect(await statuses(second)).toEqual({
      background: 'SUCCEEDED',
      'current-state': 'SUCCEEDED',
      'approaches-compared': 'PENDING',
    });

    await submitRound(runId, 'workers', lane);
    expect(rounds().at(-1)).toEqual(['i0-w1', 'i0-w2', 'i0-w3', 'i0-w4', 'i1-w1']);
    const background = await table.repository.getSubtask(second, 'background');
    const wave2Request = created.at(-1)?.find((request) => request.customId === 'i1-w1');
    expect(background?.output).toBeTruthy();
    expect(textOf(wave2Request)).toContain(background?.output);
    await untilApplied(runId, 'workers', lane);

    expect(await submitRound(runId, 'workers', lane)).toMatchObject({ next: 'done' });
    expect(Object.values(await statuses(first))).toEqual(Array(5).fill('SUCCEEDED'));
    expect(await statuses(second)).toMatchObject({ 'approaches-compared': 'SUCCEEDED' });
  });

  it('fails at once only the subtask whose worker request was rejected (400), and the job ends PARTIAL', async () => {
    model.setFaults([{ kind: 'bad_request', role: 'worker', match: 'assigned_subtask id="current-state"' }]);
    const runId = await newRun(2);
    const jobId = `${runId}-002`;
    const { rounds, lane } = simulatedBatches();
    await runPhase(runId, 'plans', lane);
    const planRounds = rounds().length;

    await submitRound(runId, 'workers', lane);
    await untilApplied(runId, 'workers', lane);
    const rejected = await table.repository.getSubtask(jobId, 'current-state');
    await runPhase(runId, 'workers', lane);
    const workerRounds = rounds().slice(planRounds);
    await runPhase(runId, 'syntheses', lane);

    expect(rejected).toMatchObject({
      status: 'FAILED',
      attempts: 1,
      error: { name: 'ModelRequestRejected', message: expect.stringContaining('invalid_request_error') },
    });
    expect(workerRounds).toEqual([
      ['i0-w0', 'i1-w0', 'i1-w2'],
      ['i0-w1', 'i0-w2', 'i0-w3', 'i0-w4', 'i1-w1'],
    ]);
    expect(await statuses(jobId)).toEqual({
      background: 'SUCCEEDED',
      'current-state': 'FAILED',
      'approaches-compared': 'SUCCEEDED',
    });
    expect(await table.repository.getJob(jobId)).toMatchObject({
      status: 'PARTIAL',
      error: {
        name: 'SubtasksFailed',
        message: expect.stringContaining('current-state (ModelRequestRejected)'),
      },
    });
    expect((await table.repository.getJob(`${runId}-001`))?.status).toBe('SUCCEEDED');
  });

  it('submits one synthesis per job with finished workers, and stores it priced at the batch rate', async () => {
    model.setFaults([{ kind: 'bad_request', role: 'plan', match: 'Research topic 1' }]);
    const runId = await newRun(2);
    const { rounds, lane } = simulatedBatches();
    await runPhase(runId, 'plans', lane);
    await runPhase(runId, 'workers', lane);
    const earlierRounds = rounds().length;

    await runPhase(runId, 'syntheses', lane);

    expect(rounds().slice(earlierRounds)).toEqual([['i0-s']]);
    expect(await submitRound(runId, 'syntheses', lane)).toMatchObject({ next: 'done' });
    const { job, subtasks } = (await table.repository.getJobWithSubtasks(`${runId}-001`)) ?? {};
    expect(job).toMatchObject({
      status: 'SUCCEEDED',
      synthesis: expect.stringContaining('Simulated synthesis (local test double) of 5 subtask results'),
    });
    expect(job?.error).toBeUndefined();
    const usage = job?.synthesisUsage;
    // claude-sonnet at the batch rate, $1.50 and $7.50 per million input and output tokens (to the micro-dollar).
    expect(usage).toMatchObject({
      model: 'claude-sonnet-5-5',
      lane: 'batch',
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
    expect(usage?.inputTokens).toBeGreaterThan(0);
    expect(usage?.costUsd).toBe(
      Math.round((usage?.inputTokens ?? 0) * 1.5 + (usage?.outputTokens ?? 0) * 7.5) / 1_000_000,
    );
    expect(job?.planUsage?.lane).toBe('batch');
    expect(subtasks?.map((subtask) => subtask.usage)).toEqual(
      Array(5).fill(expect.objectContaining({ lane: 'batch', cacheTtl: '1h' })),
    );
    expect((await table.repository.getJob(`${runId}-002`))?.status).toBe('FAILED');
  });
});
