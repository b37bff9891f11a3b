import { isAppError } from '../../core/index.js';
import type { GridService } from './grid-service.js';
import { internalDispatcher, publicDispatcher, type InternalRpcContext, type PublicRpcContext } from './rpc-methods.js';
import {
  RpcErrorCode,
  errorResponse,
  parseRpcBody,
  type RpcDispatcher,
  type RpcResponse,
} from '../../protocol/index.js';
import type { VerifiedOdinToken } from '../../auth/index.js';
import type { HttpAuthorization, HttpHandler, HttpRequest, HttpRequestHead, HttpResponse, HttpRoute } from '../../edge/index.js';
import { rpcErrorOf } from '../../edge/index.js';

export interface RpcRouteOptions {
  /** Largest body of POST / and /rpc. */
  maxBodyBytes: number;
  /** Largest body of POST /internal (reports list every room of a server). */
  maxInternalBodyBytes: number;
  /** Most calls in one batch. */
  maxBatch?: number;
}

/**
 * CORS as the ODIN gateway answers it: any origin may call the room API, because it is
 * authorised by a bearer token a page must hold, never by cookies. /internal gets none:
 * browsers have no business there.
 */
const CORS_HEADERS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'Authorization, Content-Type',
  'access-control-allow-methods': 'POST, OPTIONS',
  'access-control-max-age': '600',
};
const NO_STORE = { 'cache-control': 'no-store' };
const JSON_TYPES = new Set(['application/json', 'application/json-rpc']);
const DEFAULT_MAX_BATCH = 100;

/** A route's response headers, with and without a JSON body: built once, not per response. */
interface RouteHeaders {
  bare: Record<string, string>;
  json: Record<string, string>;
}

const routeHeaders = (bare: Record<string, string>): RouteHeaders => ({ bare, json: { 'content-type': 'application/json', ...bare } });

function rpcJson(status: number, body: RpcResponse | RpcResponse[] | undefined, headers: RouteHeaders): HttpResponse {
  if (body === undefined) return { status: 204, headers: headers.bare };
  return { status, headers: headers.json, body: JSON.stringify(body) };
}

/** The usual spelling is answered by one comparison; parameters, case and spaces the long way. */
function isJson(request: HttpRequestHead): boolean {
  const type = request.headers['content-type'];
  return type === 'application/json' || JSON_TYPES.has((type ?? '').split(';', 1)[0]!.trim().toLowerCase());
}

/** HTTP status of a whole-request refusal, from its JSON-RPC error. */
function statusOf(code: number, data: { code?: string } | undefined): number {
  if (code === RpcErrorCode.UNAUTHORIZED) return 401;
  if (code === RpcErrorCode.FORBIDDEN) return 403;
  if (code === RpcErrorCode.PARSE_ERROR || code === RpcErrorCode.INVALID_REQUEST) return 400;
  if (data?.code === 'NOT_FOUND') return 404;
  if (data?.code === 'UNAVAILABLE') return 503;
  return 500;
}

/**
 * Runs a parsed body: one call answers with its response (HTTP 401/403 when the call was
 * refused for auth, 400 for an unusable request, 200 otherwise; 204 for a notification),
 * a batch with the array of responses to its non-notification calls (always 200).
 */
async function dispatch<Context>(
  dispatcher: RpcDispatcher<Context>,
  request: HttpRequest,
  context: Context,
  maxBatch: number,
  headers: RouteHeaders,
): Promise<HttpResponse> {
  const parsed = parseRpcBody(request.body, maxBatch);
  if (parsed.kind === 'invalid') return rpcJson(400, parsed.response, headers);
  if (parsed.kind === 'single') {
    const response = await dispatcher.call(parsed.entry, context);
    if (response === undefined) return rpcJson(204, undefined, headers);
    if ('error' in response) {
      const { code } = response.error;
      if (!parsed.entry.ok) return rpcJson(400, response, headers);
      if (code === RpcErrorCode.UNAUTHORIZED || code === RpcErrorCode.FORBIDDEN) return rpcJson(statusOf(code, undefined), response, headers);
    }
    return rpcJson(200, response, headers);
  }
  const responses = await Promise.all(parsed.entries.map((entry) => dispatcher.call(entry, context)));
  const answered = responses.filter((response): response is RpcResponse => response !== undefined);
  return rpcJson(200, answered.length === 0 ? undefined : answered, headers);
}

