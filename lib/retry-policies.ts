import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';

/**
 * The Retry rules of the error table (docs/architecture.md). Waiting happens here, in Step Functions (free),
 * not inside a Lambda (billed), so the SDK's own retries stay at zero.
 */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];

/** 429 and 529: back off exponentially with full jitter, up to about five minutes in all. */
export const THROTTLING_RETRY: sfn.RetryProps = {
  errors: ['ModelRateLimited', 'ModelOverloaded'],
  interval: Duration.seconds(5),
  backoffRate: 2,
  maxAttempts: 6,
  maxDelay: Duration.seconds(60),
  jitterStrategy: sfn.JitterType.FULL,
};

/**
 * 5xx, connection failures and timeouts of the model call (or of the function itself).
 * `TimeoutError` is the function running out of time too: middy ends the invocation with it just
 * before Lambda's deadline (its `timeoutEarly`), and the AWS SDK names a DynamoDB connection reset
 * or timeout that outlived its own retries so. The fault soak saw planning under load fail the
 * whole job on it.
 */
export const TRANSIENT_RETRY: sfn.RetryProps = {
  errors: ['ModelUnavailable', 'ModelTimeout', 'Sandbox.Timedout', 'States.Timeout', 'TimeoutError'],
  interval: Duration.seconds(3),
  backoffRate: 2,
  maxAttempts: 3,
  maxDelay: Duration.seconds(30),
  jitterStrategy: sfn.JitterType.FULL,
};

export const LAMBDA_SERVICE_RETRY: sfn.RetryProps = {
  errors: LAMBDA_SERVICE_ERRORS,
  interval: Duration.seconds(1),
  backoffRate: 2,
  maxAttempts: 4,
  maxDelay: Duration.seconds(20),
  jitterStrategy: sfn.JitterType.FULL,
};

/**
 * The function's process died (crash, out of memory, killed): Lambda reports `Runtime.ExitError` or
 * `Runtime.Unknown`, Step Functions `Lambda.Unknown` when no error type came back. A model-calling
 * function can die after the model answered but before its write; every one of them is idempotent
 * (a retry finds a stored result and returns it), so such a crash is retried, not recorded as a
 * failed subtask.
 */
export const RUNTIME_CRASH_RETRY: sfn.RetryProps = {
  errors: ['Runtime.ExitError', 'Runtime.Unknown', 'Lambda.Unknown'],
  interval: Duration.seconds(1),
  backoffRate: 2,
  maxAttempts: 3,
  maxDelay: Duration.seconds(20),
  jitterStrategy: sfn.JitterType.FULL,
};

/** For bookkeeping steps that only write to DynamoDB and are idempotent: anything is worth retrying. */
export const BOOKKEEPING_RETRY: sfn.RetryProps = {
  errors: ['States.ALL'],
  interval: Duration.seconds(1),
  backoffRate: 2,
  maxAttempts: 5,
  maxDelay: Duration.seconds(20),
  jitterStrategy: sfn.JitterType.FULL,
};

/** Every task that calls a model gets the same rules (plan and synthesis too, not only workers). */
export const MODEL_TASK_RETRIES = [
  THROTTLING_RETRY,
  TRANSIENT_RETRY,
  LAMBDA_SERVICE_RETRY,
  RUNTIME_CRASH_RETRY,
];
