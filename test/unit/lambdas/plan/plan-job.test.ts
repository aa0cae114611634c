import { planJob, type PlanSettings } from '../../../../lambdas/plan/plan-job';
import {
  InvalidPlan,
  JobNotFound,
  ModelRateLimited,
  ModelRefused,
} from '../../../../lambdas/shared/domain/errors';
import { BatchRepository } from '../../../../lambdas/shared/storage/batch-repository';
import { ScriptedModel } from '../../../helpers/fake-model';
import { startTestTable, type TestTable } from '../../../helpers/local-table';
import { planJsonSchema } from '../../../../lambdas/plan/plan-schema';
import { profileNamed } from '../../../../lambdas/shared/domain/profiles';
import { planWith } from '../../../helpers/plans';
import type { JobRecord } from '../../../../lambdas/shared/domain/schemas';
import { BudgetExceeded } from '../../../../lambdas/shared/domain/errors';

const settings: PlanSettings = {
  model: 'claude-sonnet-5-5',
  maxTokens: 1000,
  maxSubtasks: 4,
  repairAttempts: 2,
  roles: {
    worker: { model: 'claude-haiku-5-5', maxTokens: 1000 },
    synthesis: { model: 'claude-sonnet-5-5', maxTokens: 2000 },
  },
  defaults: { approval: 'none' },
};
let table: TestTable;
let jobCounter = 0;

beforeAll(async () => {
  table = await startTestTable();
});
afterAll(() => table.close());

async function queuedJob(
  extra: Partial<Pick<JobRecord, 'approval' | 'budget' | 'runBudget'>> = {},
): Promise<string> {
  const jobId = `plan-test-${++jobCounter}`;
  await table.repository.createJob({
    jobId,
    status: 'QUEUED',
    task: 'Compare heat pumps',
    context: { region: 'EU' },
    profile: 'research',
    ...extra,
  });
  return jobId;
}

const deps = (model: ScriptedModel) => ({
  repository: table.repository,
  model,
  settings,
  remainingMs: () => 60_000,
});

