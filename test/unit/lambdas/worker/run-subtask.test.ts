import { runSubtask } from '../../../../lambdas/worker/run-subtask';
import {
  BudgetExceeded,
  DependencyFailed,
  EmptyModelOutput,
  ModelCapacityExceeded,
  ModelOverloaded,
  ModelRefused,
} from '../../../../lambdas/shared/domain/errors';
import { toJobView } from '../../../../lambdas/shared/views/job-view';
import { messageText } from '../../../../lambdas/shared/model/gateway';
import { priced } from '../../../../lambdas/shared/domain/pricing';
import { ScriptedModel } from '../../../helpers/fake-model';
import { startTestTable, type TestTable } from '../../../helpers/local-table';
import { planWith } from '../../../helpers/plans';
import { BatchRepository } from '../../../../lambdas/shared/storage/batch-repository';
import type { RunCeiling } from '../../../../lambdas/shared/domain/budget';

let table: TestTable;
let jobCounter = 0;
beforeAll(async () => {
  table = await startTestTable();
});
afterAll(() => table.close());

async function plannedJob(): Promise<string> {
  const jobId = `worker-test-${++jobCounter}`;
  await table.repository.createJob({
    jobId,
    status: 'QUEUED',
    task: 'Launch copy for a bike lock',
    context: { audience: 'commuters' },
    profile: 'research',
  });
  const plan = planWith(['technical', 'lifestyle', 'summary']);
  plan.subtasks[2]!.dependsOn = ['technical', 'lifestyle'];
  await table.repository.savePlan(
    jobId,
    plan,
    [['technical', 'lifestyle'], ['summary']],
    priced('m', { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 }),
    1,
  );
  return jobId;
}

const deps = (model: ScriptedModel) => ({
  repository: table.repository,
  model,
  settings: { model: 'claude-haiku-5-5', maxTokens: 500 },
  remainingMs: () => 60_000,
});

