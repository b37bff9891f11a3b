import { createHash, randomBytes } from 'node:crypto';
import { LoginPageError, type LoginForm, type LoginOutcome, type OAuthService } from './oauth-service.js';
import { OAuthError, checkAuthorizationRequest, singleParameters } from './oauth-protocol.js';
import { toPublicError } from '../../core/index.js';
import type { HttpRequest, HttpResponse, HttpRoute } from '../../edge/index.js';
import { errorPage, loginPage, mfaPage } from './login-page.js';

export const AUTHORIZE_PATH = '/auth/oauth2/authorize';
export const TOKEN_PATH = '/auth/oauth2/token';

/**
 * The browser cookie the login form is bound to (double submit): the form's signed token
 * names the cookie's hash, so a form fetched by someone else cannot be submitted from a
 * victim's browser (login CSRF). HttpOnly, SameSite=Lax: cross-site POSTs do not carry it.
 */
export const BROWSER_COOKIE = 'switchyard_oauth_browser';
const BROWSER_COOKIE_MAX_AGE_SECONDS = 3600;
const NONCE = /^[A-Za-z0-9_-]{43}$/;
const MAX_FORM_BYTES = 16 * 1024;

/** No framing (clickjacking), no scripts or foreign resources, no referrer, never cached. */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // No form-action: after the POST the browser must follow the redirect to the client.
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
};

/** RFC 6749 section 5.1: token responses and errors must not be cached. */
const TOKEN_HEADERS = { 'content-type': 'application/json;charset=UTF-8', 'cache-control': 'no-store', pragma: 'no-cache' };

function html(status: number, body: string, extra: Record<string, string> = {}): HttpResponse {
  return { status, headers: { ...PAGE_HEADERS, ...extra }, body };
}

function redirect(location: string): HttpResponse {
  return { status: 302, headers: { location, 'cache-control': 'no-store', pragma: 'no-cache', 'referrer-policy': 'no-referrer' } };
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return NONCE.test(value) ? value : undefined;
    }
  }
  return undefined;
}

