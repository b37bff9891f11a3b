import { createHash } from 'node:crypto';
import type { Clock } from '../../core/index.js';
import { AppError } from '../../core/index.js';
import { streamId } from '../../core/index.js';
import type { CommandResult } from '../../runtime/index.js';
import { redirectWith, type AuthorizationRequest, type RegisteredClient } from './oauth-protocol.js';
import type { TokenClaims } from '../../auth/index.js';
import { OAUTH_CATEGORIES, type OAuthFlowCommand, type OAuthLoginFailureReason } from './domain/index.js';
import type { IdentityService, RequestOrigin } from './identity-service.js';
import type { OAuthClients } from './oauth-clients.js';
import { CODE_TTL_SECONDS, LOGIN_FORM_TTL_SECONDS, MFA_STEP_TTL_SECONDS, unexpired } from './oauth-lifetimes.js';
import type { OAuthStreams } from './oauth-streams.js';

/** A refusal on the login page itself (the request cannot be trusted enough to redirect). */
export class LoginPageError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'LoginPageError';
  }
}

/** A login form whose token verified: the authorization request it carries, and its flow. */
export interface LoginForm {
  flowId: string;
  /** The form's `request` field as the page carries it: the token, and the state beside it. */
  token: string;
  request: AuthorizationRequest;
  client: RegisteredClient;
}

/** What the login page shows next. */
export type LoginOutcome =
  | { redirect: string }
  | { mfa: string; message?: string; status: number }
  | { password: string; status: number };

const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');

/**
 * The client's `state` travels beside the form's token, not inside it: `<token>~<state as
 * base64url UTF-8>`, the token naming the state's hash. Inside, a long non-ASCII state (1,024
 * CJK characters: 3 KiB of UTF-8, 4 KiB once base64url-encoded) pushed the token past the
 * longest one the verifier reads, and the form could never be submitted. Beside it, every
 * state the authorize endpoint accepts fits the form's body limit (16 KiB), and base64url
 * keeps a browser from rewriting newlines in it. `~` is in no token.
 */
const STATE_SEPARATOR = '~';

const LOGIN_MESSAGES: Record<OAuthLoginFailureReason, string> = {
  unknown_user_or_password: 'Unknown user or wrong password.',
  // Like a wrong password: the page must not confirm that the account exists.
  disabled: 'Unknown user or wrong password.',
  rate_limited: 'Too many sign-in attempts. Wait a minute and try again.',
  browser_mismatch: 'This sign-in form was not opened in this browser. Return to the application and start again.',
};

/**
 * The authorization-code flow behind the login page (RFC 6749 section 4.1 with PKCE): the
 * form's token, the password and TOTP steps, the user's cancel, and the code at the end.
 * One flow stream per form: the `oauth` domain lets each issue one code.
 */
export class AuthorizationCodeFlow {
  constructor(
    private readonly identity: IdentityService,
    private readonly clients: OAuthClients,
    private readonly streams: OAuthStreams,
    private readonly clock: Clock,
  ) {}


  /** The login form's token for a validated request, bound to the browser by `browserBinding` (a cookie's hash). */
  async startAuthorization(request: AuthorizationRequest, browserBinding: string): Promise<string> {
    const issued = await this.identity.tokens.issue('login', {
      subject: request.clientId,
      ttlSeconds: LOGIN_FORM_TTL_SECONDS,
      claims: {
        ru: request.redirectUri,
        sc: request.scope,
        bnd: browserBinding,
        ...(request.state === null ? {} : { sth: sha256(request.state) }),
        ...(request.codeChallenge === null ? {} : { cc: request.codeChallenge }),
      },
      now: this.clock.now(),
    });
    return request.state === null ? issued.token : `${issued.token}${STATE_SEPARATOR}${Buffer.from(request.state, 'utf8').toString('base64url')}`;
  }

