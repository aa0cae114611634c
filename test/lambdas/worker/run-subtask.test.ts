import { runSubtask } from '../../../lambdas/worker/run-subtask';
import { ModelOverloaded } from '../../../lambdas/shared/errors';
import { priced } from '../../../lambdas/shared/pricing';
import { ScriptedModel } from '../../helpers/fake-model';
import { startTestTable, type TestTable } from '../../helpers/local-table';
import { planWith } from '../../helpers/plans';

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
    profile: 'default',
  });
  await table.repository.savePlan(
    jobId,
    planWith(['technical', 'lifestyle']),
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

    const prompt = model.requests[0]?.messages[0]?.content ?? '';
    expect(prompt).toContain('Launch copy for a bike lock');
    expect(prompt).toContain('"audience": "commuters"');
    expect(prompt).toContain('- technical: Title of technical\n- lifestyle: Title of lifestyle (yours)');
    expect(prompt).toMatch(
      /<assigned_subtask id="lifestyle" type="research" title="Title of lifestyle">\nDo the lifestyle part/,
    );
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

  it('fails clearly when the model returns no text', async () => {
    const jobId = await plannedJob();
    await expect(
      runSubtask({ jobId, subtaskId: 'technical' }, deps(new ScriptedModel(['  ']))),
    ).rejects.toThrow(/returned no text/);
  });
});
