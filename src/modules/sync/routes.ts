import QRCode from 'qrcode';
import type { TokenService } from '../../auth/tokens.js';
import type { Clock } from '../../core/clock.js';
import { AppError, isAppError } from '../../core/errors.js';
import type { HttpRequest, HttpRequestHead, HttpResponse, HttpRoute } from '../../protocol/http.js';
import { json } from '../../edge/http.js';
import { httpErrorResponse } from '../../edge/replies.js';
import type { IdentityService } from '../identity/index.js';
import type { SyncSessions } from './sessions.js';

/** Ids in sync paths: identity's and ours are base64url (core/ids.ts). */
const ID = /^[A-Za-z0-9_-]{1,128}$/;
// A Host header the URLs handed out may be built from: a name or an address and a port, nothing else.
const HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
const MAX_DEVICE_BODY_BYTES = 16 * 1024;

/**
 * `http(s)://host:port` as the client reached the gateway: the URLs answered (the websocket
 * URL, the QR codes) point where the page and phone already go.
 */
export function baseUrlOf(headers: Readonly<Record<string, string>>, ssl: boolean): string {
  const host = headers.host ?? '';
  if (!HOST.test(host)) throw new AppError('BAD_REQUEST', 'a Host header (host[:port]) is needed to build sync URLs');
  return `${ssl ? 'https' : 'http'}://${host}`;
}

/** The path's segments after `/v2/sync/users/`, each an id or a fixed word. */
function segments(path: string): string[] {
  const parts = path.split('/').slice(4);
  return parts;
}

function requireId(value: string | undefined, what: string): string {
  if (value === undefined || !ID.test(value)) throw new AppError('BAD_REQUEST', `${what} in the path is not an id`);
  return value;
}

/**
 * Who may open a user's sync session and read its QR codes: that user, with an access token
 * (`login`, OAuth2), or an operator of one of the user's organisations, with an organisation
 * token (client credentials). The page is the user's own signed-in web page; an operator
 * token lets the organisation's back end (or `switchyard sync qr`) show it for them.
 */
export async function authorizeForUser(tokens: TokenService, identity: IdentityService, request: HttpRequestHead, userId: string, now: number): Promise<void> {
  const header = request.headers.authorization;
  const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
  if (!token) throw new AppError('UNAUTHORIZED', 'send Authorization: Bearer <access token of the user, or an organisation token>');
  let forUser: string | undefined;
  let forOrganisation: string | undefined;
  try {
    forUser = (await tokens.verify('access', token, now)).sub;
  } catch {
    try {
      forOrganisation = (await tokens.verify('organisation', token, now)).org;
    } catch {
      throw new AppError('UNAUTHORIZED', 'Token is not valid');
    }
  }
  if (forUser !== undefined && forUser !== userId) throw new AppError('FORBIDDEN', "this access token is another user's");
  if (forUser === undefined && (forOrganisation === undefined || !identity.directory.organisationsOf(userId).includes(forOrganisation))) {
    throw new AppError('FORBIDDEN', "this organisation token is not for one of the user's organisations");
  }
  if (!identity.userActive(userId)) throw new AppError('FORBIDDEN', 'the user is disabled or unknown');
}

function parseJson(request: HttpRequest): unknown {
  try {
    return JSON.parse(request.body.toString('utf8'));
  } catch {
    throw new AppError('BAD_REQUEST', 'body must be JSON');
  }
}

/** Errors as `{error: {code, message}}` with their status; 401 names the scheme, 429 says when to retry. */
function refusal(error: unknown): HttpResponse {
  const headers: Record<string, string> = {};
  if (isAppError(error) && error.code === 'UNAUTHORIZED') headers['www-authenticate'] = 'Bearer';
  const retry = isAppError(error) ? error.details?.retryAfterSeconds : undefined;
  if (typeof retry === 'number') headers['retry-after'] = String(retry);
  return httpErrorResponse(error, headers);
}

const answering = (work: (request: HttpRequest) => Promise<HttpResponse>) => async (request: HttpRequest): Promise<HttpResponse> => {
  try {
    return await work(request);
  } catch (error) {
    return refusal(error);
  }
};

export interface SyncRoutesDependencies {
  sessions: SyncSessions;
  tokens: TokenService;
  identity: IdentityService;
  clock: Clock;
  ssl: boolean;
}

/** The HTTP side of PROTOCOL.md section 7. No route here pauses or acks without the handshake's key and verification id. */
export function syncRoutes({ sessions, tokens, identity, clock, ssl }: SyncRoutesDependencies): HttpRoute[] {
  const wsScheme = ssl ? 'wss' : 'ws';
  const qr = (kind: 'png' | 'svg') =>
    answering(async (request) => {
      const [user, , session] = segments(request.path);
      const userId = requireId(user, 'user id');
      const sessionId = requireId(session, 'session id');
      await authorizeForUser(tokens, identity, request, userId, clock.now());
      const url = sessions.currentQrUrl(userId, sessionId, baseUrlOf(request.headers, ssl));
      // no-store: the code is dead at the next rotation.
      if (kind === 'png') return { status: 200, headers: { 'content-type': 'image/png', 'cache-control': 'no-store' }, body: await QRCode.toBuffer(url, { type: 'png' }) };
      return { status: 200, headers: { 'content-type': 'image/svg+xml', 'cache-control': 'no-store' }, body: await QRCode.toString(url, { type: 'svg' }) };
    });
  return [
    {
      method: 'get',
      path: '/v2/sync/users/:userId',
      handler: answering(async (request) => {
        const userId = requireId(segments(request.path)[0], 'user id');
        await authorizeForUser(tokens, identity, request, userId, clock.now());
        const base = baseUrlOf(request.headers, ssl).replace(/^https?/, wsScheme);
        const { sessionId } = await sessions.create(userId);
        return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, body: `${base}/v2/sync/init/${userId}/${sessionId}` };
      }),
    },
    {
      method: 'post',
      path: '/v2/sync/users/:userId/sessions/:sessionId/handshake',
      maxBodyBytes: MAX_DEVICE_BODY_BYTES,
      handler: answering(async (request) => {
        const [user, , session] = segments(request.path);
        const answer = await sessions.handshake(requireId(user, 'user id'), requireId(session, 'session id'), parseJson(request), request.remoteAddress);
        return json(200, answer, { 'cache-control': 'no-store' });
      }),
    },
    {
      method: 'post',
      path: '/v2/sync/users/:userId/sessions/:sessionId',
      maxBodyBytes: MAX_DEVICE_BODY_BYTES,
      handler: answering(async (request) => {
        const [user, , session] = segments(request.path);
        const answer = await sessions.verify(requireId(user, 'user id'), requireId(session, 'session id'), parseJson(request), request.remoteAddress);
        return json(200, answer, { 'cache-control': 'no-store' });
      }),
    },
    { method: 'get', path: '/v2/sync/users/:userId/sessions/:sessionId/qr.png', handler: qr('png') },
    { method: 'get', path: '/v2/sync/users/:userId/sessions/:sessionId/qr.svg', handler: qr('svg') },
  ];
}
