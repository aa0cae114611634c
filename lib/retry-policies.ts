import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import {
  errorsOfClass,
  RETRIED_CLASSES,
  RETRY_TIMING,
  type RetriedClass,
} from '../lambdas/shared/domain/error-policy';

/**
 * The Step Functions Retry rules, derived from the error policy (`lambdas/shared/domain/error-policy.ts`).
 * Waiting happens here, in Step Functions (free), not inside a Lambda (billed), so the SDK's own
 * retries stay at zero.
 */
export function retryFor(errorClass: RetriedClass): sfn.RetryProps {
  const timing = RETRY_TIMING[errorClass];
  return {
    errors: errorsOfClass(errorClass),
    interval: Duration.seconds(timing.intervalSeconds),
    backoffRate: timing.backoffRate,
    maxAttempts: timing.maxAttempts,
    maxDelay: Duration.seconds(timing.maxDelaySeconds),
    jitterStrategy: sfn.JitterType.FULL,
  };
}

/**
 * Every task that calls a model gets the same rules (plan and synthesis too, not only workers). A
 * crash is retried because every model-calling function is idempotent: a retry finds a stored result.
 */
export const MODEL_TASK_RETRIES: readonly sfn.RetryProps[] = RETRIED_CLASSES.map(retryFor);

/**
 * For bookkeeping steps that only write to DynamoDB and are idempotent: anything is worth retrying,
 * Lambda throttling first with its own longer rule (Step Functions takes the first rule that matches).
 */
export const BOOKKEEPING_RETRIES: readonly sfn.RetryProps[] = [
  retryFor('lambda-throttling'),
  {
    errors: ['States.ALL'],
    interval: Duration.seconds(1),
    backoffRate: 2,
    maxAttempts: 5,
    maxDelay: Duration.seconds(20),
    jitterStrategy: sfn.JitterType.FULL,
  },
];

/**
 * For a step that must not be retried on its own errors (AwaitApproval: a timeout there is the
 * answer) but whose function may not have been invoked at all: the Lambda service's refusals only.
 */
export const INVOKE_RETRIES: readonly sfn.RetryProps[] = [
  retryFor('lambda-throttling'),
  retryFor('lambda-service'),
];

/** Errors of the StartExecution call itself (throttling, service trouble), not of the child. */
export const START_EXECUTION_RETRY: sfn.RetryProps = {
  errors: [
    'StepFunctions.ExecutionLimitExceededException',
    'StepFunctions.AWSStepFunctionsException',
    'StepFunctions.SdkClientException',
  ],
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 4,
  maxDelay: Duration.seconds(30),
  jitterStrategy: sfn.JitterType.FULL,
};