describe('running a subtask', () => {
  it('prompts the worker with the whole task, the plan overview and its own subtask', async () => {
    const jobId = await plannedJob();
    const model = new ScriptedModel(['Lifestyle copy']);

    await runSubtask({ jobId, subtaskId: 'lifestyle' }, deps(model));

    const prompt = messageText(model.requests[0]?.messages[0]);
    expect(prompt).toContain('Launch copy for a bike lock');
    expect(prompt).toContain('"audience": "commuters"');
    expect(prompt).toContain(
      '- technical: Title of technical\n- lifestyle: Title of lifestyle\n- summary: Title of summary',
    );
    expect(prompt).not.toContain('<dependency_results>');
    expect(prompt).toMatch(
      /<assigned_subtask id="lifestyle" type="research" title="Title of lifestyle">\nDo the lifestyle part/,
    );
  });

  it('does not count an invocation the governor deferred as an attempt', async () => {
    const jobId = await plannedJob();
    const model = new ScriptedModel([new ModelCapacityExceeded('no capacity', 500), 'Technical copy']);

    await expect(runSubtask({ jobId, subtaskId: 'technical' }, deps(model))).rejects.toThrow('no capacity');
    expect(await table.repository.getSubtask(jobId, 'technical')).toMatchObject({
      status: 'PENDING',
      attempts: 0,
    });
    const result = await runSubtask({ jobId, subtaskId: 'technical' }, deps(model));

    expect(result).toEqual({ subtaskId: 'technical', status: 'SUCCEEDED', attempts: 1 });
  });

  it('writes no attempt at all when the governor says beforehand that there is no capacity', async () => {
    const jobId = await plannedJob();
    const model = new ScriptedModel(['Technical copy']);
    const prechecked = Object.assign(model, {
      precheck: () => Promise.reject(new ModelCapacityExceeded('no capacity yet', 500)),
    });
    const writes: string[] = [];
    const watched = {
      ...table.repository,
      getJob: table.repository.getJob.bind(table.repository),
      getSubtask: table.repository.getSubtask.bind(table.repository),
      beginSubtaskAttempt: (...args: Parameters<typeof table.repository.beginSubtaskAttempt>) => {
        writes.push('begin');
        return table.repository.beginSubtaskAttempt(...args);
      },
    } as typeof table.repository;

    await expect(
      runSubtask({ jobId, subtaskId: 'technical' }, { ...deps(prechecked), repository: watched }),
    ).rejects.toThrow('no capacity yet');

    expect(writes).toEqual([]);
    expect(model.requests).toHaveLength(0);
  });

  it('stores the output, usage and attempt count', async () => {
    const jobId = await plannedJob();

    const result = await runSubtask(
      { jobId, subtaskId: 'technical' },
      deps(new ScriptedModel(['Specs and materials'])),
    );

    expect(result).toEqual({ subtaskId: 'technical', status: 'SUCCEEDED', attempts: 1 });
    const stored = await table.repository.getSubtask(jobId, 'technical');
    expect(stored).toMatchObject({
      status: 'SUCCEEDED',
      output: 'Specs and materials',
      attempts: 1,
      usage: { inputTokens: 100, outputTokens: 50 },
    });
  });

  it('counts every attempt, failed ones included', async () => {
    const jobId = await plannedJob();
    const flaky = new ScriptedModel([new ModelOverloaded('529'), new ModelOverloaded('529'), 'Finally']);

    await expect(runSubtask({ jobId, subtaskId: 'technical' }, deps(flaky))).rejects.toThrow(ModelOverloaded);
    await expect(runSubtask({ jobId, subtaskId: 'technical' }, deps(flaky))).rejects.toThrow(ModelOverloaded);
    const result = await runSubtask({ jobId, subtaskId: 'technical' }, deps(flaky));

    expect(result.attempts).toBe(3);
    expect((await table.repository.getSubtask(jobId, 'technical'))?.status).toBe('SUCCEEDED');
  });

  it('neither calls the model nor double-counts when retried after a success', async () => {
    const jobId = await plannedJob();
    await runSubtask({ jobId, subtaskId: 'technical' }, deps(new ScriptedModel(['First output'])));
    const retry = new ScriptedModel(['Second output']);

    const result = await runSubtask({ jobId, subtaskId: 'technical' }, deps(retry));

    expect(retry.requests).toHaveLength(0);
    expect(result.attempts).toBe(1);
    const stored = await table.repository.getSubtask(jobId, 'technical');
    expect(stored).toMatchObject({ output: 'First output', attempts: 1, usage: { inputTokens: 100 } });
  });

  it('keeps the first output when two invocations race to complete the same subtask', async () => {
    const jobId = await plannedJob();
    const usage = priced('m', { inputTokens: 7, outputTokens: 7, cacheReadTokens: 0, cacheWriteTokens: 0 });

    const first = await table.repository.completeSubtask(jobId, 'lifestyle', {
      output: 'one',
      usage,
      stopReason: 'end_turn',
    });
    const second = await table.repository.completeSubtask(jobId, 'lifestyle', {
      output: 'two',
      usage,
      stopReason: 'end_turn',
    });

    expect([first, second]).toEqual([true, false]);
    expect((await table.repository.getSubtask(jobId, 'lifestyle'))?.output).toBe('one');
  });

  it('gives a dependent subtask the outputs of the subtasks it depends on', async () => {
    const jobId = await plannedJob();
    await runSubtask(
      { jobId, subtaskId: 'technical' },
      deps(new ScriptedModel(['Specs: 12 mm hardened steel'])),
    );
    await runSubtask({ jobId, subtaskId: 'lifestyle' }, deps(new ScriptedModel(['Locks up in two seconds'])));
    const model = new ScriptedModel(['Summary']);

    await runSubtask({ jobId, subtaskId: 'summary' }, deps(model));

    const prompt = messageText(model.requests[0]?.messages[0]);
    expect(prompt).toContain(
      '<result id="technical" title="Title of technical">\nSpecs: 12 mm hardened steel\n</result>',
    );
    expect(prompt).toContain(
      '<result id="lifestyle" title="Title of lifestyle">\nLocks up in two seconds\n</result>',
    );
    expect(prompt.indexOf('<dependency_results>')).toBeLessThan(prompt.indexOf('<assigned_subtask'));
  });

  it('fails a subtask at once, without a model call or an attempt, when a dependency failed', async () => {
    const jobId = await plannedJob();
    await runSubtask({ jobId, subtaskId: 'technical' }, deps(new ScriptedModel(['Specs'])));
    await table.repository.failSubtask(jobId, 'lifestyle', {
      name: 'ModelRateLimited',
      message: 'Rate limited (429)',
    });
    const model = new ScriptedModel(['never']);

    const attempt = runSubtask({ jobId, subtaskId: 'summary' }, deps(model));

    await expect(attempt).rejects.toThrow(DependencyFailed);
    await expect(attempt).rejects.toThrow(
      'depends on "lifestyle", which did not succeed (ModelRateLimited: Rate limited (429))',
    );
    expect(model.requests).toHaveLength(0);
    expect((await table.repository.getSubtask(jobId, 'summary'))?.attempts).toBe(0);
  });

  it('uses the worker prompt of the subtask type from the job profile', async () => {
    const jobId = await plannedJob();
    const model = new ScriptedModel(['ok']);

    await runSubtask({ jobId, subtaskId: 'technical' }, deps(model));

    expect(model.requests[0]?.system).toMatch(/^You are a researcher\./);
  });

  it('fails with EmptyModelOutput when the model returns no text, recording the billed call', async () => {
    const jobId = await plannedJob();

    const running = runSubtask({ jobId, subtaskId: 'technical' }, deps(new ScriptedModel(['  '])));

    await expect(running).rejects.toThrow(EmptyModelOutput);
    await expect(running).rejects.toThrow(/returned no text \(stop reason: end_turn\)/);
    const stored = await table.repository.getSubtask(jobId, 'technical');
    expect(stored).toMatchObject({ status: 'FAILED', error: { name: 'EmptyModelOutput' } });
    expect(stored?.usage).toMatchObject({ inputTokens: 100, outputTokens: 50 });
    expect(stored?.output).toBeUndefined();
  });

  it('fails with ModelRefused on a refusal, quoting it and recording the billed call', async () => {
    const jobId = await plannedJob();
    const model = new ScriptedModel([{ text: 'I can not help with that.', stopReason: 'refusal' }]);

    const running = runSubtask({ jobId, subtaskId: 'technical' }, deps(model));

    await expect(running).rejects.toThrow(ModelRefused);
    await expect(running).rejects.toThrow(/declined this subtask: "I can not help with that\."/);
    const stored = await table.repository.getSubtask(jobId, 'technical');
    expect(stored).toMatchObject({ status: 'FAILED', error: { name: 'ModelRefused' } });
    expect(stored?.usage?.outputTokens).toBe(50);
    expect(stored?.output).toBeUndefined();
  });

  it('keeps an output cut off at max_tokens and marks it truncated', async () => {
    const jobId = await plannedJob();
    const model = new ScriptedModel([{ text: 'The first half of an ans', stopReason: 'max_tokens' }]);

    await runSubtask({ jobId, subtaskId: 'technical' }, deps(model));

    const stored = await table.repository.getJobWithSubtasks(jobId);
    const view = toJobView(stored!);
    expect(view.subtasks.find((subtask) => subtask.id === 'technical')).toMatchObject({
      status: 'SUCCEEDED',
      output: 'The first half of an ans',
      truncated: true,
    });
    expect(view.subtasks.find((subtask) => subtask.id === 'lifestyle')?.truncated).toBe(false);
    expect(view.warnings).toEqual([
      'The output of subtask "technical" was cut off at the worker\'s token limit.',
    ]);
  });

  it('stores an output larger than a DynamoDB item in chunks and reads it back whole', async () => {
    const jobId = await plannedJob();
    // ~1.2 MB of multi-byte text: three times DynamoDB's 400 KB item limit (dynalite enforces it).
    const huge = 'Große Ausgabe – 大きな出力 🚲\n'.repeat(30_000);
    const model = new ScriptedModel([huge, 'Uses it']);

    await runSubtask({ jobId, subtaskId: 'technical' }, deps(model));
    await runSubtask({ jobId, subtaskId: 'lifestyle' }, deps(new ScriptedModel(['short'])));
    await runSubtask({ jobId, subtaskId: 'summary' }, deps(model));

    expect(Buffer.byteLength(huge)).toBeGreaterThan(1_000_000);
    expect((await table.repository.getSubtask(jobId, 'technical'))?.output).toBe(huge);
    const stored = await table.repository.getJobWithSubtasks(jobId);
    expect(stored?.subtasks.find((subtask) => subtask.id === 'technical')?.output).toBe(huge);
    // The dependent worker got the whole output as its input.
    expect(messageText(model.requests[1]?.messages[0])).toContain(huge);
  });
});

