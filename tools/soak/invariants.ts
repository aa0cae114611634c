import type { JobWithSubtasks } from '../../lambdas/shared/storage/job-repository';
import { errorsOfClass, type PolicyErrorName } from '../../lambdas/shared/domain/error-policy';
import { toJobView } from '../../lambdas/shared/views/job-view';
import type { JobStatus } from '../../lambdas/shared/domain/schemas';
import { FAULT_KINDS, type FaultKind, type RequestLogEntry } from '../../local/simulated-model';
import type { LedgerEntry } from './soak-ledger';

/** The parts of an execution event the checks read (aws-local-stepfunctions' event log entries). */
export interface SoakEvent {
  type: string;
  state?: { name: string; input?: unknown };
  retry?: { retrier: { ErrorEquals: string[] } };
}

/** Everything observed about one job, from sources independent of one another. */
export interface JobObservation {
  jobId: string;
  /** The Step Functions execution's outcome. */
  execution: { status: string; error?: string };
  /** The execution's event log. */
  events: readonly SoakEvent[];
  /** The job and its subtasks as stored in DynamoDB. */
  stored: JobWithSubtasks | undefined;
  /** Worker invocations, completing writes seen on the wire and injected crashes, in order. */
  ledger: readonly LedgerEntry[];
}

/** A Retry rule of a Task state: the errors it matches and how often it retries them. */
export interface RetryRule {
  errors: string[];
  maxAttempts: number;
}
export type RetryRules = Record<'Plan' | 'RunSubtask' | 'Synthesize', RetryRule[]>;

export interface Violation {
  jobId: string;
  invariant: string;
  detail: string;
}

export interface JobCheck {
  jobId: string;
  status: JobStatus | 'MISSING';
  /** The recorded error names: the job's (FAILED or PARTIAL) and each failed subtask's. */
  errors: { job?: string; subtasks: string[] };
  subtasksSucceeded: number;
  subtasksFailed: number;
  retries: number;
  /** Completing writes DynamoDB applied. */
  persisted: number;
  /** Subtasks whose output was applied more than once. */
  duplicates: number;
  crashesBeforeWrite: number;
  crashesAfterWrite: number;
  /** Worker invocations the governor deferred (ModelCapacityExceeded). */
  deferrals: number;
  violations: Violation[];
}

/**
 * Errors after which giving up at once is right: the error policy's final class (the request was
 * rejected or refused, the answer was empty, the plan stayed invalid, or there was nothing to run on).
 * Anything else is transient and may only fail a subtask or job once its Retry rule is used up.
 */
export const FINAL_ERRORS: readonly string[] = errorsOfClass('final');

const TERMINAL: readonly JobStatus[] = ['SUCCEEDED', 'PARTIAL', 'FAILED'];
const DEFAULT_MAX_ATTEMPTS = 3;

/** The Retry rules of the model-calling Task states of the orchestrator definition. */
export function retryRulesOf(definition: Record<string, unknown>): RetryRules {
  const found: Partial<Record<string, RetryRule[]>> = {};
  const visit = (machine: unknown) => {
    const states = (machine as { States?: Record<string, Record<string, unknown>> }).States ?? {};
    for (const [name, state] of Object.entries(states)) {
      const retry = state.Retry as Array<{ ErrorEquals: string[]; MaxAttempts?: number }> | undefined;
      if (retry) {
        found[name] = retry.map((rule) => ({
          errors: rule.ErrorEquals,
          maxAttempts: rule.MaxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        }));
      }
      if (state.ItemProcessor) visit(state.ItemProcessor);
    }
  };
  visit(definition);
  return { Plan: found.Plan ?? [], RunSubtask: found.RunSubtask ?? [], Synthesize: found.Synthesize ?? [] };
}

const ruleFor = (rules: readonly RetryRule[], error: string) =>
  rules.find((rule) => rule.errors.includes(error) || rule.errors.includes('States.ALL'));

const subtaskIdOf = (event: SoakEvent): string | undefined => {
  const input = event.state?.input as { subtaskId?: unknown } | undefined;
  return typeof input?.subtaskId === 'string' ? input.subtaskId : undefined;
};

