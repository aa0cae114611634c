import { LocalOrchestrator } from '../../local/runtime/stack';
import type { JobView } from '../../lambdas/shared/views/job-view';
import { HttpError } from '../../lambdas/api/http-error';
import { batchJobId } from '../../lambdas/shared/domain/batch-schemas';

/**
 * Plan review and budgets against the whole local stack: AwaitApproval's `.waitForTaskToken` emulated
 * by the local runtime, the budget checks as states, the simulated model.
 */
let orchestrator: LocalOrchestrator;
const TASK = 'Write a product description for a new eco-friendly water bottle';
const FAST_RETRIES = { Plan: 5, RunSubtask: 5, Synthesize: 5, RecordSubtaskFailure: 5, MarkFailed: 5 };

beforeAll(async () => {
  orchestrator = await LocalOrchestrator.start({
    model: { kind: 'simulated' },
    retryIntervalOverrides: FAST_RETRIES,
  });
});
afterAll(() => orchestrator.close());

const workerCalls = () => orchestrator.simulatedModel?.stats().byRole.worker ?? 0;
const modelCalls = () => orchestrator.simulatedModel?.stats().total ?? 0;

async function startAwaiting(extra: Record<string, unknown> = {}) {
  const started = await orchestrator.startJob({
    task: TASK,
    profile: 'marketing',
    approval: 'required',
    ...extra,
  });
  const awaiting = await orchestrator.approvalRequested(started.jobId, started.finished);
  if (!awaiting) throw new Error(`job ${started.jobId} ended without asking for approval`);
  return { started, awaiting };
}

async function viewOf(jobId: string): Promise<JobView> {
  const view = await orchestrator.getJobView(jobId);
  if (!view) throw new Error(`no job ${jobId}`);
  return view;
}

const statesEntered = (events: readonly { type: string }[]) =>
  events.flatMap((event) =>
    event.type === 'StateEntered' && 'state' in event
      ? [(event as { state: { name: string } }).state.name]
      : [],
  );

describe('a job that asks for approval', () => {
  it('waits in AwaitApproval with its plan and estimate and no worker call made, then runs once approved', async () => {
    const workersBefore = workerCalls();
    const { started, awaiting } = await startAwaiting();

    expect(awaiting.status).toBe('AWAITING_APPROVAL');
    expect(awaiting.plan?.subtasks.length).toBeGreaterThanOrEqual(2);
    expect(awaiting.estimate?.costUsd).toBeGreaterThan(0);
    expect(awaiting.approval).toBeNull();
    expect(workerCalls()).toBe(workersBefore);
    const stored = await orchestrator.repository.getJob(started.jobId);
    expect(stored?.approvalToken).toMatch(/^local-task-token:/);
    expect(JSON.stringify(awaiting)).not.toContain(stored?.approvalToken);

    const decided = await orchestrator.decideApproval(started.jobId, {
      decision: 'approve',
      comment: 'Looks right',
    });
    expect(decided.status).toBe('RUNNING');
    expect(decided.approval).toMatchObject({ decision: 'approve', comment: 'Looks right', by: 'person' });
    const execution = await started.finished;

    const view = await viewOf(started.jobId);
    expect(execution.status).toBe('SUCCEEDED');
    expect(view.status).toBe('SUCCEEDED');
    expect(workerCalls()).toBe(workersBefore + view.subtasks.length);
    expect(JSON.stringify(view)).not.toContain('local-task-token');
    expect(view.usage.costUsd).toBeLessThanOrEqual(awaiting.estimate?.costUsd ?? 0);
  });

  it('ends CANCELLED with PlanRejected and no worker call when rejected', async () => {
    const workersBefore = workerCalls();
    const { started } = await startAwaiting();

    await orchestrator.decideApproval(started.jobId, { decision: 'reject', comment: 'Too broad' });
    const execution = await started.finished;

    const view = await viewOf(started.jobId);
    expect(execution.status).toBe('SUCCEEDED');
    expect(statesEntered(execution.events)).toContain('Rejected');
    expect(view.status).toBe('CANCELLED');
    expect(view.error).toEqual({ name: 'PlanRejected', message: 'The plan was rejected: Too broad' });
    expect(view.approval).toMatchObject({ decision: 'reject', comment: 'Too broad' });
    expect(
      view.subtasks.every((subtask) => subtask.status === 'FAILED' && subtask.error?.name === 'PlanRejected'),
    ).toBe(true);
    expect(workerCalls()).toBe(workersBefore);
  });

  it('runs only the subtasks a person kept, re-estimated', async () => {
    const { started, awaiting } = await startAwaiting();
    const keep = awaiting.plan?.subtasks[0]?.id ?? '';

    await orchestrator.decideApproval(started.jobId, { decision: 'approve', subtasks: [keep] });
    await started.finished;

    const view = await viewOf(started.jobId);
    expect(view.status).toBe('SUCCEEDED');
    expect(view.plan?.subtasks.map((subtask) => subtask.id)).toEqual([keep]);
    expect(view.subtasks.map((subtask) => [subtask.id, subtask.status])).toEqual([[keep, 'SUCCEEDED']]);
    expect(view.approval?.subtasks).toEqual([keep]);
    expect(view.estimate?.costUsd).toBeLessThan(awaiting.estimate?.costUsd ?? 0);
  });

  it('refuses a second decision with 409, and a decision on an unknown job with 404', async () => {
    const { started } = await startAwaiting();
    await orchestrator.decideApproval(started.jobId, { decision: 'approve' });

    await expect(orchestrator.decideApproval(started.jobId, { decision: 'reject' })).rejects.toMatchObject({
      statusCode: 409,
      code: 'JOB_NOT_AWAITING_APPROVAL',
    });
    await expect(
      orchestrator.decideApproval('no-such-job-000', { decision: 'approve' }),
    ).rejects.toBeInstanceOf(HttpError);
    await expect(
      orchestrator.decideApproval('no-such-job-000', { decision: 'approve' }),
    ).rejects.toMatchObject({
      statusCode: 404,
    });
    await started.finished;
  });

  it('approves on its own when the estimate is under autoApproveUnderUsd', async () => {
    const started = await orchestrator.startJob({
      task: TASK,
      profile: 'marketing',
      approval: { autoApproveUnderUsd: 10 },
    });
    const execution = await started.finished;

    const view = await viewOf(started.jobId);
    expect(view.status).toBe('SUCCEEDED');
    expect(view.approval).toMatchObject({ decision: 'approve', by: 'auto' });
    expect(statesEntered(execution.events)).not.toContain('AwaitApproval');
  });
});

