import { z } from 'zod';

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
export type ErrorResponse = z.infer<typeof ErrorResponseSchema>;

/** A 400 from a failed zod parse: the message names each bad field and says why. */
export function validationError(error: z.ZodError, prefix?: string): HttpError {
  const details = error.issues.map((issue) => ({
    field: [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || prefix || 'body',
    message: issue.message,
  }));
  const message = details.map((detail) => `${detail.field}: ${detail.message}`).join('; ');
  return new HttpError(400, 'VALIDATION_FAILED', message, details);
}
