import type { JobWithSubtasks } from '../../../../lambdas/shared/storage/job-repository';
import type { CallUsage, SubtaskRecord } from '../../../../lambdas/shared/domain/schemas';
import {
  checkJob,
  type JobObservation,
  type RetryRules,
  type SoakEvent,
  summarizeLevel,
} from '../../../../tools/soak/invariants';
import type { LedgerEntry } from '../../../../tools/soak/soak-ledger';
import { planWith } from '../../../helpers/plans';

const JOB_ID = 'soak-job-1-abc123';
const RULES: RetryRules = {
  Plan: [{ errors: ['ModelRateLimited', 'ModelOverloaded'], maxAttempts: 6 }],
  RunSubtask: [
    { errors: ['ModelRateLimited', 'ModelOverloaded'], maxAttempts: 6 },
    { errors: ['ModelUnavailable', 'ModelTimeout'], maxAttempts: 3 },
  ],
  Synthesize: [{ errors: ['ModelRateLimited', 'ModelOverloaded'], maxAttempts: 6 }],
};
const usage = (inputTokens: number, outputTokens: number): CallUsage => ({
  inputTokens,
  outputTokens,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  model: 'claude-haiku-5-5',
  costUsd: 0,
});

function subtask(id: string, overrides: Partial<SubtaskRecord>): SubtaskRecord {
  return {
    id,
    type: 'research',
    title: id,
    description: `Do ${id}`,
    dependsOn: [],
    priority: 3,
    jobId: JOB_ID,
    index: 0,
    wave: 0,
    status: 'SUCCEEDED',
    attempts: 1,
    output: `output of ${id}`,
    usage: usage(10, 20),
    ...overrides,
  };
}

/** A job whose subtasks `a` and `b` ran once each and succeeded, stored and seen on the wire alike. */
function succeededJob(): JobObservation {
  const stored: JobWithSubtasks = {
    job: {
      jobId: JOB_ID,
      status: 'SUCCEEDED',
      task: 'Research tidal power',
      context: {},
      profile: 'research',
      plan: planWith(['a', 'b']),
      planUsage: usage(5, 5),
      synthesisUsage: usage(7, 7),
      synthesis: 'the report',
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
    },
    subtasks: [subtask('a', {}), subtask('b', { index: 1 })],
  };
  const ledger: LedgerEntry[] = [
    { kind: 'invocation', seq: 1, jobId: JOB_ID, subtaskId: 'a' },
    { kind: 'invocation', seq: 2, jobId: JOB_ID, subtaskId: 'b' },
    write(3, 'a'),
    write(4, 'b'),
  ];
  return { jobId: JOB_ID, execution: { status: 'SUCCEEDED' }, events: [], stored, ledger };
}

function write(seq: number, subtaskId: string): LedgerEntry {
  return {
    kind: 'write',
    seq,
    jobId: JOB_ID,
    subtaskId,
    outcome: 'accepted',
    output: `output of ${subtaskId}`,
    usage: { inputTokens: 10, outputTokens: 20 },
  };
}

const retried = (subtaskId: string, errors: string[], times: number): SoakEvent[] =>
  Array.from({ length: times }, () => ({
    type: 'StateRetried',
    state: { name: 'RunSubtask', input: { jobId: JOB_ID, subtaskId } },
    retry: { retrier: { ErrorEquals: errors } },
  }));

/** Turns subtask `b` into one that failed with `error` after `invocations` invocations. */
function withFailedB(observation: JobObservation, error: string, invocations: number): JobObservation {
  const stored = observation.stored as JobWithSubtasks;
  return {
    ...observation,
    stored: {
      job: { ...stored.job, status: 'PARTIAL', error: { name: 'SubtasksFailed', message: `b (${error})` } },
      subtasks: [
        stored.subtasks[0] as SubtaskRecord,
        subtask('b', {
          index: 1,
          status: 'FAILED',
          attempts: invocations,
          output: undefined,
          usage: undefined,
          error: { name: error, message: 'it failed' },
        }),
      ],
    },
    ledger: [
      ...observation.ledger.filter((entry) => entry.subtaskId !== 'b'),
      ...Array.from({ length: invocations }, (_, index): LedgerEntry => ({
        kind: 'invocation',
        seq: 10 + index,
        jobId: JOB_ID,
        subtaskId: 'b',
      })),
    ],
  };
}

const invariantsViolated = (observation: JobObservation) =>
  checkJob(observation, RULES).violations.map((violation) => violation.invariant);