  /**
   * The form a POST carries, checked: its token (signature, lifetime), the browser it was
   * opened in (the cookie whose hash it names: a form fetched elsewhere cannot be submitted
   * from a victim's browser), and its flow not finished yet.
   */
  async openForm(formValue: string | undefined, browserNonce: string | undefined, remoteAddress: string): Promise<LoginForm> {
    const now = this.clock.now();
    const separator = formValue?.indexOf(STATE_SEPARATOR) ?? -1;
    const token = separator === -1 ? formValue : formValue!.slice(0, separator);
    const state = separator === -1 ? null : Buffer.from(formValue!.slice(separator + 1), 'base64url').toString('utf8');
    let claims: TokenClaims;
    try {
      claims = await this.identity.tokens.verify('login', token, now);
      if (!unexpired(claims, now)) throw new AppError('UNAUTHORIZED', 'expired');
      // The state must be the one the token names (a changed one is a forged form); `st`
      // is the state inside the token, as forms issued before the change carry it.
      const named = typeof claims.sth === 'string' ? claims.sth : null;
      if (named === null ? state !== null : state === null || sha256(state) !== named) throw new AppError('UNAUTHORIZED', 'state');
    } catch {
      await this.streams.refuse({ endpoint: 'authorize', grantType: null, clientId: null, error: 'invalid_request', reason: 'invalid_form_token' }, remoteAddress);
      throw new LoginPageError('This sign-in page has expired. Return to the application and sign in again.', 400);
    }
    const flowId = claims.jti;
    const client = this.clients.client(claims.sub);
    const redirectUri = claims.ru;
    if (!client || typeof redirectUri !== 'string' || !client.redirectUris.includes(redirectUri)) {
      throw new LoginPageError('The application that sent you here is not registered.', 400);
    }
    const form: LoginForm = {
      flowId,
      token: formValue!,
      client,
      request: {
        clientId: client.clientId,
        redirectUri,
        state: state ?? (typeof claims.st === 'string' ? claims.st : null),
        scope: typeof claims.sc === 'string' ? claims.sc : '',
        codeChallenge: typeof claims.cc === 'string' ? claims.cc : null,
      },
    };
    if (browserNonce === undefined || sha256(browserNonce) !== claims.bnd) {
      await this.recordLoginFailure(form, '', 'browser_mismatch', remoteAddress);
      throw new LoginPageError(LOGIN_MESSAGES.browser_mismatch, 403);
    }
    const flow = this.streams.peek(streamId(OAUTH_CATEGORIES.flow, flowId));
    if (flow.status === 'done') throw new LoginPageError('This sign-in is already finished. Return to the application and start again.', 409);
    return form;
  }

  /** The password step: the TOTP step next when the user has MFA, else the code. */
  async login(form: LoginForm, username: string | undefined, password: string | undefined, remoteAddress: string): Promise<LoginOutcome> {
    const origin = this.origin(remoteAddress);
    let verified;
    try {
      verified = await this.identity.verifyPassword(username ?? '', password ?? '', origin);
    } catch (error) {
      const code = error instanceof AppError ? error.code : 'INTERNAL';
      if (code === 'BAD_REQUEST') return { password: 'Enter your username and password.', status: 400 };
      const reason: OAuthLoginFailureReason | undefined =
        code === 'RATE_LIMITED' ? 'rate_limited' : code === 'FORBIDDEN' ? 'disabled' : code === 'UNAUTHORIZED' ? 'unknown_user_or_password' : undefined;
      if (reason === undefined) throw error;
      await this.recordLoginFailure(form, username ?? '', reason, remoteAddress);
      return { password: LOGIN_MESSAGES[reason], status: reason === 'rate_limited' ? 429 : 401 };
    }
    const organisationId = this.identity.organisationFor(verified.userId, form.client.organisationId);
    if (!verified.mfaRequired) return this.issueCode(form, verified.userId, organisationId, 'password', remoteAddress);
    await this.flow(form, {
      type: 'ChallengeOAuthMfa',
      flowId: form.flowId,
      clientId: form.client.clientId,
      userId: verified.userId,
      remoteAddress,
    }, `user:${verified.userId}`);
    const mfa = await this.identity.tokens.issue('mfa', {
      subject: verified.userId,
      ttlSeconds: MFA_STEP_TTL_SECONDS,
      claims: { flw: form.flowId, ...(organisationId === null ? {} : { org: organisationId }) },
      now: origin.now,
    });
    return { mfa: mfa.token, status: 200 };
  }

