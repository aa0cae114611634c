/**
 * The one error policy: every error name the state machines match on, written once, with its class.
 * The Step Functions Retry rules (`lib/retry-policies.ts`), the throttling metric, the fault soak's
 * invariants and the retry table in docs/configuration.md all derive from this table (a test holds
 * the docs to it). Imports nothing, so the CDK app and the Lambdas share it.
 */

/** How an error is treated: retried by one of the Retry rules below, or final (never retried). */
export type ErrorClass =
  'capacity' | 'throttling' | 'transient' | 'lambda-service' | 'lambda-throttling' | 'crash' | 'final';
export type RetriedClass = Exclude<ErrorClass, 'final'>;

export interface RetryTiming {
  readonly intervalSeconds: number;
  readonly backoffRate: number;
  /** Retries after the first try (Step Functions' `MaxAttempts`). */
  readonly maxAttempts: number;
  readonly maxDelaySeconds: number;
  /** Full jitter: each wait is random between 0 and the backed-off interval. */
  readonly jitter: 'FULL';
}

/** The Retry rule of each retried class. Waiting happens in Step Functions (free), not in a Lambda (billed). */
export const RETRY_TIMING: Readonly<Record<RetriedClass, RetryTiming>> = {
  // The governor deferred the call: many short, jittered waits so a job starts as soon as capacity
  // frees (about 8 minutes of waiting in all; AWS allows MaxAttempts up to 99,999,999).
  capacity: { intervalSeconds: 1, backoffRate: 1.5, maxAttempts: 99, maxDelaySeconds: 10, jitter: 'FULL' },
  // 429 and 529: up to about five minutes in all.
  throttling: { intervalSeconds: 5, backoffRate: 2, maxAttempts: 6, maxDelaySeconds: 60, jitter: 'FULL' },
  transient: { intervalSeconds: 3, backoffRate: 2, maxAttempts: 3, maxDelaySeconds: 30, jitter: 'FULL' },
  'lambda-service': {
    intervalSeconds: 1,
    backoffRate: 2,
    maxAttempts: 4,
    maxDelaySeconds: 20,
    jitter: 'FULL',
  },
  // AWS recommends 2 s × 2 for 6 attempts: a burst on a new account's low concurrency quota needs it.
  'lambda-throttling': {
    intervalSeconds: 2,
    backoffRate: 2,
    maxAttempts: 6,
    maxDelaySeconds: 60,
    jitter: 'FULL',
  },
  crash: { intervalSeconds: 1, backoffRate: 2, maxAttempts: 3, maxDelaySeconds: 20, jitter: 'FULL' },
};

interface ErrorEntry {
  readonly class: ErrorClass;
  /** When it is raised, as the docs say it. */
  readonly cause: string;
}

/**
 * Every error name the orchestrator's model-calling tasks (`Plan`, `RunSubtask`, `Synthesize`) may
 * end with, by class. Names without a class here (a bug's `TypeError`, say) are not retried.
 */
export const ERROR_POLICY = {
  ModelCapacityExceeded: {
    class: 'capacity',
    cause: "the model's shared limits (modelLimits) had no capacity free; the call was not made",
  },
  ModelRateLimited: {
    class: 'throttling',
    cause: 'HTTP 429 (Bedrock ThrottlingException, ServiceQuotaExceededException)',
  },
  ModelOverloaded: { class: 'throttling', cause: 'HTTP 529 (Bedrock 503, ModelNotReadyException)' },
  ModelUnavailable: { class: 'transient', cause: '5xx, connection reset or refused' },
  ModelTimeout: {
    class: 'transient',
    cause: "the model call outlived its deadline (the function's remaining time less 5 s)",
  },
  'Sandbox.Timedout': { class: 'transient', cause: 'the function ran out of time' },
  'States.Timeout': { class: 'transient', cause: "the Task's own timeout" },
  TimeoutError: {
    class: 'transient',
    cause: "middy's early timeout just before the deadline; an AWS SDK connection reset",
  },
  'Lambda.ServiceException': { class: 'lambda-service', cause: 'the Lambda service failed the invoke' },
  'Lambda.AWSLambdaException': { class: 'lambda-service', cause: 'the Lambda service failed the invoke' },
  'Lambda.SdkClientException': { class: 'lambda-service', cause: 'the invoke did not reach Lambda' },
  'Lambda.ClientExecutionTimeoutException': { class: 'lambda-service', cause: 'the invoke timed out' },
  'Lambda.TooManyRequestsException': {
    class: 'lambda-throttling',
    cause: "the account's Lambda concurrency is used up",
  },
  'Runtime.ExitError': { class: 'crash', cause: "the function's process died" },
  'Runtime.Unknown': { class: 'crash', cause: "the function's process died" },
  'Lambda.Unknown': { class: 'crash', cause: 'the function died with no error type' },
  ModelRequestRejected: {
    class: 'final',
    cause: "400/401/403/404/413 and Bedrock's validation and access errors",
  },
  ModelRefused: { class: 'final', cause: 'stop_reason "refusal" (the message quotes it)' },
  EmptyModelOutput: { class: 'final', cause: 'the answer had no text' },
  InvalidPlan: { class: 'final', cause: 'the plan is still invalid after the repair attempts' },
  DependencyFailed: { class: 'final', cause: 'a dependency failed for good; the subtask is never run' },
  AllSubtasksFailed: { class: 'final', cause: 'no subtask succeeded' },
  BudgetExceeded: {
    class: 'final',
    cause: "the job's budget cannot cover the call's worst case; the call is not made",
  },
  PlanRejected: { class: 'final', cause: 'a person rejected the plan' },
  ApprovalTimedOut: { class: 'final', cause: 'nobody decided on the plan within approvalTimeoutHours' },
  InvalidEvent: { class: 'final', cause: 'a function got an event it cannot use' },
  JobNotFound: { class: 'final', cause: 'the job or subtask does not exist' },
} as const satisfies Record<string, ErrorEntry>;

export type PolicyErrorName = keyof typeof ERROR_POLICY;

/** The error names of one class, in the table's order. */
export function errorsOfClass(errorClass: ErrorClass): PolicyErrorName[] {
  return (Object.keys(ERROR_POLICY) as PolicyErrorName[]).filter(
    (name) => ERROR_POLICY[name].class === errorClass,
  );
}

/** The retried classes in the order their Retry rules are listed on a Task. */
export const RETRIED_CLASSES: readonly RetriedClass[] = [
  'capacity',
  'throttling',
  'transient',
  'lambda-service',
  'lambda-throttling',
  'crash',
];

export const isThrottling = (name: string): boolean =>
  name in ERROR_POLICY && ERROR_POLICY[name as PolicyErrorName].class === 'throttling';
