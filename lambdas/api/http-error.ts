import * as z from 'zod';

export interface ErrorDetail {
  field: string;
  message: string;
}

/** An error with the HTTP status and the `code` of the documented error shape. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const ErrorResponseSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  }),
});

/**
 * A 400 from a failed zod parse: the message names each bad field and says why. `location` names
 * where the value came from (body, query, path, a header) when an issue has no field of its own.
 */
export function validationError(error: z.ZodError, location: string): HttpError {
  const details = error.issues.flatMap((issue): ErrorDetail[] => {
    const field = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        field: field ? `${field}.${key}` : key,
        message: `is not a known ${location} field`,
      }));
    }
    return [{ field: field || location, message: issue.message }];
  });
  const message = details.map((detail) => `${detail.field}: ${detail.message}`).join('; ');
  return new HttpError(400, 'VALIDATION_FAILED', message, details);
}
