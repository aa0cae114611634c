import { LocalOrchestrator, type LocalExecution, type ExecutionEvent } from '../../local/runtime/stack';
import type { FaultRule } from '../../local/simulated-model';
import type { JobView } from '../../lambdas/shared/views/job-view';
import { TERMINAL_JOB_STATUSES } from '../../lambdas/shared/domain/schemas';

/**
 * The whole system through the local runtime: the synthesized state machine in
 * aws-local-stepfunctions, the handlers, dynalite, and the simulated model through the real SDK.
 */
let orchestrator: LocalOrchestrator;
const PRODUCT_TASK = 'Write a product description for a new eco-friendly water bottle';
const RESEARCH_TASK = 'What are the trade-offs between heat pumps and gas boilers for older houses?';
const FAST_RETRIES = { Plan: 5, RunSubtask: 5, Synthesize: 5, RecordSubtaskFailure: 5, MarkFailed: 5 };

beforeAll(async () => {
  orchestrator = await LocalOrchestrator.start({
    model: { kind: 'simulated' },
    retryIntervalOverrides: FAST_RETRIES,
    // A short worker deadline, so a hung model call times out within the test (5 s margin + 2 s call).
    functionTimeoutSeconds: { worker: 7 },
  });
});
afterAll(() => orchestrator.close());
beforeEach(() => orchestrator.simulatedModel?.setFaults([]));

interface Finished {
  execution: Awaited<LocalExecution['finished']>;
  view: JobView;
  events: ExecutionEvent[];
}

async function runJob(
  task: string,
  faults: FaultRule[] = [],
  context: Record<string, unknown> = {},
  profile = task === PRODUCT_TASK ? 'marketing' : 'research',
): Promise<Finished> {
  orchestrator.simulatedModel?.setFaults(faults);
  const started = await orchestrator.startJob({ task, context, profile });
  const events: ExecutionEvent[] = [];
  for await (const event of started.events) events.push(event);
  const execution = await started.finished;
  const view = await orchestrator.getJobView(started.jobId);
  if (!view) throw new Error('job view missing');
  return { execution, view, events };
}

