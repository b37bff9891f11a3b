/**
 * Stable error codes of the wire protocol (PROTOCOL.md section 2). Clients switch on
 * these strings, so they never change meaning; `message` is for humans only.
 */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'UNKNOWN_EVENT',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'LIMIT_EXCEEDED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error whose code and message may be shown to a client as they are. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}

/** Thrown by the event log when the stream is not at the expected version. */
export class ConflictError extends AppError {
  readonly streamId: string;
  readonly expected: string;
  readonly actual: number;

  constructor(streamId: string, expected: string, actual: number) {
    super('CONFLICT', `stream ${streamId} is at version ${actual}, expected ${expected}`, {
      streamId,
      expected,
      actual,
    });
    this.name = 'ConflictError';
    this.streamId = streamId;
    this.expected = expected;
    this.actual = actual;
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;

/**
 * The one place that turns any thrown value into something safe to send. Unknown errors
 * become INTERNAL with a fixed message: internals (SQL, stack traces, paths) never leave
 * the process.
 */
export function toPublicError(error: unknown): { code: ErrorCode; message: string } {
  if (isAppError(error)) return { code: error.code, message: error.message };
  return { code: 'INTERNAL', message: 'internal error' };
}