describe('a job with a budget', () => {
  it('ends FAILED with BudgetExceeded and no model call when even the plan cannot be afforded', async () => {
    const before = modelCalls();
    const started = await orchestrator.startJob({
      task: TASK,
      profile: 'marketing',
      budget: { maxCostUsd: 0.0005 },
    });
    await started.finished;

    const view = await viewOf(started.jobId);
    expect(view.status).toBe('FAILED');
    expect(view.error?.name).toBe('BudgetExceeded');
    expect(modelCalls()).toBe(before);
    expect(view.usage.costUsd).toBe(0);
  });

  it('stops at OverBudget before any worker when the synthesis cannot be reserved, keeping the plan', async () => {
    const workersBefore = workerCalls();
    // Enough for the planning call's worst case, not for it and the synthesis's as well.
    const started = await orchestrator.startJob({
      task: TASK,
      profile: 'marketing',
      budget: { maxCostUsd: 0.09 },
    });
    const execution = await started.finished;

    const view = await viewOf(started.jobId);
    expect(view.status).toBe('FAILED');
    expect(view.error?.name).toBe('BudgetExceeded');
    expect(statesEntered(execution.events)).toEqual(
      expect.arrayContaining(['ReserveSynthesis', 'OverBudget', 'MarkFailed']),
    );
    expect(view.plan).not.toBeNull();
    expect(workerCalls()).toBe(workersBefore);
    expect(view.usage.costUsd).toBeLessThanOrEqual(0.09);
  });

  it('runs out mid-way: subtasks it cannot afford fail BudgetExceeded without a call, the job ends PARTIAL, spend at or under the ceiling', async () => {
    // The estimate of the same plan (the simulated model plans a task the same way each time).
    const { started: probe, awaiting } = await startAwaiting();
    await orchestrator.decideApproval(probe.jobId, { decision: 'reject' });
    await probe.finished;
    const estimate = awaiting.estimate?.costUsd ?? 0;
    const subtasks = awaiting.plan?.subtasks.length ?? 0;
    // Room for every call but half a worker's worst case (haiku: 4096 output tokens ≈ $0.021): one must go.
    const ceiling = Math.round((estimate - 0.012) * 10_000) / 10_000;
    const workersBefore = workerCalls();

    const started = await orchestrator.startJob({
      task: TASK,
      profile: 'marketing',
      budget: { maxCostUsd: ceiling },
    });
    const execution = await started.finished;

    const view = await viewOf(started.jobId);
    const overBudget = view.subtasks.filter((subtask) => subtask.error?.name === 'BudgetExceeded');
    expect(view.status).toBe('PARTIAL');
    expect(overBudget.length).toBeGreaterThanOrEqual(1);
    expect(overBudget.every((subtask) => subtask.attempts === 0 && subtask.usage.costUsd === 0)).toBe(true);
    expect(workerCalls() - workersBefore).toBe(subtasks - overBudget.length);
    expect(view.synthesis).not.toBeNull();
    expect(view.usage.costUsd).toBeLessThanOrEqual(ceiling);
    expect(view.budget).toEqual({ maxCostUsd: ceiling, maxOutputTokens: null });
    expect(statesEntered(execution.events)).toEqual(
      expect.arrayContaining(['ReserveSynthesis', 'CheckWaveBudget', 'CheckSynthesisBudget', 'Synthesize']),
    );
  });

  it('succeeds untouched when the budget covers the estimate', async () => {
    const started = await orchestrator.startJob({
      task: TASK,
      profile: 'marketing',
      budget: { maxCostUsd: 5, maxOutputTokens: 100_000 },
    });
    await started.finished;

    const view = await viewOf(started.jobId);
    expect(view.status).toBe('SUCCEEDED');
    expect(view.usage.costUsd).toBeLessThanOrEqual(view.estimate?.costUsd ?? 0);
    const stored = await orchestrator.repository.getJob(started.jobId);
    // Everything held for calls was given back but what they cost.
    expect(stored?.budgetCommittedOutputTokens).toBe(view.usage.outputTokens);
  });
});

