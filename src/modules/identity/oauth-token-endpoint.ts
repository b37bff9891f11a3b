import type { Clock } from '../../core/index.js';
import { AppError } from '../../core/index.js';
import { newId, streamId } from '../../core/index.js';
import type { CommandResult } from '../../runtime/index.js';
import {
  OAuthError,
  clientIdForAudit,
  parseBasicCredentials,
  parseScope,
  pkceMatches,
  scopeWithin,
  singleParameters,
  type RegisteredClient,
} from './oauth-protocol.js';
import type { TokenClaims } from '../../auth/index.js';
import type { IdentityConfig } from './config.js';
import { OAUTH_CATEGORIES, type OAuthGrantCommand, type OAuthRequestCommand } from './domain/index.js';
import type { IdentityService } from './identity-service.js';
import type { OAuthClients } from './oauth-clients.js';
import { unexpired } from './oauth-lifetimes.js';
import type { OAuthStreams } from './oauth-streams.js';
import { GuessLimiter } from './sign-in-limits.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

export type TokenEndpointConfig = Pick<
  IdentityConfig,
  'accessTokenTtlSeconds' | 'refreshTokenTtlSeconds' | 'organisationTokenTtlSeconds' | 'clientSecretAttemptsPerMinutePerClient' | 'clientSecretAttemptsPerMinutePerAddress'
>;

/** Client-authentication refusals: the guessing surface, logged within the address's refusal budget. */
const CLIENT_AUTH_ERRORS: ReadonlySet<string> = new Set(['invalid_client', 'slow_down']);

/**
 * `POST /auth/oauth2/token` (RFC 6749 section 3.2): client authentication, then one of the
 * grants authorization_code (one redemption per code), refresh_token (rotation, reuse
 * revokes the grant) and client_credentials. Every issue and refusal is in the log first.
 */
export class TokenEndpoint {
  /** Wrong client secrets, per client id and per remote address (in that order of keys). */
  private readonly secretGuesses: GuessLimiter;

  constructor(
    private readonly identity: IdentityService,
    private readonly clients: OAuthClients,
    private readonly streams: OAuthStreams,
    private readonly config: TokenEndpointConfig,
    private readonly clock: Clock,
  ) {
    this.secretGuesses = new GuessLimiter(config.clientSecretAttemptsPerMinutePerClient, config.clientSecretAttemptsPerMinutePerAddress);
  }


  /** `POST /auth/oauth2/token`: authenticates the client, then runs its grant. Refusals are recorded, then thrown. */
  async token(params: URLSearchParams, authorization: string | undefined, remoteAddress: string): Promise<TokenResponse> {
    const { values, duplicate } = singleParameters(params);
    const grantType = values.get('grant_type') ?? null;
    let clientId: string | null = clientIdForAudit(values.get('client_id'));
    try {
      if (duplicate !== undefined) throw new OAuthError('invalid_request', `parameter ${duplicate} is repeated`, 'duplicate_parameter');
      const client = this.authenticateClient(authorization, values, remoteAddress);
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
        // A secret guesser's refusals are logged one by one only within the address's budget;
        // past it they are counted into the window's RefusalsSummarised.
        const logged =
          !CLIENT_AUTH_ERRORS.has(error.error) ||
          this.identity.refusals.admit({ connectionId: 'http', remoteAddress, kind: 'oauth-client', reason: error.reason }, this.clock.now());
        if (!error.recorded && logged) {
          await this.streams.refuse(
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
  authenticateClient(authorization: string | undefined, values: Map<string, string>, remoteAddress?: string): RegisteredClient {
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
    const client = clientId.length <= 128 ? this.clients.client(clientId) : undefined;
    if (!client) throw new OAuthError('invalid_client', 'client authentication failed', 'unknown_client');
    if (client.public) {
      if (secret !== undefined) throw new OAuthError('invalid_client', 'public clients have no secret', 'public_client_with_secret');
      return client;
    }
    if (secret === undefined) throw new OAuthError('invalid_client', 'client authentication is required', 'no_client_secret');
    // Past the budget of wrong secrets (per client, per address) no secret is compared, right
    // or wrong: a guesser learns nothing, and a client with its right secret spends nothing.
    const keys = remoteAddress === undefined ? [clientId] : [clientId, remoteAddress];
    const now = this.clock.now();
    const wait = this.secretGuesses.refusal(keys, now);
    if (wait > 0) throw new OAuthError('slow_down', 'too many wrong client secrets; try again later', 'rate_limited', { retryAfterSeconds: wait });
    try {
      this.identity.authenticateClient(clientId, secret);
    } catch {
      this.secretGuesses.wrong(keys, now);
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
      claims = await this.identity.tokens.verify('code', code, now);
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
    const result = await this.streams.run(streamId(OAUTH_CATEGORIES.grant, grantId), command, `client:${client.clientId}`);
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
      claims = await this.identity.tokens.verify('refresh', presented, now);
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
      result = await this.streams.run(streamId(OAUTH_CATEGORIES.grant, grantId), command, `client:${client.clientId}`);
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
    const issued = await this.identity.tokens.issue('organisation', {
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
    await this.streams.run(streamId(OAUTH_CATEGORIES.request, requestId), command, `client:${client.clientId}`);
    return { access_token: issued.token, token_type: 'Bearer', expires_in: this.config.organisationTokenTtlSeconds, scope };
  }

  private async userTokens(clientId: string, userId: string, organisationId: string | null, scope: string, grantId: string, now: number) {
    const org = organisationId === null ? {} : { org: organisationId };
    const access = await this.identity.tokens.issue('access', {
      subject: userId,
      ttlSeconds: this.config.accessTokenTtlSeconds,
      claims: { ...org, cid: clientId },
      now,
    });
    const refresh = await this.identity.tokens.issue('refresh', {
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
}