const isForm = (request: HttpRequest): boolean =>
  (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === 'application/x-www-form-urlencoded';

const bodyParameters = (request: HttpRequest): URLSearchParams => new URLSearchParams(request.body.toString('utf8'));

/**
 * RFC 6749 section 5.2: a JSON error body; invalid_client is 401 with a Basic challenge;
 * `slow_down` (client-secret guesses past their budget) is 429 with `retry-after`.
 */
function tokenError(error: OAuthError): HttpResponse {
  const status = error.error === 'invalid_client' ? 401 : error.error === 'slow_down' ? 429 : error.error === 'server_error' ? 500 : 400;
  const headers: Record<string, string> = { ...TOKEN_HEADERS };
  if (status === 401) headers['www-authenticate'] = 'Basic realm="switchyard", charset="UTF-8"';
  if (status === 429) headers['retry-after'] = String(error.retryAfterSeconds ?? 60);
  return { status, headers, body: JSON.stringify({ error: error.error, error_description: error.description }) };
}

export interface OAuthRouteOptions {
  /** Mark the browser cookie Secure (the gateway serves TLS itself). */
  secureCookies: boolean;
  logger?: { error(details: Record<string, unknown>, message: string): void };
}

/** `GET|POST /auth/oauth2/authorize` (the login page) and `POST /auth/oauth2/token`. */
export function oauthRoutes(oauth: OAuthService, options: OAuthRouteOptions): HttpRoute[] {
  const cookieAttributes = `Path=/auth/oauth2; Max-Age=${BROWSER_COOKIE_MAX_AGE_SECONDS}; HttpOnly; SameSite=Lax${options.secureCookies ? '; Secure' : ''}`;

  const failed = (error: unknown, where: string): HttpResponse => {
    options.logger?.error({ err: error }, `${where} failed`);
    const { code } = toPublicError(error);
    return html(code === 'RATE_LIMITED' ? 429 : 500, errorPage(code === 'RATE_LIMITED' ? 'The server is busy. Try again in a moment.' : 'Something went wrong. Try again.'));
  };

  const show = (form: LoginForm, outcome: LoginOutcome, username: string | undefined): HttpResponse => {
    if ('redirect' in outcome) return redirect(outcome.redirect);
    const common = { action: AUTHORIZE_PATH, clientName: form.client.name, formToken: form.token };
    if ('mfa' in outcome) return html(outcome.status, mfaPage({ ...common, mfaToken: outcome.mfa, error: outcome.message }));
    return html(outcome.status, loginPage({ ...common, username, error: outcome.password }));
  };

  return [
    {
      method: 'get',
      path: AUTHORIZE_PATH,
      handler: async (request) => {
        try {
          const check = checkAuthorizationRequest(new URLSearchParams(request.query), (clientId) => oauth.client(clientId));
          if ('page' in check) {
            await oauth.refuse({ endpoint: 'authorize', grantType: null, clientId: check.clientId, error: 'invalid_request', reason: check.reason }, request.remoteAddress);
            return html(400, errorPage(check.page));
          }
          if ('redirect' in check) {
            await oauth.refuse(
              { endpoint: 'authorize', grantType: null, clientId: check.client.clientId, error: check.error, reason: check.reason },
              request.remoteAddress,
            );
            return redirect(check.redirect);
          }
          // One cookie per browser, reused across tabs: a second login page must not break the first.
          const existing = cookieValue(request.headers.cookie, BROWSER_COOKIE);
          const nonce = existing ?? randomBytes(32).toString('base64url');
          const binding = createHash('sha256').update(nonce).digest('base64url');
          const formToken = await oauth.startAuthorization(check.ok, binding);
          const extra: Record<string, string> = existing ? {} : { 'set-cookie': `${BROWSER_COOKIE}=${nonce}; ${cookieAttributes}` };
          return html(200, loginPage({ action: AUTHORIZE_PATH, clientName: check.client.name, formToken }), extra);
        } catch (error) {
          return failed(error, 'authorization page');
        }
      },
    },
    {
      method: 'post',
      path: AUTHORIZE_PATH,
      maxBodyBytes: MAX_FORM_BYTES,
      handler: async (request) => {
        if (!isForm(request)) return html(415, errorPage('The sign-in form must be sent as application/x-www-form-urlencoded.'));
        const { values } = singleParameters(bodyParameters(request));
        const username = values.get('username');
        try {
          const form = await oauth.openForm(values.get('request'), cookieValue(request.headers.cookie, BROWSER_COOKIE), request.remoteAddress);
          const step = values.get('step') ?? 'password';
          let outcome: LoginOutcome;
          if (step === 'cancel') outcome = await oauth.deny(form, request.remoteAddress);
          else if (step === 'mfa') outcome = await oauth.completeMfa(form, values.get('mfa'), values.get('code'), request.remoteAddress);
          else outcome = await oauth.login(form, username, values.get('password'), request.remoteAddress);
          return show(form, outcome, username);
        } catch (error) {
          if (error instanceof LoginPageError) return html(error.status, errorPage(error.message));
          return failed(error, 'sign-in');
        }
      },
    },
    {
      method: 'post',
      path: TOKEN_PATH,
      maxBodyBytes: MAX_FORM_BYTES,
      handler: async (request) => {
        try {
          if (!isForm(request)) {
            const refusal = new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded', 'not_form_encoded');
            await oauth.refuse({ endpoint: 'token', grantType: null, clientId: null, error: refusal.error, reason: refusal.reason }, request.remoteAddress);
            return tokenError(refusal);
          }
          const response = await oauth.token(bodyParameters(request), request.headers.authorization, request.remoteAddress);
          return { status: 200, headers: TOKEN_HEADERS, body: JSON.stringify(response) };
        } catch (error) {
          if (error instanceof OAuthError) return tokenError(error);
          options.logger?.error({ err: error }, 'token endpoint failed');
          return tokenError(new OAuthError('server_error', 'internal error'));
        }
      },
    },
  ];
}
