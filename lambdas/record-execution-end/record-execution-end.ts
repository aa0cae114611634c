import * as z from 'zod';
import { BatchExecutionInputSchema } from '../shared/domain/batch-schemas';
import { type ErrorSummary, ExecutionAborted, ExecutionTimedOut } from '../shared/domain/errors';
import { ExecutionInputSchema } from '../shared/domain/schemas';
import type { BatchRepository } from '../shared/storage/batch-repository';
import type { JobRepository } from '../shared/storage/job-repository';
import { finishBatchRun } from '../finish-batch-run/finish-batch-run';
import { runIdFor } from '../start-batch-run/start-batch-run';

/** The statuses the rule forwards: an execution that ended without (necessarily) recording why. */
export const UNRECORDED_END_STATUSES = ['TIMED_OUT', 'ABORTED', 'FAILED'] as const;

/** EventBridge's "Step Functions Execution Status Change" event, as far as this function reads it. */
export const ExecutionStatusChangeEventSchema = z.object({
  source: z.literal('aws.states'),
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    executionArn: z.string().min(1),
    stateMachineArn: z.string().min(1),
    name: z.string().min(1),
    status: z.string(),
    /** Epoch milliseconds. */
    startDate: z.number(),
    stopDate: z.number().nullish(),
    /** Absent when too large to include in the event (`inputDetails.included` false). */
    input: z.string().nullish(),
    error: z.string().nullish(),
    cause: z.string().nullish(),
  }),
});
export type ExecutionStatusChangeEvent = z.infer<typeof ExecutionStatusChangeEventSchema>;
type Detail = ExecutionStatusChangeEvent['detail'];

export type RecordExecutionEndResult =
  | { kind: 'job'; jobId: string; jobFailed: boolean; subtasksFailed: string[]; error: ErrorSummary }
  | { kind: 'batch'; runId: string; runFailed: boolean; error: ErrorSummary }
  | { kind: 'ignored'; reason: string };

export interface RecordExecutionEndDeps {
  jobs: Pick<JobRepository, 'failJob' | 'failUnfinishedSubtasks'> &
    Parameters<typeof finishBatchRun>[1]['jobs'];
  batches: Pick<BatchRepository, 'getRun'> & Parameters<typeof finishBatchRun>[1]['batches'];
  /** Which state machine is which (the rule forwards the events of both). */
  stateMachines: { orchestrator: string; batch: string };
}

/** What the execution's end says happened, as the job's (or run's) error. */
export function executionError(detail: Detail): ErrorSummary | undefined {
  const stopped =
    detail.error || detail.cause ? ` (${[detail.error, detail.cause].filter(Boolean).join(': ')})` : '';
  switch (detail.status) {
    case 'TIMED_OUT': {
      const minutes = detail.stopDate ? Math.round((detail.stopDate - detail.startDate) / 60_000) : undefined;
      const after = minutes === undefined ? '' : ` after ${minutes} minutes`;
      const error = new ExecutionTimedOut(
        `The execution ${detail.name} timed out${after}, before it could record its outcome`,
      );
      return { name: error.name, message: error.message };
    }
    case 'ABORTED': {
      const error = new ExecutionAborted(
        `The execution ${detail.name} was stopped before it could record its outcome${stopped}`,
      );
      return { name: error.name, message: error.message };
    }
    case 'FAILED':
      return {
        name: detail.error || 'ExecutionFailed',
        message: detail.cause || `The execution ${detail.name} failed without recording why`,
      };
    default:
      return undefined;
  }
}

function parseInput(input: string | null | undefined): unknown {
  if (!input) return undefined;
  try {
    return JSON.parse(input);
  } catch {
    return undefined;
  }
}

/**
 * Records the truth when an execution ended by timing out, being stopped, or failing: the job (or
 * batch run) still unfinished in the table ends FAILED with the execution's error, and so do the
 * subtasks (or batch items) that never finished. A job or run that already ended keeps its outcome;
 * its unfinished subtasks are still ended, so no terminal job keeps a PENDING or RUNNING subtask.
 * Safe to repeat (EventBridge may deliver an event twice).
 */
export async function recordExecutionEnd(
  event: ExecutionStatusChangeEvent,
  deps: RecordExecutionEndDeps,
): Promise<RecordExecutionEndResult> {
  const { detail } = event;
  const error = executionError(detail);
  if (!error) return { kind: 'ignored', reason: `status ${detail.status} needs nothing recorded` };

  if (detail.stateMachineArn === deps.stateMachines.orchestrator) {
    // The execution name is the job id (docs/architecture.md); the input says so too.
    const input = ExecutionInputSchema.safeParse(parseInput(detail.input));
    const jobId = input.success ? input.data.jobId : detail.name;
    const jobFailed = await deps.jobs.failJob(jobId, error);
    const subtasksFailed = await deps.jobs.failUnfinishedSubtasks(jobId, error);
    return { kind: 'job', jobId, jobFailed, subtasksFailed, error };
  }

  if (detail.stateMachineArn === deps.stateMachines.batch) {
    // The run id is in the input (API, CLI) or derived from the execution (a schedule).
    const input = BatchExecutionInputSchema.pick({ batchName: true, runId: true }).safeParse(
      parseInput(detail.input),
    );
    const runId = input.success
      ? runIdFor({
          input: input.data,
          executionArn: detail.executionArn,
          executionStartTime: new Date(detail.startDate).toISOString(),
        })
      : detail.name;
    const run = await deps.batches.getRun(runId);
    if (run?.status !== 'RUNNING') return { kind: 'batch', runId, runFailed: false, error };
    await finishBatchRun({ runId, error: { Error: error.name, Cause: error.message } }, deps);
    return { kind: 'batch', runId, runFailed: true, error };
  }

  return { kind: 'ignored', reason: `state machine ${detail.stateMachineArn} is not this stack's` };
}