/** A refusal of the whole request, before any call ran. */
function refuse(error: unknown, headers: RouteHeaders): HttpResponse {
  const rpcError = rpcErrorOf(error);
  const status = statusOf(rpcError.code, rpcError.data);
  // Its own headers object: the internal route adds to it (Basic), the route's stay as they are.
  const extra: Record<string, string> = status === 401 ? { 'www-authenticate': 'Bearer' } : {};
  return rpcJson(status, errorResponse(null, rpcError), routeHeaders({ ...headers.bare, ...extra }));
}

function unsupportedMediaType(headers: RouteHeaders): HttpResponse {
  return rpcJson(
    415,
    errorResponse(null, {
      code: RpcErrorCode.INVALID_REQUEST,
      message: 'Content-Type must be application/json',
      data: { code: 'BAD_REQUEST' },
    }),
    headers,
  );
}

/** Runs an authorize's decision over a request that already has its body. */
async function settle(decision: HttpAuthorization | Promise<HttpAuthorization>, request: HttpRequest): Promise<HttpResponse> {
  const decided = await decision;
  if (decided === undefined) throw new Error('a grid route was allowed without the handler to run');
  return typeof decided === 'function' ? decided(request) : decided;
}

/** The room API (POST / and /rpc, with CORS preflight) and the SFU grid API (POST /internal). */
export function rpcRoutes(grid: GridService, options: RpcRouteOptions): HttpRoute[] {
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  const publicRpc = publicDispatcher(grid);
  const internalRpc: RpcDispatcher<InternalRpcContext> = internalDispatcher(grid);
  const publicHeaders = routeHeaders({ ...CORS_HEADERS, ...NO_STORE });
  const internalHeaders = routeHeaders(NO_STORE);

  /**
   * The room API's credentials, from the headers alone and before the body is read (issue
   * 16 point 6): 415 and a missing or malformed token are refused at once; a well-formed
   * token is verified while the edge reads the body, and a forged one ends the request
   * there. One token per HTTP request, as ODIN does. A token verified before is checked in
   * this turn, and the handler comes back without a promise.
   */
  const handlerFor =
    (token: VerifiedOdinToken): HttpHandler =>
    (authorized) =>
      dispatch(publicRpc, authorized, { token }, maxBatch, publicHeaders);
  const authorizeRoomApi = (request: HttpRequestHead): HttpAuthorization | Promise<HttpAuthorization> => {
    if (!isJson(request)) return unsupportedMediaType(publicHeaders);
    let verified: VerifiedOdinToken | Promise<VerifiedOdinToken>;
    try {
      verified = grid.authenticate(request.headers.authorization);
    } catch (error) {
      if (!isAppError(error)) throw error;
      return refuse(error, publicHeaders);
    }
    if (!(verified instanceof Promise)) return handlerFor(verified);
    return verified.then(handlerFor, (error: unknown) => {
      if (!isAppError(error)) throw error;
      return refuse(error, publicHeaders);
    });
  };
  const internalApi = (request: HttpRequest): Promise<HttpResponse> =>
    dispatch(internalRpc, request, { remoteAddress: request.remoteAddress }, maxBatch, internalHeaders);

  /** /internal's Bearer or Basic secret is a synchronous check: refused before any body byte. */
  const authorizeInternal = (request: HttpRequestHead): HttpResponse | HttpHandler => {
    try {
      grid.authenticateInternal(request.headers.authorization);
    } catch (error) {
      if (!isAppError(error)) throw error;
      const response = refuse(error, internalHeaders);
      // Basic too: ODIN servers are often configured with user:password in the gateway URL.
      if (response.status === 401) response.headers!['www-authenticate'] = 'Bearer, Basic realm="switchyard-internal"';
      return response;
    }
    if (!isJson(request)) return unsupportedMediaType(internalHeaders);
    return internalApi;
  };

  const roomApi = (request: HttpRequest): Promise<HttpResponse> => settle(authorizeRoomApi(request), request);
  const internal = (request: HttpRequest): Promise<HttpResponse> => settle(authorizeInternal(request), request);
  const preflight = (): HttpResponse => ({ status: 204, headers: publicHeaders.bare });

  return [
    { method: 'options', path: '/', handler: preflight },
    { method: 'options', path: '/rpc', handler: preflight },
    // Each handler is its check and the checked handler in one, for callers without the
    // edge (which runs `authorize` first and then the handler it hands back).
    { method: 'post', path: '/', handler: roomApi, authorize: authorizeRoomApi, maxBodyBytes: options.maxBodyBytes },
    { method: 'post', path: '/rpc', handler: roomApi, authorize: authorizeRoomApi, maxBodyBytes: options.maxBodyBytes },
    { method: 'post', path: '/internal', handler: internal, authorize: authorizeInternal, maxBodyBytes: options.maxInternalBodyBytes },
  ];
}
