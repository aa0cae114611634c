import Anthropic from '@anthropic-ai/sdk';

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

/** HTTP 429 from the model provider. Retried with exponential backoff and full jitter. */
export class ModelRateLimited extends WorkflowError {
  override readonly name = 'ModelRateLimited';
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

/** A Lambda was invoked with an event that does not match its schema (a wiring bug). */
export class InvalidEvent extends WorkflowError {
  override readonly name = 'InvalidEvent';
}

/** The job or subtask a Lambda was asked to work on does not exist. */
export class JobNotFound extends WorkflowError {
  override readonly name = 'JobNotFound';
}

/** The names the state machine's Retry rules list, grouped by policy (see docs/architecture.md). */
export const THROTTLING_ERRORS = ['ModelRateLimited', 'ModelOverloaded'] as const;
export const TRANSIENT_MODEL_ERRORS = ['ModelUnavailable', 'ModelTimeout'] as const;

const REJECTED_STATUSES = new Set([400, 401, 403, 404, 413, 422]);

function describe(error: InstanceType<typeof Anthropic.APIError>): string {
  // Bedrock names its request id differently from the Anthropic API.
  const id = error.requestID ?? error.headers?.get('x-amzn-requestid');
  const requestId = id ? ` (request ${id})` : '';
  return `${error.message}${requestId}`;
}

type NamedErrorClass = new (message: string, options?: { cause?: unknown }) => WorkflowError;

/**
 * Amazon Bedrock's faults (the `x-amzn-ErrorType` header, which `@anthropic-ai/bedrock-sdk` keeps on
 * the `APIError` it throws) mapped onto the same names as the Anthropic API's, so the state
 * machine's Retry and Catch work unchanged whichever provider a deployment uses.
 */
export const BEDROCK_ERROR_NAMES: Record<string, NamedErrorClass> = {
  ThrottlingException: ModelRateLimited, // 429
  ServiceQuotaExceededException: ModelRateLimited, // tokens or requests per minute: wait it out
  ServiceUnavailableException: ModelOverloaded, // 503: Bedrock's capacity signal, like Anthropic's 529
  ModelNotReadyException: ModelOverloaded, // 429: the model is being loaded; retry with longer waits
  ModelErrorException: ModelUnavailable, // 424: the model failed while processing
  InternalServerException: ModelUnavailable, // 500
  ModelTimeoutException: ModelTimeout, // 408
  ValidationException: ModelRequestRejected, // 400
  AccessDeniedException: ModelRequestRejected, // 403: model access not enabled, or IAM
  UnrecognizedClientException: ModelRequestRejected, // 403: unknown credentials
  InvalidSignatureException: ModelRequestRejected, // 403: bad signature (wrong secret, clock skew)
  ResourceNotFoundException: ModelRequestRejected, // 404: unknown model id in this region
};

/** The Bedrock error type (`ThrottlingException`, …) of an API error, when Bedrock answered. */
export function bedrockErrorType(error: InstanceType<typeof Anthropic.APIError>): string | undefined {
  const header = error.headers?.get('x-amzn-errortype');
  return header ? header.split(':')[0] : undefined;
}

/**
 * Maps an error thrown by `@anthropic-ai/sdk` onto the named errors of the workflow, keeping the
 * original as `cause`. Errors that are not model API errors (bugs, validation) pass through as they are.
 */
export function classifyModelError(error: unknown): unknown {
  if (error instanceof WorkflowError) return error;
  if (error instanceof Anthropic.APIConnectionTimeoutError) {
    return new ModelTimeout(`Model request timed out: ${error.message}`, { cause: error });
  }
  if (error instanceof Anthropic.APIConnectionError) {
    return new ModelUnavailable(`Could not reach the model: ${error.message}`, { cause: error });
  }
  if (error instanceof Anthropic.APIError) {
    const status = error.status;
    const bedrockType = bedrockErrorType(error);
    const bedrockClass = bedrockType ? BEDROCK_ERROR_NAMES[bedrockType] : undefined;
    if (bedrockClass) {
      return new bedrockClass(`Bedrock ${bedrockType} (${status ?? 'no status'}): ${describe(error)}`, {
        cause: error,
      });
    }
    if (status === 429)
      return new ModelRateLimited(`Rate limited (429): ${describe(error)}`, { cause: error });
    if (status === 529) return new ModelOverloaded(`Overloaded (529): ${describe(error)}`, { cause: error });
    if (status === 408)
      return new ModelTimeout(`Request timeout (408): ${describe(error)}`, { cause: error });
    // Bedrock's ModelErrorException, should its type header be missing.
    if (status === 424)
      return new ModelUnavailable(`Model error (424): ${describe(error)}`, { cause: error });
    if (status !== undefined && status >= 500) {
      return new ModelUnavailable(`Model service error (${status}): ${describe(error)}`, { cause: error });
    }
    if (status !== undefined && REJECTED_STATUSES.has(status)) {
      return new ModelRequestRejected(`Request rejected (${status}): ${describe(error)}`, { cause: error });
    }
    if (status === 409) return new ModelUnavailable(`Conflict (409): ${describe(error)}`, { cause: error });
    return new ModelRequestRejected(`Request rejected (${status ?? 'no status'}): ${describe(error)}`, {
      cause: error,
    });
  }
  return error;
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
