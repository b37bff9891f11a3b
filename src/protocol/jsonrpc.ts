import type { z } from 'zod';
import { isAppError, type ErrorCode } from '../core/index.js';

/**
 * JSON-RPC 2.0 envelopes (PROTOCOL.md section 6): parsing single and batch requests,
 * notifications, params validation against zod schemas. Transport-free: HTTP lives in the
 * grid module's routes.ts; the mapping from the gateway's stable error codes to JSON-RPC
 * error codes is edge/replies.ts's, handed to the dispatcher as `errorOf`.
 */

export const RpcErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  UNAUTHORIZED: -32001,
  FORBIDDEN: -32003,
  NOT_FOUND: -32004,
  LIMIT_EXCEEDED: -32029,
} as const;

export type RpcId = string | number | null;

export interface RpcErrorObject {
  code: number;
  message: string;
  /** Always carries `code`, the gateway's stable error code, so clients need not parse messages. */
  data?: { code: ErrorCode; [key: string]: unknown };
}

export type RpcResponse =
  | { jsonrpc: '2.0'; id: RpcId; result: unknown }
  | { jsonrpc: '2.0'; id: RpcId; error: RpcErrorObject };

export interface RpcRequest {
  method: string;
  params: unknown;
  /** Absent for a notification: it is run, and answered with nothing. */
  id?: RpcId;
}

export type RpcEntry = { ok: true; request: RpcRequest } | { ok: false; response: RpcResponse };

export type ParsedRpcBody =
  | { kind: 'single'; entry: RpcEntry }
  | { kind: 'batch'; entries: RpcEntry[] }
  /** The body as a whole is unusable (not JSON, empty batch, too many calls): one error answers it. */
  | { kind: 'invalid'; response: RpcResponse };

/** An error a method raises with a JSON-RPC code of its own choosing. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: RpcErrorObject['data'],
  ) {
    super(message);
    this.name = 'RpcError';
  }

  toObject(): RpcErrorObject {
    return { code: this.code, message: this.message, ...(this.data ? { data: this.data } : {}) };
  }
}

export const errorResponse = (id: RpcId, error: RpcErrorObject): RpcResponse => ({ jsonrpc: '2.0', id, error });
export const resultResponse = (id: RpcId, result: unknown): RpcResponse => ({ jsonrpc: '2.0', id, result });

const isValidId = (id: unknown): id is RpcId => id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));

function parseEntry(value: unknown): RpcEntry {
  const invalid = (message: string, id: RpcId = null): RpcEntry => ({
    ok: false,
    response: errorResponse(id, { code: RpcErrorCode.INVALID_REQUEST, message, data: { code: 'BAD_REQUEST' } }),
  });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return invalid('a request must be an object');
  const request = value as Record<string, unknown>;
  // The id is echoed in the error when it is usable, so a batch client can tell which call failed.
  const id = 'id' in request && isValidId(request.id) ? request.id : null;
  if ('id' in request && !isValidId(request.id)) return invalid('id must be a string, a number or null');
  if (request.jsonrpc !== '2.0') return invalid('jsonrpc must be "2.0"', id);
  if (typeof request.method !== 'string' || request.method.length === 0) return invalid('method must be a non-empty string', id);
  if ('params' in request && (request.params === null || typeof request.params !== 'object')) {
    return invalid('params must be an object or an array', id);
  }
  return {
    ok: true,
    request: { method: request.method, params: request.params, ...('id' in request ? { id: request.id as RpcId } : {}) },
  };
}

/** Parses a request body: one call, a batch, or one error for the whole body. */
export function parseRpcBody(body: Buffer | string, maxBatch: number): ParsedRpcBody {
  let value: unknown;
  try {
    value = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return {
      kind: 'invalid',
      response: errorResponse(null, { code: RpcErrorCode.PARSE_ERROR, message: 'parse error: the body is not valid JSON', data: { code: 'BAD_REQUEST' } }),
    };
  }
  if (Array.isArray(value)) {
    if (value.length === 0) {
      return {
        kind: 'invalid',
        response: errorResponse(null, { code: RpcErrorCode.INVALID_REQUEST, message: 'empty batch', data: { code: 'BAD_REQUEST' } }),
      };
    }
    if (value.length > maxBatch) {
      return {
        kind: 'invalid',
        response: errorResponse(null, {
          code: RpcErrorCode.INVALID_REQUEST,
          message: `a batch may hold at most ${maxBatch} calls`,
          data: { code: 'BAD_REQUEST', maxBatch },
        }),
      };
    }
    return { kind: 'batch', entries: value.map(parseEntry) };
  }
  return { kind: 'single', entry: parseEntry(value) };
}

