import { PLAN_MAX_BYTES, validatePlan } from '../../../../../lambdas/plan/plan-validation';
import { ERROR_MESSAGE_MAX_CHARS } from '../../../../../lambdas/shared/storage/job-repository';
import { priced } from '../../../../../lambdas/shared/domain/pricing';
import { TEMPLATE_MAX_CHARS } from '../../../../../lambdas/shared/domain/profiles';
import { REQUEST_LIMITS } from '../../../../../lambdas/shared/domain/schemas';
import { DYNAMODB_ITEM_LIMIT_BYTES, largestItem } from '../../../../helpers/item-size';
import { startTestTable, type TestTable } from '../../../../helpers/local-table';
import { planWith } from '../../../../helpers/plans';

let table: TestTable;
beforeAll(async () => {
  table = await startTestTable();
});
afterAll(() => table.close());

const usage = priced('claude-sonnet-5-5', {
  inputTokens: 1,
  outputTokens: 1,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
});

/** The largest plan validation lets through: as many three-byte characters as the budget allows. */
function largestValidPlan() {
  const ids = Array.from({ length: 100 }, (_, index) => `subtask-${index}`);
  const plan = planWith(ids, { analysis: '分'.repeat(3_999), synthesisGuidance: '分'.repeat(3_999) });
  for (const subtask of plan.subtasks) subtask.description = '';
  let description = 0;
  while (Buffer.byteLength(JSON.stringify(plan)) < PLAN_MAX_BYTES - 200) {
    const subtask = plan.subtasks[description++ % plan.subtasks.length]!;
    subtask.description += '分'.repeat(20);
  }
  return plan;
}

describe('DynamoDB item size limits', () => {
  it('stores the largest job item the limits allow, with a plan, a large deliverable and a long error', async () => {
    // Arrange: every bounded field at its maximum, in multi-byte characters (3 bytes each).
    const jobId = 'largest-job';
    const plan = largestValidPlan();
    const validation = validatePlan(JSON.stringify(plan), { min: 1, max: 100 });
    expect(validation.ok).toBe(true);
    const context = { notes: '文'.repeat(Math.floor(REQUEST_LIMITS.contextMaxBytes / 3) - 20) };
    expect(Buffer.byteLength(JSON.stringify(context))).toBeLessThanOrEqual(REQUEST_LIMITS.contextMaxBytes);

    // Act
    await table.repository.createJob({
      jobId,
      status: 'QUEUED',
      task: '題'.repeat(REQUEST_LIMITS.taskMaxChars),
      context,
      profile: 'custom',
      templates: {
        orchestrator: '指'.repeat(TEMPLATE_MAX_CHARS),
        worker: '指'.repeat(TEMPLATE_MAX_CHARS),
        synthesis: '指'.repeat(TEMPLATE_MAX_CHARS),
      },
    });
    await table.repository.savePlan(jobId, plan, [plan.subtasks.map((s) => s.id)], usage, 1);
    await table.repository.completeJob(jobId, {
      status: 'PARTIAL',
      synthesis: '結'.repeat(500_000),
      usage,
      stopReason: 'end_turn',
      error: { name: 'SubtasksFailed', message: 'failed: '.repeat(100_000) },
    });

    // Assert
    const stored = await table.repository.getJobWithSubtasks(jobId);
    expect(stored?.job.status).toBe('PARTIAL');
    expect(stored?.job.synthesis).toBe('結'.repeat(500_000));
    expect(stored?.job.plan?.subtasks).toHaveLength(100);
    expect(stored?.job.error?.message.length).toBeLessThan(ERROR_MESSAGE_MAX_CHARS + 100);
    expect(stored?.job.error?.message).toMatch(/… \(cut at 4000 characters\)$/);
    const largest = await largestItem(table);
    expect(largest.bytes).toBeGreaterThan(200_000); // the test does push the limits
    expect(largest.bytes).toBeLessThan(DYNAMODB_ITEM_LIMIT_BYTES);
  });

  it('keeps a subtask failure with an enormous cause storable', async () => {
    const jobId = 'long-error-job';
    await table.repository.createJob({
      jobId,
      status: 'QUEUED',
      task: 't',
      context: {},
      profile: 'research',
    });
    await table.repository.savePlan(jobId, planWith(['a']), [['a']], usage, 1);

    const recorded = await table.repository.failSubtask(jobId, 'a', {
      name: 'ModelRequestRejected',
      message: 'x'.repeat(500_000),
    });

    expect(recorded).toBe(true);
    expect((await table.repository.getSubtask(jobId, 'a'))?.error?.message.length).toBeLessThan(4_100);
  });
});