/** A planned job whose subtasks `ids` form one wave, with the given ceilings. */
async function plannedWaveJob(
  ceilings: { budget?: { maxCostUsd?: number; maxOutputTokens?: number }; runBudget?: RunCeiling },
  ids: string[],
): Promise<string> {
  const jobId = `worker-budget-${++jobCounter}`;
  await table.repository.createJob({
    jobId,
    status: 'QUEUED',
    task: 'Launch copy for a bike lock',
    context: {},
    profile: 'research',
    ...ceilings,
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

describe('running a subtask under a budget', () => {
  const budgetedJob = (budget: { maxCostUsd?: number; maxOutputTokens?: number }, ids: string[]) =>
    plannedWaveJob({ budget }, ids);

  it('fails with BudgetExceeded before any model call when its worst case does not fit, counting no attempt', async () => {
    const jobId = await budgetedJob({ maxOutputTokens: 499 }, ['technical', 'lifestyle']);
    const model = new ScriptedModel(['never']);

    await expect(runSubtask({ jobId, subtaskId: 'technical' }, deps(model))).rejects.toThrow(BudgetExceeded);

    expect(model.requests).toHaveLength(0);
    const subtask = await table.repository.getSubtask(jobId, 'technical');
    expect(subtask).toMatchObject({ status: 'PENDING', attempts: 0 });
  });

  it('never lets workers started at once commit more than the budget: the ones that do not fit make no call', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    // Each worker may write 500 output tokens: two fit under 1200, a third does not.
    const jobId = await budgetedJob({ maxOutputTokens: 1200, maxCostUsd: 1 }, ids);
    const model = new ScriptedModel(['Copy']);

    const results = await Promise.allSettled(
      ids.map((subtaskId) => runSubtask({ jobId, subtaskId }, deps(model))),
    );

    const over = results.filter((result) => result.status === 'rejected');
    expect(over.every((result) => (result as PromiseRejectedResult).reason instanceof BudgetExceeded)).toBe(
      true,
    );
    // The scripted model answers 50 output tokens, so what is given back lets more in, never past the ceiling.
    expect(model.requests.length).toBeGreaterThanOrEqual(2);
    const job = await table.repository.getJob(jobId);
    expect(job?.budgetCommittedOutputTokens).toBe(50 * model.requests.length);
    expect(job?.budgetCommittedOutputTokens ?? 0).toBeLessThanOrEqual(1200);
  });

  it('gives back the worst case held for a call the provider did not bill', async () => {
    const jobId = await budgetedJob({ maxCostUsd: 1 }, ['technical']);

    await expect(
      runSubtask({ jobId, subtaskId: 'technical' }, deps(new ScriptedModel([new ModelOverloaded('529')]))),
    ).rejects.toThrow(ModelOverloaded);

    expect((await table.repository.getJob(jobId))?.budgetCommittedMicroUsd).toBe(0);
  });
});

describe('running subtasks of a batch run with a budget', () => {
  const runs = () => new BatchRepository(table.documents, table.tableName, 30);

  const runJob = (runBudget: RunCeiling, ids: string[], budget?: { maxOutputTokens: number }) =>
    plannedWaveJob({ runBudget, ...(budget ? { budget } : {}) }, ids);

  async function budgetedRun(budget: { maxOutputTokens: number }) {
    const runId = `worker-run-${++jobCounter}`;
    await runs().createRun({ runId, batchName: 'demo', trigger: 'api', items: [] });
    await runs().recordModelCalls(runId, 'on-demand', undefined, budget);
    return { runId, runBudget: { runId, ...budget } };
  }

  it('never lets the workers of all the run’s jobs commit more than the run’s budget', async () => {
    // Each worker may write 500 output tokens: two fit under the run's 1200, whichever job they belong to.
    const { runId, runBudget } = await budgetedRun({ maxOutputTokens: 1200 });
    const first = await runJob(runBudget, ['a', 'b', 'c']);
    const second = await runJob(runBudget, ['a', 'b', 'c']);
    const model = new ScriptedModel(['Copy']);

    const results = await Promise.allSettled(
      [first, second].flatMap((jobId) =>
        ['a', 'b', 'c'].map((subtaskId) => runSubtask({ jobId, subtaskId }, deps(model))),
      ),
    );

    const refused = results.filter((result) => result.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    for (const result of refused) {
      const reason = (result as PromiseRejectedResult).reason as Error;
      expect(reason).toBeInstanceOf(BudgetExceeded);
      expect(reason.message).toContain(`its batch run ${runId} over the run's budget (maxOutputTokens 1200)`);
    }
    const run = await runs().getRun(runId);
    const jobs = await Promise.all([first, second].map((jobId) => table.repository.getJob(jobId)));
    // Answers of 50 tokens give back most of each hold, so more calls fit, never past the ceiling.
    expect(run?.budgetCommittedOutputTokens).toBe(50 * model.requests.length);
    expect(run?.budgetCommittedOutputTokens ?? 0).toBeLessThanOrEqual(1200);
    expect(jobs.reduce((sum, job) => sum + (job?.budgetCommittedOutputTokens ?? 0), 0)).toBe(
      run?.budgetCommittedOutputTokens,
    );
  });

  it('gives the run back what it held when the job’s own budget refuses the call', async () => {
    const { runId, runBudget } = await budgetedRun({ maxOutputTokens: 10_000 });
    const jobId = await runJob(runBudget, ['a'], { maxOutputTokens: 499 });
    const model = new ScriptedModel(['never']);

    await expect(runSubtask({ jobId, subtaskId: 'a' }, deps(model))).rejects.toThrow(
      /would take the job over its budget \(maxOutputTokens 499\)/,
    );

    expect(model.requests).toHaveLength(0);
    expect((await runs().getRun(runId))?.budgetCommittedOutputTokens ?? 0).toBe(0);
  });
});
