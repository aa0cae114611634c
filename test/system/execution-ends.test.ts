import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LocalOrchestrator } from '../../local/runtime/stack';
import { startLocalServer } from '../../local/server/server';
import { planWith } from '../helpers/plans';

const UNFINISHED = ['PENDING', 'RUNNING'];
const usage = {
  inputTokens: 1,
  outputTokens: 1,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  model: 'm',
  costUsd: 0,
};

describe('an execution that ends without its own failure handling, locally', () => {
  let orchestrator: LocalOrchestrator;
  beforeAll(async () => {
    orchestrator = await LocalOrchestrator.start({ model: { kind: 'simulated' } });
  });
  afterAll(() => orchestrator.close());

  it('stopped mid-run: the rule records the job FAILED (ExecutionAborted) and leaves no subtask unfinished', async () => {
    // Arrange: slow workers, so the stop comes while subtasks run.
    orchestrator.simulatedModel?.setLatency({ worker: 5_000 });
    const execution = await orchestrator.startJob({ task: 'Research the history of tidal power' });
    for (;;) {
      const view = await orchestrator.getJobView(execution.jobId);
      if (view?.subtasks.some((subtask) => subtask.status === 'RUNNING')) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // Act: a stop from outside (the console, the CLI), not the API's cancel.
    orchestrator.stepFunctions.stopExecution(execution.executionArn, 'Manual', 'stopped by the test');
    await execution.finished;
    await orchestrator.eventRules.settled();
    orchestrator.simulatedModel?.setLatency(0);

    // Assert
    const view = await orchestrator.getJobView(execution.jobId);
    expect(view).toMatchObject({
      status: 'FAILED',
      error: { name: 'ExecutionAborted', message: expect.stringContaining('Manual: stopped by the test') },
    });
    expect(view?.subtasks.length).toBeGreaterThan(0);
    expect(view?.subtasks.filter((subtask) => UNFINISHED.includes(subtask.status))).toEqual([]);
    expect(view?.subtasks.some((subtask) => subtask.error?.name === 'ExecutionAborted')).toBe(true);
    expect(orchestrator.eventRules.failures).toEqual([]);
  });

  it('timed out mid-run: the rule records the job FAILED (ExecutionTimedOut) and leaves no subtask unfinished', async () => {
    // Arrange: an execution timeout of 2 s against workers that take 5 s.
    const timing = await LocalOrchestrator.start({
      model: { kind: 'simulated' },
      executionTimeoutSeconds: { orchestrator: 2 },
    });
    timing.simulatedModel?.setLatency({ worker: 5_000 });
    try {
      // Act
      const execution = await timing.startJob({ task: 'Research the history of wave power' });
      const ended = await execution.finished;
      await timing.eventRules.settled();

      // Assert
      const view = await timing.getJobView(execution.jobId);
      expect(ended.status).toBe('TIMED_OUT');
      expect(view).toMatchObject({ status: 'FAILED', error: { name: 'ExecutionTimedOut' } });
      expect(view?.subtasks.length).toBeGreaterThan(0);
      expect(view?.subtasks.filter((subtask) => UNFINISHED.includes(subtask.status))).toEqual([]);
      expect(timing.eventRules.failures).toEqual([]);
    } finally {
      await timing.close();
    }
  });

  it('a job that succeeds is left alone by the rule', async () => {
    const execution = await orchestrator.startJob({ task: 'Write a product description for a kettle' });
    await execution.finished;
    await orchestrator.eventRules.settled();
    expect((await orchestrator.getJobView(execution.jobId))?.status).toBe('SUCCEEDED');
  });
});

describe('the local server after a crash', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'serve-crash-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('marks a job left running Interrupted together with its unfinished subtasks, keeping what succeeded', async () => {
    // Arrange: a job caught mid-run by a crash: one subtask done, one running, one pending.
    const crashed = await startLocalServer({ model: { kind: 'simulated' }, dataDir });
    const jobs = crashed.orchestrator.repository;
    await jobs.createJob({
      jobId: 'caught-by-a-crash',
      status: 'QUEUED',
      task: 't',
      context: {},
      profile: 'research',
    });
    await jobs.savePlan('caught-by-a-crash', planWith(['a', 'b', 'c']), [['a', 'b', 'c']], usage, 1);
    await jobs.beginSubtaskAttempt('caught-by-a-crash', 'a');
    await jobs.completeSubtask('caught-by-a-crash', 'a', { output: 'kept', usage, stopReason: 'end_turn' });
    await jobs.beginSubtaskAttempt('caught-by-a-crash', 'b');
    await crashed.close({ simulateCrash: true });

    // Act
    const restarted = await startLocalServer({ model: { kind: 'simulated' }, dataDir });
    const stored = await restarted.orchestrator.repository.getJobWithSubtasks('caught-by-a-crash');
    await restarted.close();

    // Assert
    expect(restarted.interruptedAtStart).toEqual(['caught-by-a-crash']);
    expect(stored?.job).toMatchObject({ status: 'FAILED', error: { name: 'Interrupted' } });
    expect(stored?.subtasks.map((subtask) => [subtask.id, subtask.status, subtask.error?.name])).toEqual([
      ['a', 'SUCCEEDED', undefined],
      ['b', 'FAILED', 'Interrupted'],
      ['c', 'FAILED', 'Interrupted'],
    ]);
  });
});