describe('a job run locally end to end', () => {
  it('succeeds with its plan, every subtask output and the synthesis stored', async () => {
    const { execution, view, events } = await runJob(PRODUCT_TASK, [], { targetAudience: 'hikers' });

    expect(execution.status).toBe('SUCCEEDED');
    expect(view.status).toBe('SUCCEEDED');
    expect(view.plan?.subtasks.length).toBeGreaterThanOrEqual(2);
    expect(view.plan?.subtasks.length).toBeLessThanOrEqual(6);
    expect(view.subtasks).toHaveLength(view.plan?.subtasks.length ?? -1);
    for (const subtask of view.subtasks) {
      const planned = view.plan?.subtasks.find((p) => p.id === subtask.id);
      expect(subtask).toMatchObject({ status: 'SUCCEEDED', attempts: 1, error: null });
      expect(subtask.output).toContain(planned?.title);
      expect(subtask.usage.outputTokens).toBeGreaterThan(0);
    }
    expect(view.synthesis).toContain('simulated model');
    expect(view.error).toBeNull();
    expect(view.usage.inputTokens).toBeGreaterThan(0);
    const entered = events
      .filter((event) => event.type === 'StateEntered')
      .map((event) => 'state' in event && event.state.name);
    expect(entered).toEqual(
      expect.arrayContaining(['Plan', 'RunSubtasks', 'RunSubtask', 'Synthesize', 'Done']),
    );
    expect(entered).not.toContain('MarkFailed');
  });

  it('plans differently for different tasks', async () => {
    const product = await runJob(PRODUCT_TASK);
    const research = await runJob(RESEARCH_TASK);

    const types = (view: JobView) => new Set(view.plan?.subtasks.map((subtask) => subtask.type));
    expect(types(product.view)).toEqual(new Set(['variation']));
    expect(
      [...types(research.view)].every((type) => ['research', 'analysis', 'comparison'].includes(type)),
    ).toBe(true);
    expect(research.view.plan?.subtasks.length).toBeGreaterThanOrEqual(3);
  });

  it('ends PARTIAL when one subtask keeps failing, keeping the others and naming the failure', async () => {
    // Arrange: the plan is deterministic, so a first run tells which subtask to break (one nothing depends on).
    const first = await runJob(RESEARCH_TASK);
    const dependedOn = new Set(first.view.plan?.subtasks.flatMap((subtask) => subtask.dependsOn));
    const broken = first.view.plan?.subtasks.find((subtask) => !dependedOn.has(subtask.id))?.id ?? '';

    // Act
    const { execution, view, events } = await runJob(RESEARCH_TASK, [
      { kind: 'server_error', role: 'worker', match: `<assigned_subtask id="${broken}"` },
    ]);

    // Assert
    expect(execution.status).toBe('SUCCEEDED');
    expect(view.status).toBe('PARTIAL');
    const failed = view.subtasks.find((subtask) => subtask.id === broken);
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 4, error: { name: 'ModelUnavailable' } });
    const others = view.subtasks.filter((subtask) => subtask.id !== broken);
    expect(others.length).toBeGreaterThan(0);
    for (const other of others)
      expect(other).toMatchObject({ status: 'SUCCEEDED', output: expect.any(String) });
    expect(view.synthesis).toBeTruthy();
    expect(view.error).toEqual({
      name: 'SubtasksFailed',
      message: expect.stringContaining(`${broken} (ModelUnavailable)`),
    });
    expect(events.filter((event) => event.type === 'StateRetried')).toHaveLength(3);
    expect(
      events.some((event) => event.type === 'StateEntered' && event.state.name === 'RecordSubtaskFailure'),
    ).toBe(true);
  });

  it('retries injected 429 and 529 in workers, planning and synthesis, and succeeds with attempts recorded', async () => {
    const { view, events } = await runJob(PRODUCT_TASK, [
      { kind: 'overloaded', role: 'plan', times: 1 },
      { kind: 'rate_limit', role: 'worker', times: 2 },
      { kind: 'overloaded', role: 'worker', times: 3 },
      { kind: 'rate_limit', role: 'synthesis', times: 1 },
    ]);

    expect(view.status).toBe('SUCCEEDED');
    const attempts = view.subtasks.reduce((sum, subtask) => sum + subtask.attempts, 0);
    expect(attempts).toBeGreaterThan(view.subtasks.length);
    expect(view.subtasks.some((subtask) => subtask.attempts > 1)).toBe(true);
    const retried = events
      .filter((event) => event.type === 'StateRetried')
      .map((event) => 'state' in event && event.state.name);
    expect(retried).toEqual(expect.arrayContaining(['Plan', 'RunSubtask', 'Synthesize']));
    const stats = orchestrator.simulatedModel?.stats();
    expect(stats?.faults.rate_limit).toBeGreaterThan(0);
    expect(stats?.faults.overloaded).toBeGreaterThan(0);
  });

  it('repairs a malformed plan and goes on', async () => {
    const { view } = await runJob(RESEARCH_TASK, [{ kind: 'malformed_plan', variant: 'cycle', times: 1 }]);

    expect(view.status).toBe('SUCCEEDED');
    const job = await orchestrator.repository.getJob(view.jobId);
    expect(job?.planAttempts).toBe(2);
  });

  it('ends FAILED with InvalidPlan when the plan stays malformed, without retrying', async () => {
    const { execution, view, events } = await runJob(RESEARCH_TASK, [
      { kind: 'malformed_plan', variant: 'not_json' },
    ]);

    expect(view.status).toBe('FAILED');
    expect(view.error).toEqual({
      name: 'InvalidPlan',
      message: expect.stringContaining('still invalid after 3 attempts'),
    });
    expect(view.subtasks).toEqual([]);
    expect(view.usage.inputTokens).toBeGreaterThan(0); // the failed planning calls still count
    expect(execution).toMatchObject({ status: 'FAILED', error: 'InvalidPlan' });
    expect(events.filter((event) => event.type === 'StateRetried')).toHaveLength(0);
  });

  it('ends FAILED with the reason when every subtask fails', async () => {
    const { execution, view } = await runJob(PRODUCT_TASK, [{ kind: 'bad_request', role: 'worker' }]);

    expect(view.status).toBe('FAILED');
    expect(view.error?.name).toBe('AllSubtasksFailed');
    expect(
      view.subtasks.every(
        (subtask) => subtask.status === 'FAILED' && subtask.error?.name === 'ModelRequestRejected',
      ),
    ).toBe(true);
    expect(view.subtasks.every((subtask) => subtask.attempts === 1)).toBe(true);
    expect(execution).toMatchObject({ status: 'FAILED', error: 'AllSubtasksFailed' });
  });

  it('fails the job at once when the planning request is rejected', async () => {
    const before = orchestrator.simulatedModel?.stats().byRole.plan ?? 0;

    const { view } = await runJob(PRODUCT_TASK, [{ kind: 'bad_request', role: 'plan' }]);

    expect(view.status).toBe('FAILED');
    expect(view.error?.name).toBe('ModelRequestRejected');
    expect((orchestrator.simulatedModel?.stats().byRole.plan ?? 0) - before).toBe(1);
  });

  it('times out a worker call that hangs, retries it, and succeeds', async () => {
    const { view, events } = await runJob(PRODUCT_TASK, [{ kind: 'hang', role: 'worker', times: 1 }]);

    expect(view.status).toBe('SUCCEEDED');
    expect(view.subtasks.some((subtask) => subtask.attempts === 2)).toBe(true);
    const failures = events
      .filter((event) => event.type === 'StateFailed')
      .map((event) => ('Error' in event ? event.Error : ''));
    expect(failures).toContain('ModelTimeout');
  });

  it('fails one subtask on a worker refusal, without retrying it, and ends PARTIAL', async () => {
    const { view } = await runJob(RESEARCH_TASK, [{ kind: 'refusal', role: 'worker', times: 1 }]);

    expect(view.status).toBe('PARTIAL');
    const refused = view.subtasks.filter((subtask) => subtask.error?.name === 'ModelRefused');
    expect(refused).toHaveLength(1);
    // Whatever depended on it was not run; everything else succeeded.
    for (const subtask of view.subtasks.filter((candidate) => candidate !== refused[0])) {
      expect(['SUCCEEDED', 'DependencyFailed']).toContain(
        subtask.status === 'SUCCEEDED' ? 'SUCCEEDED' : subtask.error?.name,
      );
    }
    expect(refused[0]).toMatchObject({ attempts: 1, output: null, error: { name: 'ModelRefused' } });
    expect(refused[0]?.error?.message).toContain('Simulated refusal (injected fault)');
    expect(refused[0]?.usage.outputTokens).toBeGreaterThan(0);
    expect(view.error?.name).toBe('SubtasksFailed');
  });

  it('fails the job on an empty synthesis, keeping every subtask output', async () => {
    const { view, events } = await runJob(RESEARCH_TASK, [{ kind: 'empty_output', role: 'synthesis' }]);

    expect(view.status).toBe('FAILED');
    expect(view.error).toMatchObject({ name: 'EmptyModelOutput' });
    expect(view.subtasks.every((subtask) => subtask.status === 'SUCCEEDED' && subtask.output)).toBe(true);
    expect(view.synthesis).toBeNull();
    const entered = events.flatMap((event) =>
      event.type === 'StateEntered' && 'state' in event ? [event.state.name] : [],
    );
    expect(entered.filter((name) => name === 'Synthesize')).toHaveLength(1);
    expect(entered).toContain('MarkFailed');
  });

  it('fails the job with ModelRefused after one planning call when the orchestrator refuses', async () => {
    const before = orchestrator.simulatedModel?.stats().byRole.plan ?? 0;

    const { view } = await runJob(RESEARCH_TASK, [{ kind: 'refusal', role: 'plan' }]);

    expect(view.status).toBe('FAILED');
    expect(view.error?.name).toBe('ModelRefused');
    expect(view.plan).toBeNull();
    expect((orchestrator.simulatedModel?.stats().byRole.plan ?? 0) - before).toBe(1);
    expect(view.usage.inputTokens).toBeGreaterThan(0);
  });

  it('leaves every job it ran in a terminal status', async () => {
    const { ListTablesCommand, ScanCommand } = await import('@aws-sdk/client-dynamodb');
    const tables = await orchestrator.dynamodb.client.send(new ListTablesCommand({}));
    const scan = await orchestrator.dynamodb.client.send(
      new ScanCommand({
        TableName: tables.TableNames?.[0],
        FilterExpression: 'sk = :job',
        ExpressionAttributeValues: { ':job': { S: 'JOB' } },
      }),
    );
    const statuses = (scan.Items ?? []).map((item) => item.status?.S);
    expect(statuses.length).toBeGreaterThanOrEqual(10);
    for (const status of statuses) expect(TERMINAL_JOB_STATUSES).toContain(status);
  });
});

