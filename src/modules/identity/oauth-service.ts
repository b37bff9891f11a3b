import type { Clock } from '../../core/index.js';
import type { ActorRuntime } from '../../runtime/index.js';
import type { AuthorizationRequest, RegisteredClient } from './oauth-protocol.js';
import type { IdentityConfig } from './config.js';
import type { IdentityService } from './identity-service.js';
import { AuthorizationCodeFlow, type LoginForm, type LoginOutcome } from './oauth-authorization.js';
import { OAuthClients, type OAuthClientsLogger } from './oauth-clients.js';
import { OAuthStreams, type OAuthRefusal } from './oauth-streams.js';
import { TokenEndpoint, type TokenEndpointConfig, type TokenResponse } from './oauth-token-endpoint.js';

export { LoginPageError, type LoginForm, type LoginOutcome } from './oauth-authorization.js';
export { CODE_TTL_SECONDS, LOGIN_FORM_TTL_SECONDS, MFA_STEP_TTL_SECONDS } from './oauth-lifetimes.js';
export type { OAuthRefusal } from './oauth-streams.js';
export type { TokenResponse } from './oauth-token-endpoint.js';

export type OAuthConfig = Pick<IdentityConfig, 'oauthClients'> & TokenEndpointConfig;

/**
 * The OAuth2 authorization server (RFC 6749 with PKCE, RFC 7636), as the routes and the
 * gateway see it: the client registry (oauth-clients.ts), the login page's authorization-code
 * flow (oauth-authorization.ts) and the token endpoint's grants (oauth-token-endpoint.ts),
 * over one shared access to the log (oauth-streams.ts). Secrets are checked there and by
 * IdentityService; what follows (one code per form, one redemption per code, refresh
 * rotation) is decided by the `oauth` domain, and every issue and refusal lands in the log
 * before the answer goes out.
 */
export class OAuthService {
  private readonly clients: OAuthClients;
  private readonly streams: OAuthStreams;
  private readonly authorization: AuthorizationCodeFlow;
  private readonly tokenEndpoint: TokenEndpoint;

  constructor(identity: IdentityService, runtime: ActorRuntime, config: OAuthConfig, clock: Clock, logger?: OAuthClientsLogger) {
    this.clients = new OAuthClients(identity, config.oauthClients, logger);
    this.streams = new OAuthStreams(runtime);
    this.authorization = new AuthorizationCodeFlow(identity, this.clients, this.streams, clock);
    this.tokenEndpoint = new TokenEndpoint(identity, this.clients, this.streams, config, clock);
  }

  // ---- clients ----

  /** A registered client, from the read model (an unknown id creates no actor). */
  client(clientId: string): RegisteredClient | undefined {
    return this.clients.client(clientId);
  }

  /** Registers the `oauthClients` of the config that are not registered yet; differing ones are reported. */
  registerConfiguredClients(): Promise<{ registered: string[]; differing: string[] }> {
    return this.clients.registerConfiguredClients();
  }

  // ---- the login page ----

  /** The login form's token for a validated request, bound to the browser by `browserBinding` (a cookie's hash). */
  startAuthorization(request: AuthorizationRequest, browserBinding: string): Promise<string> {
    return this.authorization.startAuthorization(request, browserBinding);
  }

  /** The form a POST carries, checked: its token, the browser it was opened in, its flow not finished. */
  openForm(token: string | undefined, browserNonce: string | undefined, remoteAddress: string): Promise<LoginForm> {
    return this.authorization.openForm(token, browserNonce, remoteAddress);
  }

  /** The password step: the TOTP step next when the user has MFA, else the code. */
  login(form: LoginForm, username: string | undefined, password: string | undefined, remoteAddress: string): Promise<LoginOutcome> {
    return this.authorization.login(form, username, password, remoteAddress);
  }

  /** The TOTP step, carried by the `mfa` token the password step handed out for this flow. */
  completeMfa(form: LoginForm, mfaToken: string | undefined, code: string | undefined, remoteAddress: string): Promise<LoginOutcome> {
    return this.authorization.completeMfa(form, mfaToken, code, remoteAddress);
  }

  /** The user cancelled: back to the client with `access_denied`. */
  deny(form: LoginForm, remoteAddress: string): Promise<LoginOutcome> {
    return this.authorization.deny(form, remoteAddress);
  }

  // ---- the token endpoint ----

  /** `POST /auth/oauth2/token`: authenticates the client, then runs its grant. Refusals are recorded, then thrown. */
  token(params: URLSearchParams, authorization: string | undefined, remoteAddress: string): Promise<TokenResponse> {
    return this.tokenEndpoint.token(params, authorization, remoteAddress);
  }

  /** Client authentication (RFC 6749 section 2.3.1): HTTP Basic or `client_secret` in the body, never both. */
  authenticateClient(authorization: string | undefined, values: Map<string, string>): RegisteredClient {
    return this.tokenEndpoint.authenticateClient(authorization, values);
  }

  // ---- the log ----

  /** Records a refusal that belongs to no flow or grant stream (one stream per request). */
  refuse(refusal: OAuthRefusal, remoteAddress: string): Promise<void> {
    return this.streams.refuse(refusal, remoteAddress);
  }
}