describe('a batch whose items carry approval and budgets', () => {
  it('waits per item, shows how many await approval, and finishes once they are decided', async () => {
    const batch = await orchestrator.startBatch({
      batchName: 'reviewed',
      items: [
        { task: TASK, profile: 'marketing', approval: 'required' },
        { task: 'Write a tagline for a bike shop', profile: 'marketing', budget: { maxCostUsd: 0.0005 } },
      ],
    });
    const jobId = batchJobId(batch.runId, 0);
    const awaiting = await orchestrator.approvalRequestedById(jobId);
    let view = await orchestrator.getBatchRunView(batch.runId);
    expect(awaiting?.status).toBe('AWAITING_APPROVAL');
    expect(view?.awaitingApproval).toBe(1);

    await orchestrator.decideApproval(jobId, { decision: 'approve' });
    await batch.finished;

    view = await orchestrator.getBatchRunView(batch.runId);
    expect(view?.awaitingApproval).toBe(0);
    expect(view?.items.map((item) => item.status)).toEqual(['SUCCEEDED', 'FAILED']);
    expect(view?.items[1]?.error?.name).toBe('BudgetExceeded');
  });
});

describe('a batch run with a budget of its own', () => {
  it("never lets its jobs together spend past the run's ceiling: what cannot be afforded fails BudgetExceeded", async () => {
    const { started: probe, awaiting } = await startAwaiting();
    await orchestrator.decideApproval(probe.jobId, { decision: 'reject' });
    await probe.finished;
    // Room for one and a half jobs' worst case: three jobs at once cannot all be afforded.
    const ceiling = Math.round((awaiting.estimate?.costUsd ?? 0) * 1.5 * 10_000) / 10_000;

    const batch = await orchestrator.startBatch({
      batchName: 'capped',
      maxConcurrency: 3,
      budget: { maxCostUsd: ceiling },
      items: [1, 2, 3].map(() => ({ task: TASK, profile: 'marketing' })),
    });
    await batch.finished;

    const view = await orchestrator.getBatchRunView(batch.runId);
    const jobs = await Promise.all((view?.items ?? []).map((item) => orchestrator.getJobView(item.jobId)));
    const spent = jobs.reduce((sum, job) => sum + (job?.usage.costUsd ?? 0), 0);
    const refused = jobs.filter(
      (job) =>
        job?.error?.name === 'BudgetExceeded' ||
        job?.subtasks.some((subtask) => subtask.error?.name === 'BudgetExceeded'),
    );
    expect(view?.status).toBe('COMPLETED');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(spent).toBeLessThanOrEqual(ceiling);
    expect(view?.budget).toEqual({
      maxCostUsd: ceiling,
      maxOutputTokens: null,
      committedUsd: expect.any(Number),
    });
    // Every hold was given back once the calls ended: what stays committed is what was spent.
    expect(view?.budget?.committedUsd).toBeCloseTo(spent, 5);
    expect(jobs.every((job) => job?.budget === null)).toBe(true);
  });
});

describe('an approval nobody gives', () => {
  let quick: LocalOrchestrator;
  beforeAll(async () => {
    quick = await LocalOrchestrator.start({
      model: { kind: 'simulated' },
      retryIntervalOverrides: FAST_RETRIES,
      taskTimeoutSeconds: { AwaitApproval: 1 },
    });
  });
  afterAll(() => quick.close());

  it('times out into FAILED with ApprovalTimedOut, and a late decision gets 409', async () => {
    const started = await quick.startJob({ task: TASK, profile: 'marketing', approval: 'required' });
    const execution = await started.finished;

    const view = await quick.getJobView(started.jobId);
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('ApprovalTimedOut');
    expect(statesEntered(execution.events)).toEqual(
      expect.arrayContaining(['AwaitApproval', 'ApprovalTimedOut', 'MarkFailed']),
    );
    expect(view?.status).toBe('FAILED');
    expect(view?.error?.name).toBe('ApprovalTimedOut');
    await expect(quick.decideApproval(started.jobId, { decision: 'approve' })).rejects.toMatchObject({
      statusCode: 409,
    });
  });
});
