import { toJobView } from '../../../../../lambdas/shared/views/job-view';
import { priced } from '../../../../../lambdas/shared/domain/pricing';
import type { JobRecord, SubtaskRecord } from '../../../../../lambdas/shared/domain/schemas';
import { planWith } from '../../../../helpers/plans';

const plan = planWith(['a', 'b']);
const tokens = (inputTokens: number, outputTokens: number, cacheReadTokens = 0, cacheWriteTokens = 0) => ({
  inputTokens,
  outputTokens,
  cacheReadTokens,
  cacheWriteTokens,
});

const job: JobRecord = {
  jobId: 'job-view-test',
  status: 'SUCCEEDED',
  task: 'Describe a kayak',
  context: {},
  profile: 'research',
  plan,
  planUsage: priced('claude-sonnet-5-5', tokens(1_000, 500)),
  synthesis: 'Done',
  synthesisUsage: priced('claude-sonnet-5-5', tokens(2_000, 1_000)),
  createdAt: '2026-11-28T08:00:00.000Z',
  updatedAt: '2026-11-28T08:00:05.000Z',
};

function subtask(id: string, overrides: Partial<SubtaskRecord>): SubtaskRecord {
  const planned = plan.subtasks.find((candidate) => candidate.id === id)!;
  return { ...planned, jobId: job.jobId, index: 0, wave: 0, status: 'SUCCEEDED', attempts: 1, ...overrides };
}

describe('the job view', () => {
  const view = toJobView({
    job,
    subtasks: [
      subtask('a', { usage: priced('claude-haiku-5-5', tokens(100, 200, 0, 3_000)) }),
      subtask('b', { usage: priced('claude-haiku-5-5', tokens(120, 180, 3_000, 0)) }),
    ],
  });

  it("shows each subtask's tokens, cache tokens, model and estimated cost", () => {
    expect(view.subtasks[0]?.usage).toEqual({
      model: 'claude-haiku-5-5',
      inputTokens: 100,
      outputTokens: 200,
      cacheReadTokens: 0,
      cacheWriteTokens: 3_000,
      // $1/M input, $5/M output, cache writes at 1.25× input
      costUsd: 0.00485,
    });
    expect(view.subtasks[1]?.usage).toMatchObject({ cacheReadTokens: 3_000, costUsd: 0.00132 });
  });

  it('breaks the usage down by role, the roles adding up to the total', () => {
    const { plan: planning, workers, synthesis } = view.usage.byRole;

    expect(planning).toMatchObject({ inputTokens: 1_000, outputTokens: 500, costUsd: 0.0105 });
    expect(workers).toMatchObject({ inputTokens: 220, cacheReadTokens: 3_000, cacheWriteTokens: 3_000 });
    expect(synthesis).toMatchObject({ inputTokens: 2_000, outputTokens: 1_000 });
    expect(view.usage.inputTokens).toBe(planning.inputTokens + workers.inputTokens + synthesis.inputTokens);
    expect(view.usage.costUsd).toBeCloseTo(planning.costUsd + workers.costUsd + synthesis.costUsd, 6);
  });

  it('shows zeros and no model for a subtask that has not answered yet', () => {
    const pending = toJobView({ job, subtasks: [subtask('a', { status: 'PENDING', attempts: 0 })] });

    expect(pending.subtasks[0]?.usage).toEqual({
      model: null,
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      costUsd: 0,
    });
  });

  it('has no estimate, budget or approval until there are some', () => {
    expect(view).toMatchObject({ estimate: null, budget: null, approval: null });
  });

  it('shows the estimate, the ceilings and the decision, but never the task token', () => {
    const waiting = toJobView({
      job: {
        ...job,
        status: 'RUNNING',
        budget: { maxCostUsd: 0.5 },
        estimate: { costUsd: 0.31, inputTokens: 9_000, outputTokens: 18_000 },
        approvalDecision: {
          decision: 'approve',
          comment: null,
          at: '2026-11-28T08:00:03.000Z',
          by: 'person',
        },
        approvalToken: 'local-task-token:orchestrator:00000000-0000-0000-0000-000000000000',
        budgetCommittedMicroUsd: 123,
      },
      subtasks: [],
    });

    expect(waiting).toMatchObject({
      estimate: { costUsd: 0.31, inputTokens: 9_000, outputTokens: 18_000 },
      budget: { maxCostUsd: 0.5, maxOutputTokens: null },
      approval: { decision: 'approve', comment: null, by: 'person', subtasks: null },
    });
    expect(JSON.stringify(waiting)).not.toContain('local-task-token');
    expect(JSON.stringify(waiting)).not.toContain('budgetCommitted');
  });
});
