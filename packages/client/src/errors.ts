import { ERROR_CODES, type ErrorCode } from '../../../src/core/errors.js';

/**
 * What a request or command rejects with. `code` is one of the server's stable codes
 * (PROTOCOL.md section 2), or one the SDK itself gives:
 * - `DISCONNECTED`: the socket went away after the request was sent; it may or may not have
 *   been carried out (for a command, `receipt` says it was committed);
 * - `TIMEOUT`: no answer within `timeoutMs` (counted from the call, queue time included);
 * - `QUEUE_FULL`: the client was offline and `maxQueued` requests were already waiting;
 * - `CLOSED`: the client was closed (by `close()`, a close code that forbids reconnecting,
 *   or `maxAttempts` spent) and will not send it.
 */
export type ClientErrorCode = 'DISCONNECTED' | 'TIMEOUT' | 'QUEUE_FULL' | 'CLOSED';
export type SwitchyardErrorCode = ErrorCode | ClientErrorCode;

/** An Extream receipt: the change is in the log at `messageId` (section 8). */
export interface Receipt {
  status: 202;
  topic: string;
  messageId: number;
}

export class SwitchyardError extends Error {
  readonly code: SwitchyardErrorCode;
  /** The event that answered (`error`, `room-join-reject`, a command's name...); undefined for the SDK's own codes. */
  readonly event: string | undefined;
  /** The answer's data as the server sent it (an Extream result body with `status`, `meta`, `response.errors`). */
  readonly data: unknown;
  /** For a command cut or refused after its receipt: the change was committed. */
  readonly receipt: Receipt | undefined;

  constructor(code: SwitchyardErrorCode, message: string, extra: { event?: string; data?: unknown; receipt?: Receipt | undefined } = {}) {
    super(message);
    this.name = 'SwitchyardError';
    this.code = code;
    this.event = extra.event;
    this.data = extra.data;
    this.receipt = extra.receipt;
  }
}

export const isSwitchyardError = (error: unknown): error is SwitchyardError => error instanceof SwitchyardError;

const SERVER_CODES: ReadonlySet<string> = new Set(ERROR_CODES);
const isServerCode = (value: unknown): value is ErrorCode => typeof value === 'string' && SERVER_CODES.has(value);

/** A server code from an answer's `code` field; anything unexpected reads as INTERNAL. */
export function serverCode(value: unknown): ErrorCode {
  return isServerCode(value) ? value : 'INTERNAL';
}

/** Extream statuses (edge/replies.ts HTTP_STATUS) back to the stable code, where `meta.message` does not name it. */
const CODE_OF_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/**
 * The error an Extream result with status 400 or above stands for. Non-refusals name their
 * code in lower case in `meta.message` (`not_found`, `limit_exceeded`); refusals (401/403)
 * carry `meta.reason` instead, and their status decides.
 */
export function commandError(event: string, body: Record<string, unknown>, receipt: Receipt | undefined): SwitchyardError {
  const status = typeof body.status === 'number' ? body.status : 500;
  const meta: unknown = body.meta;
  const named = meta !== null && typeof meta === 'object' && 'message' in meta && typeof meta.message === 'string' ? meta.message.toUpperCase() : undefined;
  const code = isServerCode(named) ? named : (CODE_OF_STATUS[status] ?? 'INTERNAL');
  const message = typeof body.error === 'string' ? body.error : `${event} failed with status ${status}`;
  return new SwitchyardError(code, message, { event, data: body, receipt });
}
