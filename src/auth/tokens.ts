import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  exportJWK,
  jwtVerify,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { AppError, newId } from '../core/index.js';
import type { KeyRing } from './keys.js';
import { signEd25519Jwt, verifyEd25519Jwt } from './ed25519-jwt.js';

/**
 * Every token the gateway issues, each with its own `typ` and audience so one kind can
 * never be replayed as another (a refresh token is not an access token, an organisation
 * token is not a user's). All are EdDSA (Ed25519); the algorithm is pinned on verify.
 */
export const TOKEN_KINDS = {
  /** OAuth2 client credentials: authenticates a socket for an organisation, no user. */
  organisation: { typ: 'switchyard-org+jwt', audience: 'switchyard:organisation' },
  /** A user's access token (OAuth2, `login`, `mfa`); what `authorize` takes. */
  access: { typ: 'at+jwt', audience: 'switchyard:api' },
  /** Exchanged for a new access token; single use (rotated). */
  refresh: { typ: 'switchyard-refresh+jwt', audience: 'switchyard:refresh' },
  /** Chat Signal session token, answered to `auth-request`. */
  session: { typ: 'switchyard-session+jwt', audience: 'switchyard:session' },
  /** Chat Signal app token from `POST /app`: no expiry, revocable by `jti`. */
  app: { typ: 'switchyard-app+jwt', audience: 'switchyard:app' },
  /** OAuth2 authorization code: single use, one minute. */
  code: { typ: 'switchyard-code+jwt', audience: 'switchyard:code' },
  /** Carries a password-verified login to its TOTP step on the OAuth2 login page. */
  mfa: { typ: 'switchyard-mfa+jwt', audience: 'switchyard:mfa' },
  /** The OAuth2 login form's token: binds the authorization request (and the browser) to the form. */
  login: { typ: 'switchyard-login+jwt', audience: 'switchyard:login' },
  /**
   * An invitation's one-time ticket (PROTOCOL.md section 9): `sub` (the invitation), `name`,
   * `email`, `item`, `jti`; exchanged once at `POST /guest/exchange` for a `guest` token.
   */
  guestTicket: { typ: 'guest-ticket', audience: 'switchyard:guest-ticket' },
  /** A guest's access token: scoped to one item (`item` claim) and its call's room. */
  guest: { typ: 'switchyard-guest+jwt', audience: 'switchyard:guest' },
} as const;

export type TokenKind = keyof typeof TOKEN_KINDS;

export interface TokenClaims extends JWTPayload {
  sub: string;
  jti: string;
  /** Organisation the token acts for. */
  org?: string;
  /** OAuth2 client the token was issued to. */
  cid?: string;
  /** Connection / session the token was issued on. */
  sid?: string;
  [claim: string]: unknown;
}

export interface IssueOptions {
  subject: string;
  /** Seconds; `null` only for kinds that may live forever (app tokens). */
  ttlSeconds: number | null;
  claims?: Record<string, unknown>;
  now: number;
}

export interface ExternalIssuer {
  issuer: string;
  audience: string;
  /** JWKS URL of the provider, or static keys. */
  jwksUri?: string | undefined;
  keys?: JWK[] | undefined;
  algorithms: string[];
  organisationClaim: string;
  userClaim: string;
  groupsClaim?: string | undefined;
}

export interface ExternalIdentity {
  issuer: string;
  userId: string;
  organisationId: string | null;
  groups: string[];
  expiresAt: number;
}

/** Refused tokens all get the same answer: which check failed is for the log, not the client. */
export const invalidToken = (): AppError => new AppError('UNAUTHORIZED', 'Token is not valid');