export interface RpcMethod<Context, Params = unknown> {
  readonly name: string;
  /** By-name params only (an object); absent params are validated as `{}`. */
  readonly params: z.ZodType<Params>;
  handler(params: Params, context: Context): unknown;
}

/** Helper that keeps a method's params type tied to its schema. */
export function rpcMethod<Context, Schema extends z.ZodType>(
  name: string,
  params: Schema,
  handler: (params: z.output<Schema>, context: Context) => unknown,
): RpcMethod<Context, z.output<Schema>> {
  return { name, params: params as z.ZodType<z.output<Schema>>, handler };
}

export interface CallOutcome {
  method: string;
  /** `success`, `rejected` (the caller's fault: bad params, auth, limits) or `failure` (ours). */
  outcome: 'success' | 'rejected' | 'failure';
  error?: unknown;
}

export interface DispatchHooks<Context> {
  /** Runs before params validation; throws to refuse (e.g. the token's `sub` lacks the method). */
  authorize?(method: RpcMethod<Context, unknown>, context: Context): void;
  /** Called once per call that reached a method or was refused for one. */
  observe?(call: CallOutcome): void;
}

/** Turns whatever a method threw into the JSON-RPC error object (edge/replies.ts `rpcErrorOf`). */
export type RpcErrorMapper = (error: unknown) => RpcErrorObject;

/** Runs calls against a fixed set of methods. */
export class RpcDispatcher<Context> {
  private readonly methods = new Map<string, RpcMethod<Context, unknown>>();

  constructor(
    // Each method has its own params type; the dispatcher only passes validated params through.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    methods: readonly RpcMethod<Context, any>[],
    private readonly errorOf: RpcErrorMapper,
    private readonly hooks: DispatchHooks<Context> = {},
  ) {
    for (const method of methods) this.methods.set(method.name, method as RpcMethod<Context, unknown>);
  }

  has(name: string): boolean {
    return this.methods.has(name);
  }

  /** Answers one entry; undefined for a notification. */
  async call(entry: RpcEntry, context: Context): Promise<RpcResponse | undefined> {
    if (!entry.ok) return entry.response;
    const { request } = entry;
    const isNotification = !('id' in request);
    const id = request.id ?? null;
    const answer = (response: RpcResponse) => (isNotification ? undefined : response);
    const method = this.methods.get(request.method);
    if (!method) {
      return answer(
        errorResponse(id, {
          code: RpcErrorCode.METHOD_NOT_FOUND,
          message: `method not found: ${request.method.slice(0, 64)}`,
          data: { code: 'UNKNOWN_EVENT' },
        }),
      );
    }
    try {
      this.hooks.authorize?.(method, context);
      const params = this.validate(method, request.params);
      const result = await method.handler(params, context);
      this.hooks.observe?.({ method: method.name, outcome: 'success' });
      return answer(resultResponse(id, result ?? {}));
    } catch (error) {
      const rejected = error instanceof RpcError || (isAppError(error) && error.code !== 'INTERNAL');
      this.hooks.observe?.({ method: method.name, outcome: rejected ? 'rejected' : 'failure', error });
      return answer(errorResponse(id, error instanceof RpcError ? error.toObject() : this.errorOf(error)));
    }
  }

  private validate(method: RpcMethod<Context, unknown>, params: unknown): unknown {
    if (Array.isArray(params)) {
      throw new RpcError(RpcErrorCode.INVALID_PARAMS, 'params must be an object (by name)', { code: 'BAD_REQUEST' });
    }
    const result = method.params.safeParse(params ?? {});
    if (result.success) return result.data;
    const issues = result.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
    const first = issues[0];
    throw new RpcError(
      RpcErrorCode.INVALID_PARAMS,
      `invalid params${first ? `: ${first.path ? `${first.path}: ` : ''}${first.message}` : ''}`,
      { code: 'BAD_REQUEST', issues },
    );
  }
}
