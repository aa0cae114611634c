/**
 * Base for every error the state machine matches on. Step Functions (and aws-local-stepfunctions)
 * match Retry/Catch on the error's `name`, which a Node.js Lambda reports as `errorType`.
 */
export abstract class WorkflowError extends Error {
  abstract override readonly name: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** What a provider's rate-limit headers said was left: per dimension, the remainder and when it refills. */
export interface ProviderRateLimits {
  requests?: ProviderRemaining;
  inputTokens?: ProviderRemaining;
  outputTokens?: ProviderRemaining;
}
export interface ProviderRemaining {
  remaining: number;
  /** Epoch ms at which the provider's bucket is full again, when it said. */
  resetAtMs?: number;
}

/**
 * HTTP 429 from the model provider. Retried with exponential backoff and full jitter. `retryAfterMs`
 * (from `retry-after`) and `rateLimits` (from `anthropic-ratelimit-*`) are what the provider said.
 */
export class ModelRateLimited extends WorkflowError {
  override readonly name = 'ModelRateLimited';
  constructor(
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number; rateLimits?: ProviderRateLimits },
  ) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
    this.rateLimits = options?.rateLimits;
  }
  readonly retryAfterMs: number | undefined;
  readonly rateLimits: ProviderRateLimits | undefined;
}

/**
 * The model-call governor found no capacity free for this call under the deployment's `modelLimits`
 * (or the provider asked every caller to pause): the call was not made. Step Functions retries it
 * with its own backoff and jitter, so no function waits. `retryAfterMs` is the governor's estimate
 * of when capacity frees (also in the message).
 */