/** Longer than any legitimate token we issue; parsing huge input is refused up front. */
const MAX_TOKEN_LENGTH = 4096;
const CACHE_LIMIT = 10_000;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export class TokenService {
  /**
   * Verified tokens by their text, so a reconnect storm verifies each token's signature once.
   * Entries are checked against expiry and the key's grace period on every hit.
   */
  private readonly verified = new Map<string, { kind: TokenKind; claims: TokenClaims; kid: string }>();
  private readonly externals: { config: ExternalIssuer; keys: JWTVerifyGetKey }[];
  private lastReload = 0;

  constructor(
    private readonly keyRing: KeyRing,
    private readonly options: { issuer: string; clockToleranceSeconds: number; externalIssuers?: readonly ExternalIssuer[] },
  ) {
    this.externals = (options.externalIssuers ?? []).map((config) => ({
      config,
      keys: config.jwksUri ? createRemoteJWKSet(new URL(config.jwksUri)) : createLocalJWKSet({ keys: config.keys ?? [] }),
    }));
  }

  async issue(kind: TokenKind, options: IssueOptions): Promise<{ token: string; jti: string; expiresAt: number | null }> {
    const { typ, audience } = TOKEN_KINDS[kind];
    // The CLI may have rotated the keys while we run: sign with the key that is active on disk.
    this.keyRing.reloadIfChanged();
    const key = this.keyRing.active();
    const jti = newId(16);
    const issuedAt = Math.floor(options.now / 1000);
    const expiresAt = options.ttlSeconds === null ? null : issuedAt + options.ttlSeconds;
    // The registered claims after the caller's, so no claim given can overwrite them (as jose's setters did).
    const payload: Record<string, unknown> = { ...options.claims, iss: this.options.issuer, aud: audience, sub: options.subject, iat: issuedAt, jti };
    if (expiresAt !== null) payload.exp = expiresAt;
    const token = signEd25519Jwt({ alg: 'EdDSA', kid: key.kid, typ }, payload, key.privateKey);
    return { token, jti, expiresAt: expiresAt === null ? null : expiresAt * 1000 };
  }

  /** The claims of a valid token of this kind, or UNAUTHORIZED. */
  async verify(kind: TokenKind, token: unknown, now: number): Promise<TokenClaims> {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) throw invalidToken();
    const cached = this.verified.get(token);
    if (cached) {
      // Strictly before exp + leeway, exactly where jose's own check (exp > floor(now / 1000) - leeway) ends.
      const fresh = cached.kind === kind && (cached.claims.exp === undefined || cached.claims.exp * 1000 + this.options.clockToleranceSeconds * 1000 > now);
      if (fresh && this.keyRing.verifying(cached.kid, now)) return cached.claims;
      if (cached.kind === kind) this.verified.delete(token);
      if (cached.kind !== kind) throw invalidToken();
    }
    // jose decodes base64url leniently: the unused low bits of the signature's last character
    // were ignored, so every token had four spellings that all verified (and missed the cache,
    // logs and any list keyed on the token text). One canonical spelling only.
    const signature = token.slice(token.lastIndexOf('.') + 1);
    if (Buffer.from(signature, 'base64url').toString('base64url') !== signature) throw invalidToken();
    const { typ, audience } = TOKEN_KINDS[kind];
    let kid = '';
    const keyOf = (header: Record<string, unknown>) => {
      // A key named by the token itself (jwk, jku, x5u, x5c) would let anyone sign: only our kids count.
      if (header.jwk || header.jku || header.x5u || header.x5c || typeof header.kid !== 'string') return undefined;
      let key = this.keyRing.verifying(header.kid, now);
      if (!key && now - this.lastReload > 1000) {
        // A key rotated by the CLI while we run: look at the key directory again, at most once a second.
        this.lastReload = now;
        this.keyRing.reload();
        key = this.keyRing.verifying(header.kid, now);
      }
      if (key) kid = key.kid;
      return key?.publicKey;
    };
    let payload: JWTPayload;
    try {
      payload = verifyEd25519Jwt(token, {
        typ,
        issuer: this.options.issuer,
        audience,
        requiredClaims: kind === 'app' ? ['sub', 'jti', 'iat'] : ['sub', 'jti', 'iat', 'exp'],
        clockToleranceSeconds: this.options.clockToleranceSeconds,
        now,
        keyOf,
      });
    } catch {
      throw invalidToken();
    }
    if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string') throw invalidToken();
    // Beyond jose's checks: we issue every token with our own clock, so an iat past the leeway
    // in the future, or a time that is not finite (exp 1e400 parses as Infinity: never expires),
    // means a broken issuer or clock, not a token to trust.
    const leewayEnd = Math.floor(now / 1000) + this.options.clockToleranceSeconds;
    if (!Number.isFinite(payload.iat) || payload.iat! > leewayEnd || (payload.exp !== undefined && !Number.isFinite(payload.exp))) throw invalidToken();
    const claims = payload as TokenClaims;
    if (this.verified.size >= CACHE_LIMIT) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { kind, claims, kid });
    return claims;
  }

  /** Verifies a token from a configured external OIDC provider; undefined when no issuer matches. */
  async verifyExternal(token: unknown, now: number): Promise<ExternalIdentity | undefined> {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token) || this.externals.length === 0) return undefined;
    let issuer: unknown;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      return undefined;
    }
    const external = this.externals.find((candidate) => candidate.config.issuer === issuer);
    if (!external) return undefined;
    const { config } = external;
    try {
      const { payload } = await jwtVerify(token, external.keys, {
        algorithms: config.algorithms,
        issuer: config.issuer,
        audience: config.audience,
        requiredClaims: ['exp', config.userClaim],
        clockTolerance: this.options.clockToleranceSeconds,
        currentDate: new Date(now),
      });
      const userId = payload[config.userClaim];
      const organisationId = payload[config.organisationClaim];
      const groups = config.groupsClaim ? payload[config.groupsClaim] : [];
      if (typeof userId !== 'string') throw invalidToken();
      return {
        issuer: config.issuer,
        userId,
        organisationId: typeof organisationId === 'string' ? organisationId : null,
        groups: Array.isArray(groups) ? groups.filter((group): group is string => typeof group === 'string') : [],
        expiresAt: (payload.exp ?? 0) * 1000,
      };
    } catch {
      throw invalidToken();
    }
  }

  /** The public half of every key still verifying, as a JWK Set. */
  async jwks(now: number): Promise<{ keys: JWK[] }> {
    this.keyRing.reloadIfChanged();
    const keys = await Promise.all(
      this.keyRing.published(now).map(async (key) => ({ ...(await exportJWK(key.publicKey)), kid: key.kid, alg: 'EdDSA', use: 'sig' })),
    );
    return { keys };
  }

  /** Drops cached verifications (after a key rotation or a revocation sweep). */
  forget(): void {
    this.verified.clear();
  }
}
