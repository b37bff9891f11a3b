import { isAppError, toPublicError, type ErrorCode } from '../core/index.js';
import { RpcError, RpcErrorCode, type RpcErrorObject } from '../protocol/index.js';
import type { OutboundFrame } from '../protocol/index.js';
import { answerEventOf, type AnyTopic, type TopicClient } from '../runtime/index.js';
import { json, type HttpResponse } from './http.js';

/**
 * The one map from an error to what the client sees (DESIGN.md rule 4): a reply frame on a
 * socket (the generic `error`, a topic's named reject event, or Extream's result shape), an
 * HTTP status, a JSON-RPC error object. Messages of anything but an AppError are replaced
 * by "internal error": internals (SQL, stack traces, paths) never leave the process.
 */

/** HTTP status of each stable code. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  UNKNOWN_EVENT: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  LIMIT_EXCEEDED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

/** JSON-RPC error code of each stable code (PROTOCOL.md section 6). */
export const JSON_RPC_CODE: Record<ErrorCode, number> = {
  BAD_REQUEST: RpcErrorCode.INVALID_PARAMS,
  UNKNOWN_EVENT: RpcErrorCode.METHOD_NOT_FOUND,
  UNAUTHORIZED: RpcErrorCode.UNAUTHORIZED,
  FORBIDDEN: RpcErrorCode.FORBIDDEN,
  NOT_FOUND: RpcErrorCode.NOT_FOUND,
  CONFLICT: RpcErrorCode.INTERNAL_ERROR,
  PAYLOAD_TOO_LARGE: RpcErrorCode.INVALID_REQUEST,
  RATE_LIMITED: RpcErrorCode.LIMIT_EXCEEDED,
  LIMIT_EXCEEDED: RpcErrorCode.LIMIT_EXCEEDED,
  UNAVAILABLE: RpcErrorCode.INTERNAL_ERROR,
  INTERNAL: RpcErrorCode.INTERNAL_ERROR,
};

/** Codes that count toward a connection's bad-frame limit (close 4400): the client's fault. */
export const BAD_FRAME_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['BAD_REQUEST', 'UNKNOWN_EVENT', 'PAYLOAD_TOO_LARGE']);

/**
 * A topic whose refusals are the client's fault too: anonymous sign-in topics (a wrong token
 * or password, or RATE_LIMITED past their in-flight cap) count toward the bad-frame limit, so
 * a flooder is closed with 4400 instead of being answered forever. Elsewhere (rooms, relays)
 * UNAUTHORIZED and RATE_LIMITED stay ordinary answers with their own limits (4029).
 */
export interface RefusalsCountAsBadFrames {
  readonly badFrameRefusals: ReadonlySet<ErrorCode>;
}

/** Whether an error of `code` from `topic` counts toward the connection's bad-frame limit. */
export function countsAsBadFrame(code: ErrorCode, topic: object | undefined): boolean {
  if (BAD_FRAME_CODES.has(code)) return true;
  if (topic === undefined || !('badFrameRefusals' in topic)) return false;
  const refusals = topic.badFrameRefusals;
  return refusals instanceof Set && refusals.has(code);
}

/**
 * The HTTP form of an error: `{error: {code, message}}` with the code's status. `headers`
 * adds to it, e.g. `retry-after` on a 429.
 */
export function httpErrorResponse(error: unknown, headers: Record<string, string> = {}): HttpResponse {
  const { code, message } = toPublicError(error);
  return json(HTTP_STATUS[code], { error: { code, message } }, headers);
}

/**
 * The JSON-RPC error object for anything thrown: AppErrors keep their message and stable
 * code (in `data.code`); anything else is -32603 with a fixed message.
 */
export function rpcErrorOf(error: unknown): RpcErrorObject {
  if (error instanceof RpcError) return error.toObject();
  if (isAppError(error)) {
    return { code: JSON_RPC_CODE[error.code], message: error.message, data: { code: error.code, ...error.details } };
  }
  return { code: RpcErrorCode.INTERNAL_ERROR, message: 'internal error', data: { code: 'INTERNAL' } };
}

/** The generic error frame of PROTOCOL.md section 2. */
export function errorFrame(error: unknown, id: number | undefined): OutboundFrame {
  const { code, message } = toPublicError(error);
  return { event: 'error', data: { code, message }, id };
}

const EXTREAM_REFUSALS: Partial<Record<ErrorCode, { status: number; reason: string }>> = {
  UNAUTHORIZED: { status: 401, reason: 'unauthorized' },
  FORBIDDEN: { status: 403, reason: 'unauthorized' },
};

/**
 * Extream's error answers (PROTOCOL.md section 8): refusals
 * `{status:401|403, error, meta:{permitted:false, reason}}`, everything else
 * `{status, error, meta:{permitted:true, message}, response:{errors}}`.
 */
export function extreamErrorData(error: unknown): Record<string, unknown> {
  const { code, message } = toPublicError(error);
  const refusal = EXTREAM_REFUSALS[code];
  const reason = isAppError(error) && typeof error.details?.reason === 'string' ? error.details.reason : refusal?.reason;
  const requiresLogin = isAppError(error) && typeof error.details?.requiresLogin === 'boolean' ? { requiresLogin: error.details.requiresLogin } : {};
  if (refusal) return { status: refusal.status, error: message, meta: { permitted: false, reason, ...requiresLogin } };
  const errors = isAppError(error) && Array.isArray(error.details?.errors) ? error.details.errors : [{ code, message }];
  const status = code === 'BAD_REQUEST' ? 400 : HTTP_STATUS[code];
  return { status, error: message, meta: { permitted: true, message: code === 'BAD_REQUEST' ? 'bad_request' : code.toLowerCase() }, response: { errors } };
}

/**
 * The frame that answers a failed topic, in the topic's reject style. `data` is the frame's
 * raw data (a named reject carries fields of it back, such as the room).
 */
export function topicErrorFrame(topic: AnyTopic | undefined, error: unknown, id: number | undefined, data: unknown, client: TopicClient): OutboundFrame {
  const style = topic?.reject ?? { kind: 'error' as const };
  switch (style.kind) {
    case 'error':
      return errorFrame(error, id);
    case 'event': {
      const { code, message } = toPublicError(error);
      return { event: style.event, data: { ...style.fields?.(data, client), message, code }, id };
    }
    case 'extream':
      return { event: answerEventOf(topic!.name, data), data: extreamErrorData(error), id };
  }
}