describe('planning a job', () => {
  it('stores a valid plan with one PENDING item per subtask and returns only the ids', async () => {
    // Arrange
    const jobId = await queuedJob();
    const model = new ScriptedModel([JSON.stringify(planWith(['costs', 'efficiency', 'installation']))]);

    // Act
    const result = await planJob({ jobId }, deps(model));

    // Assert
    expect(result).toEqual({
      jobId,
      subtaskIds: ['costs', 'efficiency', 'installation'],
      waves: [['costs', 'efficiency', 'installation']],
      planAttempts: 1,
      budgeted: false,
      awaitApproval: false,
    });
    const stored = await table.repository.getJobWithSubtasks(jobId);
    expect(stored?.job.status).toBe('RUNNING');
    expect(stored?.job.plan?.subtasks).toHaveLength(3);
    expect(stored?.subtasks.map((subtask) => [subtask.id, subtask.status, subtask.index])).toEqual([
      ['costs', 'PENDING', 0],
      ['efficiency', 'PENDING', 1],
      ['installation', 'PENDING', 2],
    ]);
    expect(stored?.job.planUsage).toMatchObject({
      inputTokens: 100,
      outputTokens: 50,
      model: 'claude-sonnet-5-5',
    });
  });

  it('sends the task, context and bounds to the orchestrator model with a JSON schema', async () => {
    const jobId = await queuedJob();
    const model = new ScriptedModel([JSON.stringify(planWith(['a', 'b', 'c']))]);

    await planJob({ jobId }, deps(model));

    const request = model.requests[0];
    expect(request?.messages[0]?.content).toContain('<task>\nCompare heat pumps\n</task>');
    expect(request?.messages[0]?.content).toContain('"region": "EU"');
    expect(request?.messages[0]?.content).toContain('<subtask_bounds min="3" max="4"/>');
    expect(request?.jsonSchema).toMatchObject({
      type: 'object',
      required: expect.arrayContaining(['analysis', 'subtasks']),
    });
    // The research profile's own schema: its types, dependencies and synthesis guidance, no priority.
    expect(request?.jsonSchema).toEqual(planJsonSchema(profileNamed('research'), { min: 3, max: 4 }));
    expect(JSON.stringify(request?.jsonSchema)).toContain('"enum":["research","analysis","comparison"]');
    expect(JSON.stringify(request?.jsonSchema)).not.toContain('"priority"');
  });

  it('asks for exactly the benchmark subtask count, outside the profile range but within maxSubtasks', async () => {
    const jobId = await queuedJob();
    const sevenIds = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const model = new ScriptedModel([
      JSON.stringify(planWith(['a', 'b', 'c'])),
      JSON.stringify(planWith(sevenIds)),
    ]);
    const benchSettings = { ...settings, maxSubtasks: 64, exactSubtaskCount: 7 };

    const result = await planJob({ jobId }, { ...deps(model), settings: benchSettings });

    expect(model.requests[0]?.messages[0]?.content).toContain('<subtask_bounds min="7" max="7"/>');
    expect(model.requests[1]?.messages.at(-1)?.content).toContain('it must have between 7 and 7');
    expect(result.subtaskIds).toEqual(sevenIds);
  });

  it('groups dependent subtasks into waves, higher priority first within a wave', async () => {
    const jobId = await queuedJob();
    const plan = planWith(['context', 'market', 'costs', 'verdict']);
    plan.subtasks[1]!.priority = 5;
    plan.subtasks[2]!.dependsOn = ['context'];
    plan.subtasks[3]!.dependsOn = ['costs', 'market'];

    const result = await planJob({ jobId }, deps(new ScriptedModel([JSON.stringify(plan)])));

    expect(result.waves).toEqual([['market', 'context'], ['costs'], ['verdict']]);
    const stored = await table.repository.getJobWithSubtasks(jobId);
    expect(stored?.subtasks.map((subtask) => [subtask.id, subtask.wave])).toEqual([
      ['context', 0],
      ['market', 0],
      ['costs', 1],
      ['verdict', 2],
    ]);
  });

  it('asks for a repair when a subtask type is not one of the profile types', async () => {
    const jobId = await queuedJob();
    const wrongType = planWith(['a', 'b', 'c']);
    wrongType.subtasks[1]!.type = 'poetry';
    const model = new ScriptedModel([JSON.stringify(wrongType), JSON.stringify(planWith(['a', 'b', 'c']))]);

    await planJob({ jobId }, deps(model));

    expect(model.requests[1]?.messages[2]?.content).toContain(
      'Subtask "b" has type "poetry"; the type must be one of: research, analysis, comparison.',
    );
  });

  it('repairs an invalid plan by sending the validation errors back', async () => {
    // Arrange: first a cycle, then a valid plan
    const jobId = await queuedJob();
    const cyclic = planWith(['a', 'b', 'c']);
    cyclic.subtasks[0]!.dependsOn = ['b'];
    cyclic.subtasks[1]!.dependsOn = ['a'];
    const model = new ScriptedModel([JSON.stringify(cyclic), JSON.stringify(planWith(['a', 'b', 'c']))]);

    // Act
    const result = await planJob({ jobId }, deps(model));

    // Assert
    expect(result.planAttempts).toBe(2);
    const repairTurn = model.requests[1]?.messages;
    expect(repairTurn?.map((message) => message.role)).toEqual(['user', 'assistant', 'user']);
    expect(repairTurn?.[1]?.content).toBe(JSON.stringify(cyclic));
    expect(repairTurn?.[2]?.content).toMatch(/<validation_errors>[\s\S]*cycle: a -> b -> a/);
    const stored = await table.repository.getJob(jobId);
    expect(stored?.planAttempts).toBe(2);
    expect(stored?.planUsage?.inputTokens).toBe(200);
  });

  it('gives up with InvalidPlan after the bounded repair attempts', async () => {
    const jobId = await queuedJob();
    const model = new ScriptedModel(['not json at all']);

    const attempt = planJob({ jobId }, deps(model));

    await expect(attempt).rejects.toThrow(InvalidPlan);
    await expect(attempt).rejects.toThrow(/still invalid after 3 attempts: The answer is not valid JSON/);
    expect(model.requests).toHaveLength(3);
    const job = await table.repository.getJob(jobId);
    expect(job?.plan).toBeUndefined();
    // The three calls were billed even though none produced a plan.
    expect(job).toMatchObject({ planAttempts: 3, planUsage: { inputTokens: 300, outputTokens: 150 } });
  });

  it('treats an answer cut off at max_tokens as invalid and says why', async () => {
    const jobId = await queuedJob();
    const model = new ScriptedModel(['{"analysis": "cut'], 'max_tokens');

    await expect(planJob({ jobId }, deps(model))).rejects.toThrow(/cut off at the token limit/);
  });

  it('stops at a refusal with ModelRefused instead of asking for repairs, recording the call', async () => {
    const jobId = await queuedJob();
    const model = new ScriptedModel([{ text: 'I will not plan this.', stopReason: 'refusal' }]);

    const planning = planJob({ jobId }, deps(model));

    await expect(planning).rejects.toThrow(ModelRefused);
    await expect(planning).rejects.toThrow(/declined to plan this task: "I will not plan this\."/);
    expect(model.requests).toHaveLength(1);
    expect(await table.repository.getJob(jobId)).toMatchObject({
      planAttempts: 1,
      planUsage: { inputTokens: 100, outputTokens: 50 },
    });
  });

  it('does not call the model again when retried after the plan was stored', async () => {
    const jobId = await queuedJob();
    await planJob({ jobId }, deps(new ScriptedModel([JSON.stringify(planWith(['a', 'b', 'c']))])));
    const second = new ScriptedModel([new Error('must not be called')]);

    const result = await planJob({ jobId }, deps(second));

    expect(result.subtaskIds).toEqual(['a', 'b', 'c']);
    expect(second.requests).toHaveLength(0);
  });

  it('lets model errors through unchanged so the state machine can retry them', async () => {
    const jobId = await queuedJob();
    const model = new ScriptedModel([new ModelRateLimited('Rate limited (429)')]);

    await expect(planJob({ jobId }, deps(model))).rejects.toThrow(ModelRateLimited);
    expect((await table.repository.getJob(jobId))?.status).toBe('PLANNING');
  });

  it('creates the job from the execution input when started without a job record', async () => {
    const model = new ScriptedModel([JSON.stringify(planWith(['a', 'b', 'c']))]);

    await planJob(
      { jobId: 'direct-start-1', request: { task: 'Direct task', context: {}, profile: 'research' } },
      deps(model),
    );

    expect((await table.repository.getJob('direct-start-1'))?.task).toBe('Direct task');
  });

  it('fails with JobNotFound for an unknown job without a request', async () => {
    await expect(planJob({ jobId: 'no-such-job' }, deps(new ScriptedModel(['{}'])))).rejects.toThrow(
      JobNotFound,
    );
  });

  describe('with an approval policy and a budget', () => {
    const threePlan = () =>
      new ScriptedModel([JSON.stringify(planWith(['costs', 'efficiency', 'installation']))]);

    it('stores an estimate that bounds every planned call: the plan as spent, each worker and the synthesis at max_tokens', async () => {
      const jobId = await queuedJob();

      await planJob({ jobId }, deps(threePlan()));

      const job = await table.repository.getJob(jobId);
      // 3 workers × 1000 and the synthesis's 2000 output tokens, plus the 50 the plan call answered with.
      expect(job?.estimate?.outputTokens).toBe(50 + 3 * 1000 + 2000);
      expect(job?.estimate?.inputTokens).toBeGreaterThan(100);
      // At least the output at the price table: haiku $5/M for workers, sonnet $15/M for synthesis.
      expect(job?.estimate?.costUsd).toBeGreaterThan(3 * 1000 * 5e-6 + 2000 * 15e-6);
    });

    it('waits for a person when approval is required, and says so in the status', async () => {
      const jobId = await queuedJob({ approval: 'required' });

      const result = await planJob({ jobId }, deps(threePlan()));

      expect(result.awaitApproval).toBe(true);
      expect((await table.repository.getJob(jobId))?.status).toBe('AWAITING_APPROVAL');
    });

    it('approves on its own under autoApproveUnderUsd and records why', async () => {
      const jobId = await queuedJob({ approval: { autoApproveUnderUsd: 5 } });

      const result = await planJob({ jobId }, deps(threePlan()));

      const job = await table.repository.getJob(jobId);
      expect(result.awaitApproval).toBe(false);
      expect(job?.status).toBe('RUNNING');
      expect(job?.approvalDecision).toMatchObject({ decision: 'approve', by: 'auto' });
      expect(job?.approvalDecision?.comment).toMatch(/under \$5\.00/);
    });

    it('asks a person when the estimate is at or over autoApproveUnderUsd', async () => {
      const jobId = await queuedJob({ approval: { autoApproveUnderUsd: 0.001 } });

      expect((await planJob({ jobId }, deps(threePlan()))).awaitApproval).toBe(true);
    });

    it('takes the deployment default when neither request nor profile sets a policy or budget', async () => {
      const jobId = await queuedJob();

      const result = await planJob(
        { jobId },
        {
          ...deps(threePlan()),
          settings: { ...settings, defaults: { approval: 'required', budget: { maxCostUsd: 2 } } },
        },
      );

      const job = await table.repository.getJob(jobId);
      expect(result).toMatchObject({ awaitApproval: true, budgeted: true });
      expect(job?.budget).toEqual({ maxCostUsd: 2 });
      expect(job?.approval).toBe('required');
    });

    it('in the batch lane, asks no approval and keeps no budget whatever the request or deployment says', async () => {
      const jobId = await queuedJob({ approval: 'required', budget: { maxCostUsd: 0.001 } });
      const model = threePlan();

      const result = await planJob(
        { jobId },
        {
          ...deps(model),
          settings: {
            ...settings,
            defaults: { approval: 'required', budget: { maxCostUsd: 2 } },
            withoutReviewOrBudget: true,
          },
        },
      );

      const job = await table.repository.getJob(jobId);
      expect(result).toMatchObject({ awaitApproval: false, budgeted: false });
      expect(model.requests).toHaveLength(1);
      expect(job?.status).toBe('RUNNING');
      expect(job?.budget).toBeUndefined();
    });

    it("holds a batch run's job's planning call in the run's ledger as well as the job's", async () => {
      const runs = new BatchRepository(table.documents, table.tableName, 30);
      await runs.createRun({ runId: 'plan-run-1', batchName: 'demo', trigger: 'api', items: [] });
      const jobId = await queuedJob({ runBudget: { runId: 'plan-run-1', maxCostUsd: 1 } });

      const result = await planJob({ jobId }, deps(threePlan()));

      expect(result.budgeted).toBe(true);
      expect((await runs.getRun('plan-run-1'))?.budgetCommittedMicroUsd).toBe(1050);
      expect((await table.repository.getJob(jobId))?.budgetCommittedMicroUsd).toBe(1050);
    });

    it("fails with BudgetExceeded naming the run when the run's budget cannot afford the planning call", async () => {
      const runs = new BatchRepository(table.documents, table.tableName, 30);
      await runs.createRun({ runId: 'plan-run-2', batchName: 'demo', trigger: 'api', items: [] });
      const jobId = await queuedJob({ runBudget: { runId: 'plan-run-2', maxCostUsd: 0.001 } });
      const model = threePlan();

      await expect(planJob({ jobId }, deps(model))).rejects.toThrow(
        /its batch run plan-run-2 over the run's budget/,
      );
      expect(model.requests).toHaveLength(0);
      expect((await runs.getRun('plan-run-2'))?.budgetCommittedMicroUsd ?? 0).toBe(0);
    });

    it('holds the planning call in the ledger only for its real cost once it answered', async () => {
      const jobId = await queuedJob({ budget: { maxCostUsd: 1 } });

      await planJob({ jobId }, deps(threePlan()));

      const job = await table.repository.getJob(jobId);
      // 100 input tokens at $3/M and 50 output at $15/M: 0.00105 USD.
      expect(job?.budgetCommittedMicroUsd).toBe(1050);
      expect(job?.budgetCommittedOutputTokens).toBe(50);
    });

    it('fails with BudgetExceeded without a model call when even the planning call cannot be afforded', async () => {
      const jobId = await queuedJob({ budget: { maxCostUsd: 0.001 } });
      const model = threePlan();

      await expect(planJob({ jobId }, deps(model))).rejects.toThrow(BudgetExceeded);
      expect(model.requests).toHaveLength(0);
      expect((await table.repository.getJob(jobId))?.budgetCommittedMicroUsd ?? 0).toBe(0);
    });

    it('stops repairing with BudgetExceeded when a repair call no longer fits, keeping what planning spent', async () => {
      // The first call may write its 1000 output tokens; after its 50, a second 1000 would cross 1040.
      const jobId = await queuedJob({ budget: { maxCostUsd: 1, maxOutputTokens: 1040 } });
      const model = new ScriptedModel(['not json']);

      await expect(planJob({ jobId }, deps(model))).rejects.toThrow(/planning repair attempt 1/);
      expect(model.requests).toHaveLength(1);
      const job = await table.repository.getJob(jobId);
      expect(job?.planUsage).toMatchObject({ inputTokens: 100, outputTokens: 50 });
      expect(job?.budgetCommittedOutputTokens).toBe(50);
    });

    it('gives back a call held for a rate-limited request, which the provider does not bill', async () => {
      const jobId = await queuedJob({ budget: { maxCostUsd: 1 } });

      await expect(
        planJob({ jobId }, deps(new ScriptedModel([new ModelRateLimited('429')]))),
      ).rejects.toThrow(ModelRateLimited);
      expect((await table.repository.getJob(jobId))?.budgetCommittedMicroUsd).toBe(0);
    });
  });
});