/** Checks one job against every invariant; each violation names the job, the invariant and what was wrong. */
export function checkJob(observation: JobObservation, rules: RetryRules): JobCheck {
  const { jobId, stored, execution, events, ledger } = observation;
  const violations: Violation[] = [];
  const fail = (invariant: string, detail: string) => violations.push({ jobId, invariant, detail });
  const retried = events.filter((event) => event.type === 'StateRetried');
  const writes = ledger.filter((entry) => entry.kind === 'write');
  const accepted = writes.filter((write) => write.outcome === 'accepted');
  const crashes = ledger.filter((entry) => entry.kind === 'crash');
  const base = {
    jobId,
    retries: retried.length,
    persisted: accepted.length,
    crashesBeforeWrite: crashes.filter((crash) => crash.when === 'before-write').length,
    crashesAfterWrite: crashes.filter((crash) => crash.when === 'after-write').length,
    deferrals: ledger.filter((entry) => entry.kind === 'deferral').length,
  };

  if (!stored) {
    fail('every job terminal', 'the job is not in the table');
    return {
      ...base,
      status: 'MISSING',
      errors: { subtasks: [] },
      subtasksSucceeded: 0,
      subtasksFailed: 0,
      duplicates: 0,
      violations,
    };
  }
  const { job, subtasks } = stored;
  const succeeded = subtasks.filter((subtask) => subtask.status === 'SUCCEEDED');
  const failed = subtasks.filter((subtask) => subtask.status === 'FAILED');

  // Every job terminal, and the table agrees with the execution.
  if (!TERMINAL.includes(job.status)) fail('every job terminal', `status is ${job.status}`);
  const executionSucceeded = execution.status === 'SUCCEEDED';
  if (executionSucceeded !== (job.status === 'SUCCEEDED' || job.status === 'PARTIAL')) {
    fail('every job terminal', `the execution ended ${execution.status} but the job is ${job.status}`);
  }
  if (job.status === 'FAILED' && execution.error !== job.error?.name) {
    fail(
      'cause recorded',
      `the execution failed with ${execution.error} but the job records ${job.error?.name}`,
    );
  }

  // Retries used up before anything transient is allowed to fail a subtask or the job.
  const retriesLeft = (state: keyof RetryRules, error: string, subtaskId?: string): string | undefined => {
    if (FINAL_ERRORS.includes(error)) return undefined;
    const rule = ruleFor(rules[state], error);
    if (!rule) return `${state} failed with ${error}, which no Retry rule matches`;
    const used = retried.filter(
      (event) =>
        event.state?.name === state &&
        (subtaskId === undefined || subtaskIdOf(event) === subtaskId) &&
        event.retry?.retrier.ErrorEquals.join() === rule.errors.join(),
    ).length;
    return used < rule.maxAttempts
      ? `${state} failed with ${error} after ${used} of ${rule.maxAttempts} retries`
      : undefined;
  };

  // PARTIAL / FAILED exactly when they should be, with the cause recorded.
  const unfinished = subtasks.filter(
    (subtask) => subtask.status !== 'SUCCEEDED' && subtask.status !== 'FAILED',
  );
  if (!job.plan) {
    if (job.status !== 'FAILED')
      fail('status as expected', `no plan was stored but the job is ${job.status}`);
  } else {
    if (unfinished.length > 0) {
      fail(
        'every job terminal',
        `subtasks never finished: ${unfinished.map((s) => `${s.id} ${s.status}`).join(', ')}`,
      );
    }
    const expected: JobStatus =
      succeeded.length === 0
        ? 'FAILED'
        : failed.length === 0 && unfinished.length === 0
          ? 'SUCCEEDED'
          : 'PARTIAL';
    const synthesisGaveUp = job.status === 'FAILED' && expected !== 'FAILED' && job.error?.name !== undefined;
    if (job.status !== expected && !synthesisGaveUp) {
      fail(
        'status as expected',
        `${succeeded.length} succeeded and ${failed.length} failed, but the job is ${job.status}`,
      );
    }
    if (
      expected === 'FAILED' &&
      job.status === 'FAILED' &&
      job.error?.name !== ('AllSubtasksFailed' satisfies PolicyErrorName)
    ) {
      fail('cause recorded', `every subtask failed but the job records ${job.error?.name}`);
    }
  }
  if ((job.status === 'FAILED' || job.status === 'PARTIAL') && !(job.error?.name && job.error.message)) {
    fail('cause recorded', `a ${job.status} job without error name and message`);
  }
  if (job.status === 'PARTIAL') {
    const unnamed = failed.filter((subtask) => !job.error?.message.includes(subtask.id));
    if (unnamed.length > 0)
      fail('cause recorded', `the error does not name ${unnamed.map((s) => s.id).join(', ')}`);
  }
  if (job.status === 'FAILED' && job.error) {
    const problem = retriesLeft(job.plan ? 'Synthesize' : 'Plan', job.error.name);
    if (problem) fail('failed only when final', `${problem}: ${job.error.message}`);
  }
  if (job.status === 'SUCCEEDED' && job.error)
    fail('cause recorded', `a SUCCEEDED job with error ${job.error.name}`);

  let duplicates = 0;
  for (const subtask of subtasks) {
    const mine = accepted.filter((write) => write.subtaskId === subtask.id);
    // Invocations the governor deferred never reached the model and are not attempts.
    const invocations = ledger.filter(
      (entry) => entry.kind === 'invocation' && entry.subtaskId === subtask.id,
    );
    const deferrals = ledger.filter((entry) => entry.kind === 'deferral' && entry.subtaskId === subtask.id);
    if (mine.length > 1) duplicates += 1;

    // Every successful subtask's output stored exactly once, and only those.
    if (subtask.status === 'SUCCEEDED') {
      const [write, ...more] = mine;
      if (!write) {
        fail(
          'output stored exactly once',
          `${subtask.id} is SUCCEEDED but no write of its output was applied`,
        );
      } else if (more.length > 0) {
        fail('output stored exactly once', `${subtask.id}: ${mine.length} writes of its output applied`);
      } else {
        if (subtask.output !== write.output)
          fail('output stored exactly once', `${subtask.id}: stored output differs from the write`);
        if (
          subtask.usage?.inputTokens !== write.usage.inputTokens ||
          subtask.usage.outputTokens !== write.usage.outputTokens
        ) {
          fail('usage counted once', `${subtask.id}: stored usage differs from the one write applied`);
        }
        // Attempts: every invocation before the applied write began one; later ones found the success.
        const before =
          invocations.filter((entry) => entry.seq < write.seq).length -
          deferrals.filter((entry) => entry.seq < write.seq).length;
        if (subtask.attempts !== before) {
          fail(
            'attempts recorded',
            `${subtask.id}: ${subtask.attempts} attempts recorded, ${before} invocations ran it`,
          );
        }
      }
    } else {
      if (mine.length > 0)
        fail('output stored exactly once', `${subtask.id} is ${subtask.status} but its output was written`);
      if (subtask.status === 'FAILED') {
        if (!subtask.error?.name || !subtask.error.message) {
          fail('cause recorded', `${subtask.id} FAILED without error name and message`);
        } else {
          const problem = retriesLeft('RunSubtask', subtask.error.name, subtask.id);
          if (problem) fail('failed only when final', `${subtask.id}: ${problem}: ${subtask.error.message}`);
          const expectedAttempts =
            subtask.error.name === ('DependencyFailed' satisfies PolicyErrorName)
              ? 0
              : invocations.length - deferrals.length;
          if (subtask.attempts !== expectedAttempts) {
            fail(
              'attempts recorded',
              `${subtask.id}: ${subtask.attempts} attempts recorded, expected ${expectedAttempts} (${invocations.length} invocations)`,
            );
          }
        }
      }
    }
  }

  // Usage never double-counted: the job's total is the plan, each applied write once, and the synthesis.
  const view = toJobView(stored);
  const tokens = (usage: { inputTokens: number; outputTokens: number } | undefined) => [
    usage?.inputTokens ?? 0,
    usage?.outputTokens ?? 0,
  ];
  const [planIn = 0, planOut = 0] = tokens(job.planUsage);
  const [synthesisIn = 0, synthesisOut = 0] = tokens(job.synthesisUsage);
  const expectedIn = planIn + synthesisIn + accepted.reduce((sum, write) => sum + write.usage.inputTokens, 0);
  const expectedOut =
    planOut + synthesisOut + accepted.reduce((sum, write) => sum + write.usage.outputTokens, 0);
  if (view.usage.inputTokens !== expectedIn || view.usage.outputTokens !== expectedOut) {
    fail(
      'usage counted once',
      `job usage ${view.usage.inputTokens}/${view.usage.outputTokens} tokens, expected ${expectedIn}/${expectedOut}`,
    );
  }

  return {
    ...base,
    status: job.status,
    errors: {
      ...(job.error ? { job: job.error.name } : {}),
      subtasks: failed.map((subtask) => subtask.error?.name ?? 'unknown'),
    },
    subtasksSucceeded: succeeded.length,
    subtasksFailed: failed.length,
    duplicates,
    violations,
  };
}