describe('prompt caching in a local job', () => {
  // About 3,000 estimated tokens: past the 2,048-token minimum of the default (Haiku) worker model.
  const LONG_BRIEF =
    'Older houses lose heat through solid walls, single glazing and draughty floors. '.repeat(150);

  it('writes the workers’ shared prefix once and reads it from the cache for every other worker', async () => {
    const { view } = await runJob(RESEARCH_TASK, [], { brief: LONG_BRIEF });

    expect(view.status).toBe('SUCCEEDED');
    expect(view.subtasks.length).toBeGreaterThanOrEqual(3);
    const writers = view.subtasks.filter((subtask) => subtask.usage.cacheWriteTokens > 0);
    const readers = view.subtasks.filter((subtask) => subtask.usage.cacheReadTokens > 0);
    expect(writers).toHaveLength(1);
    expect(readers).toHaveLength(view.subtasks.length - 1);
    const prefixTokens = writers[0]?.usage.cacheWriteTokens ?? 0;
    expect(prefixTokens).toBeGreaterThan(2048);
    for (const reader of readers) expect(reader.usage.cacheReadTokens).toBe(prefixTokens);
    expect(view.usage.cacheReadTokens).toBe(prefixTokens * (view.subtasks.length - 1));
    expect(view.usage.byRole.workers.cacheReadTokens).toBe(view.usage.cacheReadTokens);
  });

  it('caches nothing when the shared prefix is under the minimum, and the job still succeeds', async () => {
    const { view } = await runJob(RESEARCH_TASK);

    expect(view.status).toBe('SUCCEEDED');
    expect(view.usage.cacheReadTokens + view.usage.cacheWriteTokens).toBe(0);
  });
});
