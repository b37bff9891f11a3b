import { createHash } from 'node:crypto';
import type { Config } from '../../app/config.js';
import type { Clock } from '../../core/clock.js';
import { AppError, toPublicError } from '../../core/errors.js';
import { newId, streamId } from '../../core/ids.js';
import {
  OAUTH_CATEGORIES,
  type OAuthErrorCode,
  type OAuthFlowCommand,
  type OAuthGrantCommand,
  type OAuthLoginFailureReason,
  type OAuthRequestCommand,
} from './domain/index.js';
import type { ActorRuntime, CommandResult } from '../../runtime/actor-runtime.js';
import type { IdentityService, RequestOrigin } from './identity-service.js';
import {
  OAuthError,
  clientIdForAudit,
  parseBasicCredentials,
  parseScope,
  pkceMatches,
  redirectWith,
  scopeWithin,
  singleParameters,
  type AuthorizationRequest,
  type RegisteredClient,
} from '../../auth/oauth-protocol.js';
import type { TokenClaims } from '../../auth/tokens.js';

/** How long a login page may sit open before its form is refused. */
export const LOGIN_FORM_TTL_SECONDS = 600;
/** How long after the password the TOTP code may come. */
export const MFA_STEP_TTL_SECONDS = 300;
/** RFC 6749 section 4.1.2 recommends at most ten minutes; a minute is plenty for a redirect. */
export const CODE_TTL_SECONDS = 60;

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

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
  token: string;
  request: AuthorizationRequest;
  client: RegisteredClient;
}

/** What the login page shows next. */
export type LoginOutcome =
  | { redirect: string }
  | { mfa: string; message?: string; status: number }
  | { password: string; status: number };

interface Logger {
  warn(details: Record<string, unknown>, message: string): void;
}

const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');

/** Strictly before `exp`: the clock tolerance TokenService allows is for other issuers' clocks, not our own short lifetimes. */
const unexpired = (claims: TokenClaims, now: number): boolean => typeof claims.exp === 'number' && claims.exp * 1000 > now;

const LOGIN_MESSAGES: Record<OAuthLoginFailureReason, string> = {
  unknown_user_or_password: 'Unknown user or wrong password.',
  // Like a wrong password: the page must not confirm that the account exists.
  disabled: 'Unknown user or wrong password.',
  rate_limited: 'Too many sign-in attempts. Wait a minute and try again.',
  browser_mismatch: 'This sign-in form was not opened in this browser. Return to the application and start again.',
};

/**
 * The OAuth2 authorization server (RFC 6749 with PKCE, RFC 7636): the login page's steps
 * and the token endpoint's grants. Secrets are checked here and by IdentityService; what
 * follows (one code per form, one redemption per code, refresh rotation) is decided by the
 * `oauth` domain, and every issue and refusal lands in the log before the answer goes out.
 */
