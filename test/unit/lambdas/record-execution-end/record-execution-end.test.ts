import {
  type ExecutionStatusChangeEvent,
  recordExecutionEnd,
} from '../../../../lambdas/record-execution-end/record-execution-end';
import { runIdFor } from '../../../../lambdas/start-batch-run/start-batch-run';
import { BatchRepository } from '../../../../lambdas/shared/storage/batch-repository';
import { planWith } from '../../../helpers/plans';
import { startTestTable, type TestTable } from '../../../helpers/local-table';

const ORCHESTRATOR = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Orchestrator';
const BATCH = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Batch';
const usage = {
  inputTokens: 1,
  outputTokens: 1,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  model: 'm',
  costUsd: 0,
};

function statusChange(
  stateMachineArn: string,
  name: string,
  status: string,
  extra: Partial<ExecutionStatusChangeEvent['detail']> = {},
): ExecutionStatusChangeEvent {
  return {
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    detail: {
      executionArn: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`,
      stateMachineArn,
      name,
      status,
      startDate: Date.parse('2026-12-01T08:00:00Z'),
      stopDate: Date.parse('2026-12-01T10:00:00Z'),
      input: JSON.stringify({ jobId: name }),
      ...extra,
    },
  };
}

describe('recording the end of an execution that could not record it itself', () => {
  let table: TestTable;
  let batches: BatchRepository;
  let deps: Parameters<typeof recordExecutionEnd>[1];

  beforeEach(async () => {
    table = await startTestTable();
    batches = new BatchRepository(table.documents, table.tableName, 30);
    deps = { jobs: table.repository, batches, stateMachines: { orchestrator: ORCHESTRATOR, batch: BATCH } };
  });
  afterEach(() => table.close());

  async function runningJob(jobId: string): Promise<void> {
    await table.repository.createJob({
      jobId,
      status: 'QUEUED',
      task: 't',
      context: {},
      profile: 'research',
    });
    await table.repository.savePlan(
      jobId,
      planWith(['done', 'running', 'pending']),
      [['done', 'running', 'pending']],
      usage,
      1,
    );
    await table.repository.beginSubtaskAttempt(jobId, 'done');
    await table.repository.completeSubtask(jobId, 'done', { output: 'kept', usage, stopReason: 'end_turn' });
    await table.repository.beginSubtaskAttempt(jobId, 'running');
  }

  it('fails a timed-out job with ExecutionTimedOut, and its unfinished subtasks, keeping what succeeded', async () => {
    // Arrange
    await runningJob('job-timed-out');

    // Act
    const result = await recordExecutionEnd(statusChange(ORCHESTRATOR, 'job-timed-out', 'TIMED_OUT'), deps);

    // Assert
    expect(result).toMatchObject({ kind: 'job', jobFailed: true, subtasksFailed: ['running', 'pending'] });
    const stored = await table.repository.getJobWithSubtasks('job-timed-out');
    expect(stored?.job).toMatchObject({
      status: 'FAILED',
      error: { name: 'ExecutionTimedOut', message: expect.stringContaining('timed out after 120 minutes') },
    });
    expect(stored?.subtasks.map((subtask) => [subtask.id, subtask.status, subtask.error?.name])).toEqual([
      ['done', 'SUCCEEDED', undefined],
      ['running', 'FAILED', 'ExecutionTimedOut'],
      ['pending', 'FAILED', 'ExecutionTimedOut'],
    ]);
    expect(stored?.subtasks[0]?.output).toBe('kept');
  });

  it('fails a stopped job with ExecutionAborted, quoting the stop', async () => {
    await runningJob('job-stopped');

    await recordExecutionEnd(
      statusChange(ORCHESTRATOR, 'job-stopped', 'ABORTED', {
        error: 'Manual',
        cause: 'stopped in the console',
      }),
      deps,
    );

    const job = await table.repository.getJob('job-stopped');
    expect(job?.error).toEqual({
      name: 'ExecutionAborted',
      message:
        'The execution job-stopped was stopped before it could record its outcome (Manual: stopped in the console)',
    });
  });

  it('keeps the outcome of a job that ended already (a cancel, or MarkFailed), ending only its unfinished subtasks', async () => {
    await runningJob('job-cancelled');
    await table.repository.cancelJob('job-cancelled', { name: 'Cancelled', message: 'DELETE /jobs' });

    const result = await recordExecutionEnd(statusChange(ORCHESTRATOR, 'job-cancelled', 'ABORTED'), deps);

    expect(result).toMatchObject({ jobFailed: false, subtasksFailed: ['running', 'pending'] });
    const stored = await table.repository.getJobWithSubtasks('job-cancelled');
    expect(stored?.job.status).toBe('CANCELLED');
    expect(stored?.subtasks.every((subtask) => ['SUCCEEDED', 'FAILED'].includes(subtask.status))).toBe(true);
  });

  it('fails a job whose execution failed unrecorded with the execution error', async () => {
    await runningJob('job-failed');

    await recordExecutionEnd(
      statusChange(ORCHESTRATOR, 'job-failed', 'FAILED', { error: 'States.Runtime', cause: 'bad path' }),
      deps,
    );

    expect((await table.repository.getJob('job-failed'))?.error).toEqual({
      name: 'States.Runtime',
      message: 'bad path',
    });
  });

  it('is safe to deliver twice', async () => {
    await runningJob('job-twice');
    const event = statusChange(ORCHESTRATOR, 'job-twice', 'TIMED_OUT');

    await recordExecutionEnd(event, deps);
    const second = await recordExecutionEnd(event, deps);

    expect(second).toMatchObject({ jobFailed: false, subtasksFailed: [] });
  });

  it('ends a timed-out batch run FAILED, failing the items that never ran and their jobs', async () => {
    // Arrange: a scheduled run, whose id is derived from its execution.
    const name = 'exec-7';
    const input = { batchName: 'nightly-test', maxConcurrency: 2, trigger: 'schedule' };
    const event = statusChange(BATCH, name, 'TIMED_OUT', { input: JSON.stringify(input) });
    const runId = runIdFor({
      input,
      executionArn: event.detail.executionArn,
      executionStartTime: '2026-12-01T08:00:00.000Z',
    });
    await batches.createRun({
      runId,
      batchName: 'nightly-test',
      trigger: 'schedule',
      items: [{ index: 0, jobId: `${runId}-001`, task: 't' }],
    });
    await table.repository.createJob({
      jobId: `${runId}-001`,
      status: 'QUEUED',
      task: 't',
      context: {},
      profile: 'research',
    });

    // Act
    const result = await recordExecutionEnd(event, deps);

    // Assert
    expect(result).toMatchObject({ kind: 'batch', runId, runFailed: true });
    const stored = await batches.getRunWithItems(runId);
    expect(stored?.run).toMatchObject({ status: 'FAILED', error: { name: 'ExecutionTimedOut' } });
    expect(stored?.items[0]).toMatchObject({ status: 'FAILED', error: { name: 'ExecutionTimedOut' } });
    expect((await table.repository.getJob(`${runId}-001`))?.status).toBe('FAILED');
  });

  it('ignores other state machines and other statuses', async () => {
    await expect(
      recordExecutionEnd(
        statusChange('arn:aws:states:eu-west-1:123456789012:stateMachine:Other', 'x-1', 'ABORTED'),
        deps,
      ),
    ).resolves.toMatchObject({ kind: 'ignored' });
    await expect(
      recordExecutionEnd(statusChange(ORCHESTRATOR, 'x-1', 'SUCCEEDED'), deps),
    ).resolves.toMatchObject({
      kind: 'ignored',
    });
  });
});