export class ModelCapacityExceeded extends WorkflowError {
  override readonly name = 'ModelCapacityExceeded';
  constructor(
    message: string,
    readonly retryAfterMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** HTTP 529: the provider is overloaded. Retried with exponential backoff and full jitter. */
export class ModelOverloaded extends WorkflowError {
  override readonly name = 'ModelOverloaded';
}

/** HTTP 5xx, or the connection was reset or refused. Retried. */
export class ModelUnavailable extends WorkflowError {
  override readonly name = 'ModelUnavailable';
}

/** The model request did not finish in time. Retried. */
export class ModelTimeout extends WorkflowError {
  override readonly name = 'ModelTimeout';
}

/** HTTP 400/401/403/404/413: retrying the same request cannot help. Not retried. */
export class ModelRequestRejected extends WorkflowError {
  override readonly name = 'ModelRequestRejected';
}

/** The planner's output still failed validation after the repair attempts. Not retried. */
export class InvalidPlan extends WorkflowError {
  override readonly name = 'InvalidPlan';
  constructor(
    message: string,
    readonly validationErrors: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Synthesis found no successful subtask to combine, so the job cannot produce a deliverable. */
export class AllSubtasksFailed extends WorkflowError {
  override readonly name = 'AllSubtasksFailed';
}

/** A subtask's dependency did not succeed, so the subtask is not run on missing input. Not retried. */
export class DependencyFailed extends WorkflowError {
  override readonly name = 'DependencyFailed';
}

/** The model declined the request (`stop_reason: "refusal"`). Asking again would repeat it: not retried. */
export class ModelRefused extends WorkflowError {
  override readonly name = 'ModelRefused';
}

/** What a refusal said, shortened for an error message (empty when it said nothing). */
export function refusalDetail(text: string, maxChars = 300): string {
  const said = text.trim().replace(/\s+/g, ' ');
  if (said === '') return '';
  return `: "${said.length > maxChars ? `${said.slice(0, maxChars)}…` : said}"`;
}

/** The model answered with no text at all. Not retried: the call is recorded, and the step fails plainly. */
export class EmptyModelOutput extends WorkflowError {
  override readonly name = 'EmptyModelOutput';
}

/**
 * A refusal or an empty answer, which a worker or the synthesis cannot use: a named, never-retried
 * error. Anything else (including an answer cut off at max_tokens) is usable.
 */
export function unusableAnswer(
  role: 'worker' | 'synthesis',
  answer: { text: string; stopReason: string | null },
): ModelRefused | EmptyModelOutput | undefined {
  if (answer.stopReason === 'refusal') {
    const what = role === 'worker' ? 'this subtask' : 'to combine the results';
    return new ModelRefused(`The ${role} model declined ${what}${refusalDetail(answer.text)}`);
  }
  if (answer.text.trim() === '') {
    return new EmptyModelOutput(
      `The ${role} model returned no text (stop reason: ${answer.stopReason ?? 'none'})`,
    );
  }
  return undefined;
}

/**
 * The job's budget (`maxCostUsd`, `maxOutputTokens`) cannot cover this call's worst case: the call is
 * not made. A subtask fails with it (the job goes on, PARTIAL); planning or synthesis fails the job.
 */
export class BudgetExceeded extends WorkflowError {
  override readonly name = 'BudgetExceeded';
}

/** A person rejected the plan (`POST /jobs/{jobId}/approval` with `"decision": "reject"`). */
export class PlanRejected extends WorkflowError {
  override readonly name = 'PlanRejected';
}

/** Nobody approved or rejected the plan within `approvalTimeoutHours`. */
export class ApprovalTimedOut extends WorkflowError {
  override readonly name = 'ApprovalTimedOut';
}

/** A Lambda was invoked with an event that does not match its schema (a wiring bug). */
export class InvalidEvent extends WorkflowError {
  override readonly name = 'InvalidEvent';
}

/** The job or subtask a Lambda was asked to work on does not exist. */
export class JobNotFound extends WorkflowError {
  override readonly name = 'JobNotFound';
}

// Errors of a whole execution, recorded by record-execution-end from the execution's status change
// event (the state machine's own failure handling never ran). Never thrown by a Task, so they are
// not WorkflowErrors and have no place in the Retry policy.

/** The execution ran past the state machine's timeout (2 h for a job, 24 h for a batch). */
export class ExecutionTimedOut extends Error {
  override readonly name = 'ExecutionTimedOut';
}

/** The execution was stopped (StopExecution, the console, or a parent batch execution). */
export class ExecutionAborted extends Error {
  override readonly name = 'ExecutionAborted';
}

/** A batch run names a batch whose requests are nowhere: not recorded, not a bundled definition. */
export class UnknownBatch extends Error {
  override readonly name = 'UnknownBatch';
}

/** A run asks for `modelCalls` `batch` in a deployment without the Message Batches lane (provider `bedrock`). */
export class BatchLaneUnavailable extends Error {
  override readonly name = 'BatchLaneUnavailable';
}

// Errors of the batch lane (Message Batches): raised and recorded inside the batch-lane function,
// never the end of a Task, so they are not WorkflowErrors either.

/**
 * The batch lane took this model request for its next Message Batch: the model was not called (yet).
 * The pure plan, worker and synthesis functions let it through; a worker takes back the attempt.
 */
export class ModelCallDeferred extends Error {
  override readonly name = 'ModelCallDeferred';
}

/** A Message Batch request expired (the batch did not reach it within 24 hours). Sent again, bounded. */
export class BatchRequestExpired extends Error {
  override readonly name = 'BatchRequestExpired';
}

/** A Message Batch request was cancelled before it ran. Sent again, bounded (past the deadline: on demand). */
export class BatchRequestCanceled extends Error {
  override readonly name = 'BatchRequestCanceled';
}

/** `{ name, message }` as stored on jobs and subtasks. */
export interface ErrorSummary {
  name: string;
  message: string;
}

/**
 * Reads the `{ Error, Cause }` that a Step Functions Catch puts in the state. For a Lambda error the
 * Cause is a JSON string `{ errorType, errorMessage, trace }`; for States.* errors it is plain text.
 */
export function errorFromCatch(caught: { Error?: string; Cause?: string }): ErrorSummary {
  const name = caught.Error ?? 'UnknownError';
  const cause = caught.Cause ?? '';
  try {
    const parsed: unknown = JSON.parse(cause);
    if (parsed && typeof parsed === 'object' && 'errorMessage' in parsed) {
      const message = (parsed as { errorMessage: unknown }).errorMessage;
      if (typeof message === 'string') return { name, message };
    }
  } catch {
    // Not JSON: a States.* error or a plain-text cause.
  }
  return { name, message: cause || name };
}
