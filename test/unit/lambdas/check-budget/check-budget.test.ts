import { checkBudget } from '../../../../lambdas/check-budget/check-budget';
import { priced } from '../../../../lambdas/shared/domain/pricing';
import { synthesizeJob } from '../../../../lambdas/synthesize/synthesize-job';
import { ScriptedModel } from '../../../helpers/fake-model';
import { startTestTable, type TestTable } from '../../../helpers/local-table';
import { planWith } from '../../../helpers/plans';

let table: TestTable;
let counter = 0;
beforeAll(async () => {
  table = await startTestTable();
});
afterAll(() => table.close());

const roles = {
  worker: { model: 'claude-haiku-5-5', maxTokens: 1000 },
  synthesis: { model: 'claude-sonnet-5-5', maxTokens: 2000 },
};
const deps = () => ({ repository: table.repository, roles });

async function plannedJob(budget: { maxCostUsd?: number; maxOutputTokens?: number }, ids = ['a', 'b', 'c']) {
  const jobId = `budget-test-${++counter}`;
  await table.repository.createJob({
    jobId,
    status: 'QUEUED',
    task: 'Compare heat pumps',
    context: {},
    profile: 'research',
    budget,
  });
  await table.repository.savePlan(
    jobId,
    planWith(ids),
    [ids],
    priced('m', { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 }),
    1,
  );
  return jobId;
}

describe('reserving the synthesis before any worker starts', () => {
  it("holds the synthesis's worst case (every output at max_tokens) once, however often it is retried", async () => {
    const jobId = await plannedJob({ maxOutputTokens: 10_000 });

    const first = await checkBudget({ check: 'reserve-synthesis', jobId }, deps());
    const again = await checkBudget({ check: 'reserve-synthesis', jobId }, deps());

    expect(first).toEqual({ jobId, withinBudget: true, reason: null });
    expect(again).toEqual(first);
    const job = await table.repository.getJob(jobId);
    expect(job?.synthesisHoldOutputTokens).toBe(2000);
    expect(job?.budgetCommittedOutputTokens).toBe(2000);
  });

  it('says why when the budget cannot cover it, holding nothing', async () => {
    const jobId = await plannedJob({ maxOutputTokens: 1999 });

    const result = await checkBudget({ check: 'reserve-synthesis', jobId }, deps());

    expect(result).toMatchObject({
      withinBudget: false,
      reason: expect.stringContaining("the synthesis's worst case"),
    });
    expect((await table.repository.getJob(jobId))?.budgetCommittedOutputTokens).toBeUndefined();
  });
});

describe('checking a wave', () => {
  it('lets through, in start order, what fits on top of the synthesis hold, and fails the rest BudgetExceeded without a call', async () => {
    const jobId = await plannedJob({ maxOutputTokens: 4_500 });
    await checkBudget({ check: 'reserve-synthesis', jobId }, deps());

    const result = await checkBudget({ check: 'wave', jobId, wave: 0, subtaskIds: ['a', 'b', 'c'] }, deps());

    expect(result).toEqual({ jobId, wave: 0, subtaskIds: ['a', 'b'], overBudget: ['c'] });
    const c = await table.repository.getSubtask(jobId, 'c');
    expect(c).toMatchObject({ status: 'FAILED', attempts: 0, error: { name: 'BudgetExceeded' } });
    expect(c?.usage).toBeUndefined();
  });

  it('lets everything through for a job without a budget', async () => {
    const jobId = await plannedJob({});

    expect(
      await checkBudget({ check: 'wave', jobId, wave: 0, subtaskIds: ['a', 'b', 'c'] }, deps()),
    ).toMatchObject({
      subtaskIds: ['a', 'b', 'c'],
      overBudget: [],
    });
  });
});

describe('checking the synthesis', () => {
  it('sets the hold to the exact prompt’s worst case, and the synthesis then spends only what it cost', async () => {
    const jobId = await plannedJob({ maxCostUsd: 1 }, ['a', 'b']);
    await checkBudget({ check: 'reserve-synthesis', jobId }, deps());
    const reserved = (await table.repository.getJob(jobId))?.synthesisHoldMicroUsd ?? 0;
    const usage = priced('claude-haiku-5-5', {
      inputTokens: 100,
      outputTokens: 50,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
    await table.repository.completeSubtask(jobId, 'a', { output: 'short', usage, stopReason: 'end_turn' });
    await table.repository.failSubtask(jobId, 'b', { name: 'ModelRefused', message: 'no' });

    const result = await checkBudget({ check: 'synthesis', jobId }, deps());
    const exact = (await table.repository.getJob(jobId))?.synthesisHoldMicroUsd ?? 0;
    await synthesizeJob(
      { jobId },
      {
        repository: table.repository,
        model: new ScriptedModel(['The report']),
        settings: roles.synthesis,
        remainingMs: () => 60_000,
      },
    );

    expect(result).toMatchObject({ withinBudget: true });
    expect(exact).toBeLessThan(reserved);
    const job = await table.repository.getJob(jobId);
    expect(job?.status).toBe('PARTIAL');
    expect(job?.synthesisHoldMicroUsd).toBe(0);
    // The ledger holds what was spent: the synthesis (100 in at $3/M, 50 out at $15/M); the worker's was recorded outside it here.
    expect(job?.budgetCommittedMicroUsd).toBe(1050);
  });
});