export class OAuthService {
  /** Commands in flight per oauth stream (see `run`). */
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly identity: IdentityService,
    private readonly runtime: ActorRuntime,
    private readonly config: Config,
    private readonly clock: Clock,
    private readonly logger?: Logger,
  ) {}

  private get tokens() {
    return this.identity.tokens;
  }

  /** A registered client, from the read model (an unknown id creates no actor). */
  client(clientId: string): RegisteredClient | undefined {
    const row = this.identity.directory.client(clientId) as
      | { client_id: string; organisation_id: string; name: string; public: number; redirect_uris: string }
      | undefined;
    if (!row) return undefined;
    return {
      clientId: row.client_id,
      organisationId: row.organisation_id,
      name: row.name,
      public: row.public === 1,
      redirectUris: JSON.parse(row.redirect_uris) as string[],
    };
  }

  /**
   * Registers the clients of the `oauthClients` config key that are not registered yet. A
   * registered client is never changed: a config entry that differs from it is reported.
   */
  async registerConfiguredClients(): Promise<{ registered: string[]; differing: string[] }> {
    const registered: string[] = [];
    const differing: string[] = [];
    for (const entry of this.config.oauthClients) {
      const existing = this.client(entry.id);
      const organisation = this.identity.directory.organisationByIdOrName(entry.organisation);
      if (!existing) {
        if (!organisation) {
          throw new Error(`oauthClients: client ${entry.id} names organisation "${entry.organisation}", which does not exist (switchyard orgs add)`);
        }
        try {
          await this.identity.registerClient({
            organisation: organisation.organisation_id,
            name: entry.name,
            redirectUris: entry.redirectUris,
            public: entry.public,
            by: 'config',
            clientId: entry.id,
            ...(entry.secret === undefined ? {} : { clientSecret: entry.secret }),
          });
        } catch (error) {
          throw new Error(`oauthClients: cannot register client ${entry.id}: ${toPublicError(error).message}`);
        }
        registered.push(entry.id);
        continue;
      }
      let sameSecret = existing.public;
      if (!existing.public && entry.secret !== undefined) {
        try {
          this.identity.authenticateClient(entry.id, entry.secret);
          sameSecret = true;
        } catch {
          sameSecret = false;
        }
      }
      const same =
        existing.organisationId === organisation?.organisation_id &&
        existing.public === entry.public &&
        sameSecret &&
        JSON.stringify(existing.redirectUris) === JSON.stringify(entry.redirectUris);
      if (!same) {
        differing.push(entry.id);
        this.logger?.warn({ clientId: entry.id }, 'oauthClients: this client is registered with other settings; the registered ones stay in force');
      }
    }
    return { registered, differing };
  }

  // ---- the login page ----

  /** The login form's token for a validated request, bound to the browser by `browserBinding` (a cookie's hash). */
  async startAuthorization(request: AuthorizationRequest, browserBinding: string): Promise<string> {
    const issued = await this.tokens.issue('login', {
      subject: request.clientId,
      ttlSeconds: LOGIN_FORM_TTL_SECONDS,
      claims: {
        ru: request.redirectUri,
        sc: request.scope,
        bnd: browserBinding,
        ...(request.state === null ? {} : { st: request.state }),
        ...(request.codeChallenge === null ? {} : { cc: request.codeChallenge }),
      },
      now: this.clock.now(),
    });
    return issued.token;
  }

  /**
   * The form a POST carries, checked: its token (signature, lifetime), the browser it was
   * opened in (the cookie whose hash it names: a form fetched elsewhere cannot be submitted
   * from a victim's browser), and its flow not finished yet.
   */
  async openForm(token: string | undefined, browserNonce: string | undefined, remoteAddress: string): Promise<LoginForm> {
    const now = this.clock.now();
    let claims: TokenClaims;
    try {
      claims = await this.tokens.verify('login', token, now);
      if (!unexpired(claims, now)) throw new AppError('UNAUTHORIZED', 'expired');
    } catch {
      await this.refuse({ endpoint: 'authorize', grantType: null, clientId: null, error: 'invalid_request', reason: 'invalid_form_token' }, remoteAddress);
      throw new LoginPageError('This sign-in page has expired. Return to the application and sign in again.', 400);
    }
    const flowId = claims.jti;
    const client = this.client(claims.sub);
    const redirectUri = claims.ru;
    if (!client || typeof redirectUri !== 'string' || !client.redirectUris.includes(redirectUri)) {
      throw new LoginPageError('The application that sent you here is not registered.', 400);
    }
    const form: LoginForm = {
      flowId,
      token: token!,
      client,
      request: {
        clientId: client.clientId,
        redirectUri,
        state: typeof claims.st === 'string' ? claims.st : null,
        scope: typeof claims.sc === 'string' ? claims.sc : '',
        codeChallenge: typeof claims.cc === 'string' ? claims.cc : null,
      },
    };
    if (browserNonce === undefined || sha256(browserNonce) !== claims.bnd) {
      await this.recordLoginFailure(form, '', 'browser_mismatch', remoteAddress);
      throw new LoginPageError(LOGIN_MESSAGES.browser_mismatch, 403);
    }
    const flow = this.peek(streamId(OAUTH_CATEGORIES.flow, flowId));
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
    const mfa = await this.tokens.issue('mfa', {
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
      claims = await this.tokens.verify('mfa', mfaToken, origin.now);
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
    const code = await this.tokens.issue('code', {
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
      return await this.run(streamId(OAUTH_CATEGORIES.flow, form.flowId), command, actor);
    } catch (error) {
      // The flow finished meanwhile (a second tab, a double submit): the page says so.
      if (error instanceof AppError && (error.code === 'CONFLICT' || error.code === 'FORBIDDEN')) throw new LoginPageError(error.message, 409);
      throw error;
    }
  }

  // ---- the token endpoint ----

  /** `POST /auth/oauth2/token`: authenticates the client, then runs its grant. Refusals are recorded, then thrown. */
  async token(params: URLSearchParams, authorization: string | undefined, remoteAddress: string): Promise<TokenResponse> {
    const { values, duplicate } = singleParameters(params);
    const grantType = values.get('grant_type') ?? null;
    let clientId: string | null = clientIdForAudit(values.get('client_id'));
    try {
      if (duplicate !== undefined) throw new OAuthError('invalid_request', `parameter ${duplicate} is repeated`, 'duplicate_parameter');
      const client = this.authenticateClient(authorization, values);
      clientId = client.clientId;
      switch (grantType) {
        case null:
          throw new OAuthError('invalid_request', 'grant_type is missing', 'missing_grant_type');
        case 'authorization_code':
          return await this.redeemCode(client, values, remoteAddress);
        case 'refresh_token':
          return await this.refresh(client, values, remoteAddress);
        case 'client_credentials':
          return await this.clientCredentials(client, values, remoteAddress);
        default:
          throw new OAuthError('unsupported_grant_type', 'supported: authorization_code, refresh_token, client_credentials', 'unsupported_grant_type');
      }
    } catch (error) {
      if (error instanceof OAuthError) {
        if (!error.recorded) {
          await this.refuse(
            { endpoint: 'token', grantType: grantType?.slice(0, 64) ?? null, clientId, error: error.error, reason: error.reason, ...error.audit },
            remoteAddress,
          );
        }
      }
      throw error;
    }
  }

  /**
   * Client authentication (RFC 6749 section 2.3.1): HTTP Basic or `client_secret` in the body,
   * never both; a public client names itself with `client_id` and has no secret.
   */
  authenticateClient(authorization: string | undefined, values: Map<string, string>): RegisteredClient {
    const basic = parseBasicCredentials(authorization);
    if (basic === 'malformed') throw new OAuthError('invalid_client', 'malformed Basic credentials', 'malformed_basic');
    const bodyId = values.get('client_id');
    const bodySecret = values.get('client_secret');
    if (basic !== 'absent' && bodySecret !== undefined) throw new OAuthError('invalid_request', 'use one client authentication method, not two', 'two_auth_methods');
    if (basic !== 'absent' && bodyId !== undefined && bodyId !== basic.clientId) {
      throw new OAuthError('invalid_client', 'client_id does not match the authenticated client', 'client_id_mismatch');
    }
    const clientId = basic === 'absent' ? bodyId : basic.clientId;
    const secret = basic === 'absent' ? bodySecret : basic.secret;
    if (clientId === undefined) throw new OAuthError('invalid_client', 'client authentication is required', 'no_client');
    const client = clientId.length <= 128 ? this.client(clientId) : undefined;
    if (!client) throw new OAuthError('invalid_client', 'client authentication failed', 'unknown_client');
    if (client.public) {
      if (secret !== undefined) throw new OAuthError('invalid_client', 'public clients have no secret', 'public_client_with_secret');
      return client;
    }
    if (secret === undefined) throw new OAuthError('invalid_client', 'client authentication is required', 'no_client_secret');
    try {
      this.identity.authenticateClient(clientId, secret);
    } catch {
      throw new OAuthError('invalid_client', 'client authentication failed', 'wrong_client_secret');
    }
    return client;
  }

  private async redeemCode(client: RegisteredClient, values: Map<string, string>, remoteAddress: string): Promise<TokenResponse> {
    const now = this.clock.now();
    const code = values.get('code');
    const redirectUri = values.get('redirect_uri');
    const verifier = values.get('code_verifier');
    if (code === undefined) throw new OAuthError('invalid_request', 'code is missing', 'missing_code');
    if (redirectUri === undefined) throw new OAuthError('invalid_request', 'redirect_uri is missing', 'missing_redirect_uri');
    let claims: TokenClaims;
    try {
      claims = await this.tokens.verify('code', code, now);
    } catch {
      throw new OAuthError('invalid_grant', 'the authorization code is not valid', 'invalid_code');
    }
    const grantId = claims.jti;
    const refuse = (description: string, reason: string) => new OAuthError('invalid_grant', description, reason, { audit: { grantId } });
    if (!unexpired(claims, now)) throw refuse('the authorization code has expired', 'code_expired');
    if (claims.cid !== client.clientId) throw refuse('the authorization code was issued to another client', 'wrong_client');
    if (claims.ru !== redirectUri) throw refuse('redirect_uri differs from the authorization request', 'redirect_uri_mismatch');
    if (typeof claims.cc === 'string') {
      if (verifier === undefined) throw refuse('code_verifier is missing', 'pkce_verifier_missing');
      if (!pkceMatches(verifier, claims.cc)) throw refuse('code_verifier does not match the code_challenge', 'pkce_mismatch');
    } else if (verifier !== undefined || client.public) {
      // A verifier for a code issued without a challenge is a PKCE downgrade (RFC 9700 section 2.1.1).
      throw refuse('the authorization code was issued without PKCE', 'pkce_downgrade');
    }
    const userId = claims.sub;
    if (!this.identity.userActive(userId)) throw refuse('the grant is no longer valid', 'user_disabled');
    const organisationId = typeof claims.org === 'string' ? claims.org : null;
    const scope = typeof claims.sc === 'string' ? claims.sc : '';
    const tokens = await this.userTokens(client.clientId, userId, organisationId, scope, grantId, now);
    const command: OAuthGrantCommand = {
      type: 'RedeemAuthorizationCode',
      grantId,
      clientId: client.clientId,
      userId,
      organisationId,
      scope,
      accessTokenId: tokens.access.jti,
      accessExpiresAt: tokens.access.expiresAt!,
      refreshTokenId: tokens.refresh.jti,
      refreshExpiresAt: tokens.refresh.expiresAt!,
      remoteAddress,
      now,
    };
    // The grant stream is empty until this append (expected version 0, i.e. no_stream): of
    // any number of concurrent or later redemptions, in this process or another, one commits.
    const result = await this.run(streamId(OAUTH_CATEGORIES.grant, grantId), command, `client:${client.clientId}`);
    if (result.events[0]?.type !== 'AuthorizationCodeRedeemed') {
      throw new OAuthError('invalid_grant', 'the authorization code was already used', 'code_reuse', { recorded: true });
    }
    return this.tokenResponse(tokens, scope);
  }

  private async refresh(client: RegisteredClient, values: Map<string, string>, remoteAddress: string): Promise<TokenResponse> {
    const now = this.clock.now();
    const presented = values.get('refresh_token');
    if (presented === undefined) throw new OAuthError('invalid_request', 'refresh_token is missing', 'missing_refresh_token');
    let claims: TokenClaims;
    try {
      claims = await this.tokens.verify('refresh', presented, now);
      if (typeof claims.gid !== 'string' || !unexpired(claims, now)) throw new AppError('UNAUTHORIZED', 'expired');
    } catch {
      throw new OAuthError('invalid_grant', 'the refresh token is not valid', 'invalid_refresh_token');
    }
    const grantId = claims.gid as string;
    const granted = typeof claims.sc === 'string' ? claims.sc : '';
    const requested = parseScope(values.get('scope'));
    if (requested === undefined || !scopeWithin(requested, granted)) {
      throw new OAuthError('invalid_scope', 'scope exceeds the scope granted', 'invalid_scope', { audit: { grantId } });
    }
    const userId = claims.sub;
    const organisationId = typeof claims.org === 'string' ? claims.org : null;
    const tokens = await this.userTokens(client.clientId, userId, organisationId, granted, grantId, now);
    const command: OAuthGrantCommand = {
      type: 'RotateRefreshToken',
      clientId: client.clientId,
      presentedRefreshTokenId: claims.jti,
      userActive: this.identity.userActive(userId),
      accessTokenId: tokens.access.jti,
      accessExpiresAt: tokens.access.expiresAt!,
      refreshTokenId: tokens.refresh.jti,
      refreshExpiresAt: tokens.refresh.expiresAt!,
      remoteAddress,
      now,
    };
    let result: CommandResult;
    try {
      result = await this.run(streamId(OAUTH_CATEGORIES.grant, grantId), command, `client:${client.clientId}`);
    } catch (error) {
      if (error instanceof AppError && error.code === 'NOT_FOUND') {
        throw new OAuthError('invalid_grant', 'the refresh token is not valid', 'unknown_grant', { audit: { grantId } });
      }
      throw error;
    }
    const refused = result.events.find((event) => event.type === 'RefreshTokenRefused');
    if (refused || result.events[0]?.type !== 'RefreshTokenRotated') {
      const reason = (refused?.data as { reason?: string } | undefined)?.reason ?? 'refused';
      const description =
        reason === 'reused'
          ? 'the refresh token was already used; the grant is revoked'
          : reason === 'wrong_client'
            ? 'the refresh token was issued to another client'
            : 'the grant is no longer valid';
      throw new OAuthError('invalid_grant', description, reason, { recorded: true });
    }
    return this.tokenResponse(tokens, requested === '' ? granted : requested);
  }

  private async clientCredentials(client: RegisteredClient, values: Map<string, string>, remoteAddress: string): Promise<TokenResponse> {
    if (client.public) throw new OAuthError('unauthorized_client', 'public clients cannot use client_credentials', 'public_client');
    const scope = parseScope(values.get('scope'));
    if (scope === undefined) throw new OAuthError('invalid_scope', 'scope is malformed', 'invalid_scope');
    const now = this.clock.now();
    const issued = await this.tokens.issue('organisation', {
      subject: client.clientId,
      ttlSeconds: this.config.organisationTokenTtlSeconds,
      claims: { org: client.organisationId, cid: client.clientId },
      now,
    });
    const requestId = newId();
    const command: OAuthRequestCommand = {
      type: 'IssueOrganisationToken',
      requestId,
      clientId: client.clientId,
      organisationId: client.organisationId,
      tokenId: issued.jti,
      expiresAt: issued.expiresAt!,
      remoteAddress,
    };
    await this.run(streamId(OAUTH_CATEGORIES.request, requestId), command, `client:${client.clientId}`);
    return { access_token: issued.token, token_type: 'Bearer', expires_in: this.config.organisationTokenTtlSeconds, scope };
  }

  private async userTokens(clientId: string, userId: string, organisationId: string | null, scope: string, grantId: string, now: number) {
    const org = organisationId === null ? {} : { org: organisationId };
    const access = await this.tokens.issue('access', {
      subject: userId,
      ttlSeconds: this.config.accessTokenTtlSeconds,
      claims: { ...org, cid: clientId },
      now,
    });
    const refresh = await this.tokens.issue('refresh', {
      subject: userId,
      ttlSeconds: this.config.refreshTokenTtlSeconds,
      claims: { ...org, cid: clientId, gid: grantId, sc: scope },
      now,
    });
    return { access, refresh };
  }

  private tokenResponse(tokens: { access: { token: string }; refresh: { token: string } }, scope: string): TokenResponse {
    return {
      access_token: tokens.access.token,
      token_type: 'Bearer',
      expires_in: this.config.accessTokenTtlSeconds,
      refresh_token: tokens.refresh.token,
      scope,
    };
  }

  // ---- the log ----

  /** Records a refusal that belongs to no flow or grant stream (one stream per request). */
  async refuse(
    refusal: {
      endpoint: 'authorize' | 'token';
      grantType: string | null;
      clientId: string | null;
      error: OAuthErrorCode;
      reason: string;
      flowId?: string;
      grantId?: string;
    },
    remoteAddress: string,
  ): Promise<void> {
    const requestId = newId();
    const command: OAuthRequestCommand = { type: 'RefuseOAuthRequest', requestId, ...refusal, remoteAddress };
    await this.run(streamId(OAUTH_CATEGORIES.request, requestId), command, `address:${remoteAddress}`);
  }

  /**
   * Runs a command, then drops the stream's actor: flows and grants are touched a few times
   * in their life, so they are loaded from the log when needed instead of staying in memory.
   * Only the last command in flight on a stream drops it: an actor another queued command is
   * still using must not be stopped under it.
   */
  private async run(stream: string, command: { type: string }, actor: string): Promise<CommandResult> {
    this.inFlight.set(stream, (this.inFlight.get(stream) ?? 0) + 1);
    try {
      return await this.runtime.execute(stream, command, { actor });
    } finally {
      const left = this.inFlight.get(stream)! - 1;
      if (left === 0) {
        this.inFlight.delete(stream);
        this.runtime.release(stream);
      } else {
        this.inFlight.set(stream, left);
      }
    }
  }

  private peek(stream: string) {
    const snapshot = this.runtime.read(stream);
    if (!this.inFlight.has(stream)) this.runtime.release(stream);
    return snapshot;
  }

  private origin(remoteAddress: string): RequestOrigin {
    return { connectionId: null, remoteAddress, now: this.clock.now() };
  }
}
