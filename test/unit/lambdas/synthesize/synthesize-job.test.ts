import { synthesizeJob } from '../../../../lambdas/synthesize/synthesize-job';
import { AllSubtasksFailed, EmptyModelOutput, ModelRefused } from '../../../../lambdas/shared/domain/errors';
import { toJobView } from '../../../../lambdas/shared/views/job-view';
import { priced } from '../../../../lambdas/shared/domain/pricing';
import { ScriptedModel } from '../../../helpers/fake-model';
import { startTestTable, type TestTable } from '../../../helpers/local-table';
import { planWith } from '../../../helpers/plans';

let table: TestTable;
let jobCounter = 0;
const usage = priced('claude-haiku-5-5', {
  inputTokens: 10,
  outputTokens: 20,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
});

beforeAll(async () => {
  table = await startTestTable();
});
afterAll(() => table.close());

/** A job whose subtasks ended as given: 'ok' stored an output, 'pending' nothing yet, anything else failed with that error name. */
async function jobWithOutcomes(outcomes: Record<string, 'ok' | string>): Promise<string> {
  const jobId = `synthesis-test-${++jobCounter}`;
  await table.repository.createJob({
    jobId,
    status: 'QUEUED',
    task: 'Research brief on tidal power',
    context: {},
    profile: 'research',
  });
  await table.repository.savePlan(
    jobId,
    planWith(Object.keys(outcomes)),
    [planWith(Object.keys(outcomes)).subtasks.map((s) => s.id)],
    usage,
    1,
  );
  for (const [id, outcome] of Object.entries(outcomes)) {
    if (outcome === 'ok')
      await table.repository.completeSubtask(jobId, id, {
        output: `Findings of ${id}`,
        usage,
        stopReason: 'end_turn',
      });
    else if (outcome !== 'pending')
      await table.repository.failSubtask(jobId, id, { name: outcome, message: `${id} kept failing` });
  }
  return jobId;
}

const deps = (model: ScriptedModel) => ({
  repository: table.repository,
  model,
  settings: { model: 'claude-sonnet-5-5', maxTokens: 2000 },
  remainingMs: () => 60_000,
});