export interface LevelSummary {
  /** The fault level, 0..0.5. */
  level: number;
  wallClockMs: number;
  jobs: { total: number } & Record<JobStatus | 'MISSING', number>;
  subtasks: { succeeded: number; failed: number };
  retries: number;
  /** Worker answers the simulated model returned (HTTP 200). */
  outputsProduced: number;
  /** Subtask outputs DynamoDB applied. */
  outputsPersisted: number;
  duplicates: number;
  injected: Record<FaultKind, number> & {
    spikes: number;
    crashesBeforeWrite: number;
    crashesAfterWrite: number;
  };
  modelCalls: number;
  /** Calls the simulated model answered 429 because they were beyond its own limits. */
  rateLimited: number;
  /** Worker invocations the governor deferred. */
  deferrals: number;
  /** The most requests of one model open at once at the simulated model so far (with limits). */
  peakInFlight: number;
  /** How many FAILED jobs and failed subtasks recorded each error name. */
  causes: { jobs: Record<string, number>; subtasks: Record<string, number> };
  violations: Violation[];
}

/** Sums the jobs of one level and adds the level-wide check: every produced output is persisted or was lost to a crash. */
export function summarizeLevel(input: {
  level: number;
  wallClockMs: number;
  jobs: readonly JobCheck[];
  modelRequests: readonly RequestLogEntry[];
  spikes: number;
  /** The provider's in-flight limit and the model's peak, when the level ran against one. */
  providerLimit?: { maxInFlight: number; governed: boolean; peakInFlight: number };
}): LevelSummary {
  const { jobs, modelRequests } = input;
  const sum = (pick: (job: JobCheck) => number) => jobs.reduce((total, job) => total + pick(job), 0);
  const byStatus = { SUCCEEDED: 0, PARTIAL: 0, FAILED: 0, MISSING: 0 } as LevelSummary['jobs'];
  for (const status of [
    'QUEUED',
    'PLANNING',
    'AWAITING_APPROVAL',
    'RUNNING',
    'SYNTHESIZING',
    'CANCELLED',
  ] as const)
    byStatus[status] = 0;
  for (const job of jobs) byStatus[job.status] += 1;
  byStatus.total = jobs.length;

  const faults = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
  for (const request of modelRequests) if (request.fault) faults[request.fault] += 1;
  const outputsProduced = modelRequests.filter(
    (request) => request.role === 'worker' && request.status === 200,
  ).length;
  const outputsPersisted = sum((job) => job.persisted);
  const crashesBeforeWrite = sum((job) => job.crashesBeforeWrite);

  const violations = jobs.flatMap((job) => job.violations);
  if (outputsProduced !== outputsPersisted + crashesBeforeWrite) {
    violations.push({
      jobId: '(all jobs)',
      invariant: 'outputs accounted for',
      detail: `${outputsProduced} worker outputs produced, ${outputsPersisted} persisted + ${crashesBeforeWrite} lost to crashes before the write`,
    });
  }
  const limit = input.providerLimit;
  if (limit?.governed && limit.peakInFlight > limit.maxInFlight) {
    violations.push({
      jobId: '(all jobs)',
      invariant: 'governed: within the limit',
      detail: `the model saw ${limit.peakInFlight} requests of one model at once, the limit is ${limit.maxInFlight}`,
    });
  }
  return {
    level: input.level,
    wallClockMs: input.wallClockMs,
    jobs: byStatus,
    subtasks: { succeeded: sum((job) => job.subtasksSucceeded), failed: sum((job) => job.subtasksFailed) },
    retries: sum((job) => job.retries),
    outputsProduced,
    outputsPersisted,
    duplicates: sum((job) => job.duplicates),
    injected: {
      ...faults,
      spikes: input.spikes,
      crashesBeforeWrite,
      crashesAfterWrite: sum((job) => job.crashesAfterWrite),
    },
    modelCalls: modelRequests.length,
    rateLimited: modelRequests.filter((request) => request.limited !== undefined).length,
    deferrals: sum((job) => job.deferrals),
    peakInFlight: limit?.peakInFlight ?? 0,
    causes: {
      jobs: countNames(
        jobs.filter((job) => job.status === 'FAILED').map((job) => job.errors.job ?? 'unknown'),
      ),
      subtasks: countNames(jobs.flatMap((job) => job.errors.subtasks)),
    },
    violations,
  };
}

function countNames(names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}