describe('soak invariants of one job', () => {
  it('accept a job whose stored outputs, usage and attempts match what was seen', () => {
    const check = checkJob(succeededJob(), RULES);

    expect(check.violations).toEqual([]);
    expect(check).toMatchObject({ status: 'SUCCEEDED', subtasksSucceeded: 2, persisted: 2, duplicates: 0 });
  });

  it('flag an output applied twice as a duplicate', () => {
    const observation = succeededJob();
    const doubled = { ...observation, ledger: [...observation.ledger, write(5, 'a')] };

    const check = checkJob(doubled, RULES);

    expect(check.duplicates).toBe(1);
    expect(check.violations.map((violation) => violation.invariant)).toEqual(
      expect.arrayContaining(['output stored exactly once', 'usage counted once']),
    );
  });

  it('flag a SUCCEEDED subtask whose output never reached the table on the wire', () => {
    const observation = succeededJob();
    const lost = { ...observation, ledger: observation.ledger.filter((entry) => entry.seq !== 4) };

    expect(invariantsViolated(lost)).toContain('output stored exactly once');
  });

  it('accept a subtask that failed with a transient error once its retries were used up', () => {
    const observation = withFailedB(succeededJob(), 'ModelUnavailable', 4);
    const exhausted = { ...observation, events: retried('b', ['ModelUnavailable', 'ModelTimeout'], 3) };

    expect(checkJob(exhausted, RULES).violations).toEqual([]);
  });

  it('flag a subtask that failed with a transient error while retries were left', () => {
    const observation = withFailedB(succeededJob(), 'ModelUnavailable', 2);
    const early = { ...observation, events: retried('b', ['ModelUnavailable', 'ModelTimeout'], 1) };

    expect(checkJob(early, RULES).violations).toEqual([
      expect.objectContaining({
        invariant: 'failed only when final',
        detail: expect.stringContaining('1 of 3'),
      }),
    ]);
  });

  it('flag a crash that no Retry rule matches, though a retry would have succeeded', () => {
    const crashed = withFailedB(succeededJob(), 'Runtime.ExitError', 1);

    expect(checkJob(crashed, RULES).violations).toEqual([
      expect.objectContaining({
        invariant: 'failed only when final',
        detail: expect.stringContaining('Runtime.ExitError, which no Retry rule matches'),
      }),
    ]);
  });

  it('flag a job left unfinished, or ending PARTIAL when every subtask succeeded', () => {
    const observation = succeededJob();
    const stored = observation.stored as JobWithSubtasks;
    const running = {
      ...observation,
      stored: { ...stored, job: { ...stored.job, status: 'RUNNING' as const } },
    };
    const partial = {
      ...observation,
      stored: {
        ...stored,
        job: { ...stored.job, status: 'PARTIAL' as const, error: { name: 'X', message: 'y' } },
      },
    };

    expect(invariantsViolated(running)).toContain('every job terminal');
    expect(invariantsViolated(partial)).toContain('status as expected');
  });

  it('flag a FAILED job whose execution failed with another error', () => {
    const observation = succeededJob();
    const stored = observation.stored as JobWithSubtasks;
    const noPlan: JobObservation = {
      ...observation,
      execution: { status: 'FAILED', error: 'ModelOverloaded' },
      stored: {
        job: {
          ...stored.job,
          plan: undefined,
          status: 'FAILED',
          error: { name: 'InvalidPlan', message: 'bad' },
        },
        subtasks: [],
      },
      ledger: [],
    };

    expect(invariantsViolated(noPlan)).toEqual(['cause recorded']);
  });
});

describe('soak invariants of a level', () => {
  it('flag worker outputs produced that were neither persisted nor lost to a crash', () => {
    const check = checkJob(succeededJob(), RULES);
    const answer = {
      role: 'worker' as const,
      model: 'm',
      api: 'anthropic' as const,
      status: 200,
      fault: null,
      receivedAtMs: 0,
      answeredAtMs: 1,
    };

    const accounted = summarizeLevel({
      level: 0,
      wallClockMs: 1,
      jobs: [check],
      modelRequests: [answer, answer].map((entry, index) => ({ ...entry, seq: index + 1 })),
      spikes: 0,
    });
    const unaccounted = summarizeLevel({
      level: 0,
      wallClockMs: 1,
      jobs: [check],
      modelRequests: [answer, answer, answer].map((entry, index) => ({ ...entry, seq: index + 1 })),
      spikes: 0,
    });

    expect(accounted.violations).toEqual([]);
    expect(accounted).toMatchObject({ outputsProduced: 2, outputsPersisted: 2, jobs: { SUCCEEDED: 1 } });
    expect(unaccounted.violations).toEqual([expect.objectContaining({ invariant: 'outputs accounted for' })]);
  });
});