describe('synthesis', () => {
  it('combines every result and marks the job SUCCEEDED', async () => {
    const jobId = await jobWithOutcomes({ costs: 'ok', sites: 'ok' });
    const model = new ScriptedModel(['# Tidal power brief']);

    const result = await synthesizeJob({ jobId }, deps(model));

    expect(result).toEqual({
      jobId,
      status: 'SUCCEEDED',
      succeeded: 2,
      failed: 0,
      costUsd: expect.any(Number),
    });
    // The whole job: the plan's usage, both workers' and the synthesis call's (all priced alike here).
    expect(result.costUsd).toBeCloseTo(
      3 * usage.costUsd +
        priced('claude-sonnet-5-5', {
          inputTokens: 100,
          outputTokens: 50,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
        }).costUsd,
      8,
    );
    const prompt = model.requests[0]?.messages[0]?.content ?? '';
    expect(prompt).toContain(
      '<result id="costs" title="Title of costs" status="SUCCEEDED">\nFindings of costs\n</result>',
    );
    const view = await table.repository.getJob(jobId);
    expect(view).toMatchObject({ status: 'SUCCEEDED', synthesis: '# Tidal power brief' });
    expect(view?.error).toBeUndefined();
  });

  it('marks the job PARTIAL and names the failed subtasks to the model and in the job error', async () => {
    const jobId = await jobWithOutcomes({ costs: 'ok', sites: 'ModelRateLimited', policy: 'ok' });
    const model = new ScriptedModel(['Brief without sites']);

    const result = await synthesizeJob({ jobId }, deps(model));

    expect(result.status).toBe('PARTIAL');
    expect(model.requests[0]?.messages[0]?.content).toContain(
      '<failed_subtask id="sites" title="Title of sites" error="ModelRateLimited: sites kept failing"/>',
    );
    const job = await table.repository.getJob(jobId);
    expect(job?.error).toEqual({
      name: 'SubtasksFailed',
      message: '1 of 3 subtasks failed: sites (ModelRateLimited)',
    });
  });

  it('fails with AllSubtasksFailed when nothing succeeded, without calling the model', async () => {
    const jobId = await jobWithOutcomes({ costs: 'ModelTimeout', sites: 'ModelRequestRejected' });
    const model = new ScriptedModel(['unused']);

    await expect(synthesizeJob({ jobId }, deps(model))).rejects.toThrow(AllSubtasksFailed);
    await expect(synthesizeJob({ jobId }, deps(model))).rejects.toThrow(
      /costs \(ModelTimeout\), sites \(ModelRequestRejected\)/,
    );
    expect(model.requests).toHaveLength(0);
  });

  it('does not synthesize twice when retried after finishing', async () => {
    const jobId = await jobWithOutcomes({ costs: 'ok' });
    await synthesizeJob({ jobId }, deps(new ScriptedModel(['first'])));
    const retry = new ScriptedModel(['second']);

    const result = await synthesizeJob({ jobId }, deps(retry));

    expect(result.status).toBe('SUCCEEDED');
    expect(result.costUsd).toBeUndefined(); // reported once, by the invocation that finished the job
    expect(retry.requests).toHaveLength(0);
    expect((await table.repository.getJob(jobId))?.synthesis).toBe('first');
  });

  it.each([
    ['a refusal', { text: 'I cannot combine these.', stopReason: 'refusal' }, ModelRefused],
    ['an empty answer', { text: '', stopReason: 'end_turn' }, EmptyModelOutput],
  ])('fails on %s without completing the job, recording the billed call', async (_, reply, expected) => {
    const jobId = await jobWithOutcomes({ costs: 'ok' });

    const synthesizing = synthesizeJob({ jobId }, deps(new ScriptedModel([reply])));

    await expect(synthesizing).rejects.toThrow(expected);
    const job = await table.repository.getJob(jobId);
    expect(job).toMatchObject({
      status: 'SYNTHESIZING',
      synthesisUsage: { inputTokens: 100, outputTokens: 50 },
    });
    expect(job?.synthesis).toBeUndefined();
  });

  it('keeps a deliverable cut off at max_tokens, with a warning', async () => {
    const jobId = await jobWithOutcomes({ costs: 'ok', sites: 'ok' });
    const model = new ScriptedModel([{ text: '# Brief, cut', stopReason: 'max_tokens' }]);

    await synthesizeJob({ jobId }, deps(model));

    const view = toJobView((await table.repository.getJobWithSubtasks(jobId))!);
    expect(view.synthesis).toBe('# Brief, cut');
    expect(view.warnings).toEqual(["The deliverable was cut off at the synthesis call's token limit."]);
  });

  it('flags results cut off at max_tokens to the synthesis model', async () => {
    const jobId = await jobWithOutcomes({ costs: 'ok', sites: 'pending' });
    await table.repository.completeSubtask(jobId, 'sites', {
      output: 'Half of',
      usage,
      stopReason: 'max_tokens',
    });
    const model = new ScriptedModel(['# Brief']);

    await synthesizeJob({ jobId }, deps(model));

    const prompt = model.requests[0]?.messages[0]?.content ?? '';
    expect(prompt).toContain('<result id="costs" title="Title of costs" status="SUCCEEDED">\n');
    expect(prompt).toContain(
      '<result id="sites" title="Title of sites" status="SUCCEEDED" truncated="true">',
    );
    expect(prompt).toMatch(/Results marked truncated="true" were cut off/);
  });

  it('stores a deliverable larger than a DynamoDB item in chunks', async () => {
    const jobId = await jobWithOutcomes({ costs: 'ok' });
    const huge = '## Sektion – 章節\n'.repeat(40_000);

    await synthesizeJob({ jobId }, deps(new ScriptedModel([huge])));

    expect(Buffer.byteLength(huge)).toBeGreaterThan(400_000);
    const stored = await table.repository.getJobWithSubtasks(jobId);
    expect(stored?.job).toMatchObject({ status: 'SUCCEEDED', synthesis: huge });
  });

  it('never overwrites a job that was cancelled meanwhile', async () => {
    const jobId = await jobWithOutcomes({ costs: 'ok' });
    await table.repository.setJobStatus(jobId, 'CANCELLED');

    const result = await synthesizeJob({ jobId }, deps(new ScriptedModel(['late'])));

    expect(result.status).toBe('CANCELLED');
    expect((await table.repository.getJob(jobId))?.synthesis).toBeUndefined();
  });
});