  /** The TOTP step, carried by the `mfa` token the password step handed out for this flow. */
  async completeMfa(form: LoginForm, mfaToken: string | undefined, code: string | undefined, remoteAddress: string): Promise<LoginOutcome> {
    const origin = this.origin(remoteAddress);
    let claims: TokenClaims;
    try {
      claims = await this.identity.tokens.verify('mfa', mfaToken, origin.now);
      if (!unexpired(claims, origin.now) || claims.flw !== form.flowId) throw new AppError('UNAUTHORIZED', 'not this flow');
    } catch {
      return { password: 'The verification step has expired. Sign in again.', status: 400 };
    }
    const userId = claims.sub;
    const organisationId = typeof claims.org === 'string' ? claims.org : null;
    let result;
    try {
      result = await this.identity.checkMfa(userId, code ?? '', origin);
    } catch (error) {
      // MFA removed since the password step: start over.
      if (error instanceof AppError && error.code === 'BAD_REQUEST') return { password: 'Sign in again.', status: 400 };
      throw error;
    }
    if (!result.passed) {
      const reason = result.reason ?? 'invalid';
      await this.flow(form, { type: 'RecordOAuthMfaFailure', flowId: form.flowId, clientId: form.client.clientId, userId, reason, remoteAddress }, `user:${userId}`);
      const message =
        reason === 'locked' ? 'Two-factor authentication is locked after too many wrong codes. Try again later.' : 'Invalid or already used code.';
      return { mfa: mfaToken!, message, status: reason === 'locked' ? 403 : 401 };
    }
    return this.issueCode(form, userId, organisationId, 'mfa', remoteAddress);
  }

  /** The user cancelled: back to the client with `access_denied` (RFC 6749 section 4.1.2.1). */
  async deny(form: LoginForm, remoteAddress: string): Promise<LoginOutcome> {
    await this.flow(form, { type: 'DenyAuthorization', flowId: form.flowId, clientId: form.client.clientId, remoteAddress }, `address:${remoteAddress}`);
    return {
      redirect: redirectWith(form.request.redirectUri, {
        error: 'access_denied',
        error_description: 'the user cancelled the sign-in',
        state: form.request.state,
      }),
    };
  }

  private async issueCode(
    form: LoginForm,
    userId: string,
    organisationId: string | null,
    method: 'password' | 'mfa',
    remoteAddress: string,
  ): Promise<LoginOutcome> {
    const now = this.clock.now();
    const { request } = form;
    const code = await this.identity.tokens.issue('code', {
      subject: userId,
      ttlSeconds: CODE_TTL_SECONDS,
      claims: {
        cid: request.clientId,
        ru: request.redirectUri,
        sc: request.scope,
        ...(organisationId === null ? {} : { org: organisationId }),
        ...(request.codeChallenge === null ? {} : { cc: request.codeChallenge }),
      },
      now,
    });
    // The code leaves only once its issue is in the log.
    await this.flow(form, {
      type: 'IssueAuthorizationCode',
      flowId: form.flowId,
      clientId: request.clientId,
      userId,
      organisationId,
      codeId: code.jti,
      redirectUri: request.redirectUri,
      scope: request.scope,
      pkce: request.codeChallenge !== null,
      method,
      mfaRequired: method === 'mfa',
      expiresAt: code.expiresAt!,
      remoteAddress,
    }, `user:${userId}`);
    return { redirect: redirectWith(request.redirectUri, { code: code.token, state: request.state }) };
  }

  private async recordLoginFailure(form: LoginForm, username: string, reason: OAuthLoginFailureReason, remoteAddress: string): Promise<void> {
    await this.flow(form, {
      type: 'RecordOAuthLoginFailure',
      flowId: form.flowId,
      clientId: form.client.clientId,
      username: username.slice(0, 64),
      reason,
      remoteAddress,
    }, `address:${remoteAddress}`);
  }

  private async flow(form: LoginForm, command: OAuthFlowCommand, actor: string): Promise<CommandResult> {
    try {
      return await this.streams.run(streamId(OAUTH_CATEGORIES.flow, form.flowId), command, actor);
    } catch (error) {
      // The flow finished meanwhile (a second tab, a double submit): the page says so.
      if (error instanceof AppError && (error.code === 'CONFLICT' || error.code === 'FORBIDDEN')) throw new LoginPageError(error.message, 409);
      throw error;
    }
  }

  private origin(remoteAddress: string): RequestOrigin {
    return { connectionId: null, remoteAddress, now: this.clock.now() };
  }
}
