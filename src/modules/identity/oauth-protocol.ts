import { createHash, timingSafeEqual } from 'node:crypto';
import type { OAuthErrorCode } from './domain/index.js';

/**
 * The parts of OAuth2 (RFC 6749) and PKCE (RFC 7636) that are plain parsing and comparing:
 * no I/O, no clock, so they are tested on their own.
 */

/** A refusal in RFC 6749's terms; the routes turn it into a JSON body or a redirect. */
export class OAuthError extends Error {
  /** Already in the log (on a grant stream); otherwise the endpoint records the refusal. */
  readonly recorded: boolean;
  /** The flow or grant a verified token pointed at, for the audit event. */
  readonly audit: { flowId?: string; grantId?: string };
  /** `slow_down`: seconds until a guess is checked again (the 429's `retry-after`). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    /** For the audit event: why, in a fixed vocabulary (the description is for the client). */
    readonly reason: string = error,
    options: { recorded?: boolean; audit?: { flowId?: string; grantId?: string }; retryAfterSeconds?: number } = {},
  ) {
    super(description);
    this.name = 'OAuthError';
    this.recorded = options.recorded ?? false;
    this.audit = options.audit ?? {};
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** RFC 7636 section 4.1: 43-128 characters of the unreserved set. */
export const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
/** An S256 challenge is the base64url (unpadded) SHA-256 of the verifier: always 43 characters. */
export const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** RFC 6749 section 3.3: space-separated tokens of printable ASCII without `"` and `\`. */
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*$/;
const MAX_SCOPE_LENGTH = 1000;
/** The client's `state` comes back verbatim; bounded so a form and a redirect stay small. */
export const MAX_STATE_LENGTH = 1024;
/** Longest client id accepted from a request (registered ids are 16-64 characters). */
const MAX_CLIENT_ID_LENGTH = 128;

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** Whether `verifier` is well formed and hashes to `challenge` (constant-time compare). */
export function pkceMatches(verifier: string, challenge: string): boolean {
  if (!CODE_VERIFIER.test(verifier)) return false;
  const expected = Buffer.from(challenge);
  const actual = Buffer.from(s256(verifier));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** A scope string normalised (tokens deduplicated, in request order), or undefined when malformed. */
export function parseScope(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return '';
  if (value.length > MAX_SCOPE_LENGTH || !SCOPE.test(value)) return undefined;
  return [...new Set(value.split(' '))].join(' ');
}

/** Whether every token of `requested` is in `granted`. */
export function scopeWithin(requested: string, granted: string): boolean {
  const allowed = new Set(granted.split(' ').filter(Boolean));
  return requested.split(' ').filter(Boolean).every((token) => allowed.has(token));
}

/**
 * Request parameters as single values. RFC 6749 section 3.1: a parameter sent twice makes
 * the request invalid (which of two redirect URIs or challenges would count?). Empty values
 * count as absent (section 3.1 as well).
 */
export function singleParameters(params: URLSearchParams): { values: Map<string, string>; duplicate: string | undefined } {
  const values = new Map<string, string>();
  let duplicate: string | undefined;
  for (const [key, value] of params) {
    if (values.has(key)) duplicate ??= key;
    if (value !== '') values.set(key, value);
  }
  return { values, duplicate };
}

/** Client credentials from `Authorization: Basic` (RFC 6749 section 2.3.1: form-encoded, then base64). */
export function parseBasicCredentials(header: string | undefined): { clientId: string; secret: string } | 'absent' | 'malformed' {
  if (header === undefined || header === '') return 'absent';
  const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(header.trim());
  if (!match) return /^Basic\b/i.test(header.trim()) ? 'malformed' : 'absent';
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return 'malformed';
  try {
    const formDecode = (part: string) => decodeURIComponent(part.replace(/\+/g, ' '));
    return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    return 'malformed';
  }
}

/**
 * The redirect URI exactly as registered, with response parameters appended. Built as a
 * string, not through URL, so the registered text (its query, its encoding) is kept byte for
 * byte; registered URIs never have a fragment.
 */
export function redirectWith(redirectUri: string, parameters: Record<string, string | null | undefined>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(parameters)) if (value !== null && value !== undefined) query.append(key, value);
  const separator = redirectUri.includes('?') ? (redirectUri.endsWith('?') || redirectUri.endsWith('&') ? '' : '&') : '?';
  return `${redirectUri}${separator}${query.toString()}`;
}

/** A request's client id for the audit trail: bounded, never trusted. */
export const clientIdForAudit = (clientId: string | undefined): string | null =>
  clientId === undefined ? null : clientId.slice(0, MAX_CLIENT_ID_LENGTH);

export interface RegisteredClient {
  clientId: string;
  organisationId: string;
  name: string;
  public: boolean;
  redirectUris: string[];
}

/** A validated authorization request: what the login form's token carries. */
export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  state: string | null;
  scope: string;
  codeChallenge: string | null;
}

export type AuthorizationRequestCheck =
  | { ok: AuthorizationRequest; client: RegisteredClient }
  /** Before the redirect URI is trusted: shown on the page, never redirected (section 4.1.2.1). */
  | { page: string; reason: string; clientId: string | null }
  /** After it is: back to the client with `error` (and `state`). */
  | { redirect: string; error: OAuthErrorCode; description: string; reason: string; client: RegisteredClient };

/**
 * Checks `GET /auth/oauth2/authorize` parameters in the order RFC 6749 section 4.1.2.1
 * demands: client and redirect URI first (their errors stay on the page, so the endpoint can
 * never redirect anywhere not registered), then the rest (redirected back with `error`).
 */
export function checkAuthorizationRequest(params: URLSearchParams, lookup: (clientId: string) => RegisteredClient | undefined): AuthorizationRequestCheck {
  const { values, duplicate } = singleParameters(params);
  const clientId = values.get('client_id');
  const audit = clientIdForAudit(clientId);
  if (duplicate === 'client_id' || duplicate === 'redirect_uri') {
    return { page: `The request names ${duplicate} more than once.`, reason: `duplicate_${duplicate}`, clientId: audit };
  }
  if (clientId === undefined) return { page: 'The request names no client (client_id is missing).', reason: 'missing_client_id', clientId: null };
  const client = clientId.length <= MAX_CLIENT_ID_LENGTH ? lookup(clientId) : undefined;
  if (!client) return { page: 'The application that sent you here is not registered.', reason: 'unknown_client', clientId: audit };
  const redirectUri = values.get('redirect_uri');
  if (redirectUri === undefined) return { page: 'The request has no redirect_uri.', reason: 'missing_redirect_uri', clientId: audit };
  // Exact string comparison (RFC 9700 section 4.1.3): no prefix, no normalisation.
  if (!client.redirectUris.includes(redirectUri)) {
    return { page: 'The redirect_uri is not registered for this application.', reason: 'redirect_uri_not_registered', clientId: audit };
  }
  const state = values.get('state') ?? null;
  const back = (error: OAuthErrorCode, description: string, reason: string): AuthorizationRequestCheck => ({
    // An oversized state is not echoed: it is the very thing refused.
    redirect: redirectWith(redirectUri, {
      error,
      error_description: description,
      state: state !== null && state.length <= MAX_STATE_LENGTH ? state : null,
    }),
    error,
    description,
    reason,
    client,
  });
  if (duplicate !== undefined) return back('invalid_request', `parameter ${duplicate} is repeated`, `duplicate_${duplicate}`);
  const responseType = values.get('response_type');
  if (responseType === undefined) return back('invalid_request', 'response_type is missing', 'missing_response_type');
  if (responseType !== 'code') return back('unsupported_response_type', 'only response_type=code is supported', 'unsupported_response_type');
  if (state !== null && state.length > MAX_STATE_LENGTH) return back('invalid_request', `state is longer than ${MAX_STATE_LENGTH} characters`, 'state_too_long');
  const challenge = values.get('code_challenge');
  const method = values.get('code_challenge_method');
  if (challenge === undefined) {
    if (client.public) return back('invalid_request', 'public clients must use PKCE (code_challenge with code_challenge_method=S256)', 'pkce_required');
    if (method !== undefined) return back('invalid_request', 'code_challenge_method without code_challenge', 'pkce_malformed');
  } else {
    // RFC 7636 defaults a missing method to `plain`, which is refused: it protects nothing.
    if (method !== 'S256') return back('invalid_request', 'code_challenge_method must be S256', 'pkce_method_not_s256');
    if (!S256_CHALLENGE.test(challenge)) return back('invalid_request', 'code_challenge is not a base64url SHA-256 value', 'pkce_malformed');
  }
  const scope = parseScope(values.get('scope'));
  if (scope === undefined) return back('invalid_scope', 'scope is malformed', 'invalid_scope');
  return { ok: { clientId, redirectUri, state, scope, codeChallenge: challenge ?? null }, client };
}
