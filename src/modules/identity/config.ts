import type { ExternalIssuer } from '../../auth/index.js';

/** An OAuth2 client of the `oauthClients` config key, registered at start when absent. */
export interface ConfiguredOAuthClient {
  readonly id: string;
  /** Id or name of an organisation that must exist. */
  readonly organisation: string;
  readonly name: string;
  readonly redirectUris: readonly string[];
  readonly public: boolean;
  /** Confidential clients only; only its hash is recorded. */
  readonly secret?: string | undefined;
}

/**
 * The configuration keys the identity module reads (their defaults and limits are in
 * app/config.ts, whose Config satisfies this). The module depends on this slice, not on the
 * whole config, so what it reads is visible here and tests can build it by hand.
 */
export interface IdentityConfig {
  /** Where `keys/` lives: the token signing keys and the secrets key sealing MFA seeds. */
  readonly dataDir: string;
  /** `iss` of every token the gateway signs, and the TOTP issuer shown in authenticator apps. */
  readonly issuer: string;
  /** Leeway on `exp`/`nbf` when verifying tokens. */
  readonly tokenClockToleranceSeconds: number;
  /** External OIDC providers whose tokens `authenticate`/`authorize` accept. */
  readonly externalIssuers: readonly ExternalIssuer[];
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  readonly organisationTokenTtlSeconds: number;
  /** Chat Signal session tokens (`auth-accept`). */
  readonly sessionTokenTtlSeconds: number;
  /** Consecutive wrong TOTP codes before MFA locks, and for how long. */
  readonly mfaMaxFailures: number;
  readonly mfaLockSeconds: number;
  /** Login attempts allowed per minute per username and per remote address. */
  readonly loginAttemptsPerMinutePerUser: number;
  readonly loginAttemptsPerMinutePerAddress: number;
  /** scrypt hashes computed at once; the excess is RATE_LIMITED. */
  readonly maxConcurrentPasswordHashes: number;
  /** Password of `POST /app` (Chat Signal app tokens); unset, `/app` is disabled. */
  readonly appPassword?: string | undefined;
  /** Wrong `/app` passwords per minute per remote address; past it 429 with `retry-after`. */
  readonly appPasswordAttemptsPerMinutePerAddress: number;
  /** Sign-in frames in flight per connection and per address; past it RATE_LIMITED at once. */
  readonly maxSignInsInFlightPerConnection: number;
  readonly maxSignInsInFlightPerAddress: number;
  /** Refusals logged one by one per address and window; the rest go into one summary per window. */
  readonly refusalWindowSeconds: number;
  readonly refusalEventsPerWindow: number;
  /** Wrong OAuth2 client secrets per minute per client id and per address; past it 429 `slow_down`. */
  readonly clientSecretAttemptsPerMinutePerClient: number;
  readonly clientSecretAttemptsPerMinutePerAddress: number;
  readonly oauthClients: readonly ConfiguredOAuthClient[];
  /** The gateway serves TLS itself: the OAuth2 browser cookie is marked Secure. */
  readonly ssl: boolean;
}
