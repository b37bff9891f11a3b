import { sign as ed25519Sign, verify as ed25519Verify, type KeyObject } from 'node:crypto';
import { AppError } from '../core/index.js';
import type { Ed25519KeyPair } from './odin-keys.js';

export * from './odin-keys.js';

/**
 * ODIN tokens (`@4players/odin-tokens`): verifying the customer tokens the room API takes
 * and signing the room tokens SFU servers take. The checks are stricter than the ODIN
 * gateway's, which accepted tokens without `aud`, `sub` or `exp`, let unknown keys through
 * as "demo" customers and could be told to accept unsigned tokens: here `aud` must be
 * `gateway`, `sub` must list the method, `exp` is required and unknown keys are refused.
 */

/** A customer's access key as the verifier needs it (public half only). */
export interface OdinAccessKey {
  keyId: string;
  customerId: string;
  /** Rooms of tokens signed with this key live in this namespace (the customer id by default). */
  namespace: string;
  publicKey: KeyObject;
}

export interface OdinKeyLookup {
  key(keyId: string): OdinAccessKey | undefined;
  /** Changes whenever keys are added or removed, so cached verifications are dropped. */
  readonly generation: number;
}

export interface VerifiedOdinToken {
  key: OdinAccessKey;
  /** Room ids the token grants (`rid`, a string or a list). */
  rooms: string[];
  /** `rid` as the token carried it, passed on unchanged into room tokens. */
  rid: string | string[];
  userId: string;
  /** Callable methods from `sub`, lower-cased (method names match case-insensitively). */
  methods: ReadonlySet<string>;
  expiresAt: number;
}

/** Why a token was refused: logged, never sent (every refusal looks the same to a client). */
export type TokenRefusal =
  | 'malformed'
  | 'unknown_key'
  | 'algorithm'
  | 'signature'
  | 'expired'
  | 'not_yet_valid'
  | 'audience'
  | 'missing_claim'
  | 'claim_type';

export class OdinTokenError extends AppError {
  readonly reason: TokenRefusal;
  constructor(reason: TokenRefusal) {
    super('UNAUTHORIZED', 'invalid or missing authorization token');
    this.name = 'OdinTokenError';
    this.reason = reason;
  }
}

const MAX_TOKEN_LENGTH = 4096;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const CACHE_LIMIT = 10_000;
/** The audience of tokens for the room API (ODIN: "gateway"), and of room tokens ("sfu"). */
export const GATEWAY_AUDIENCE = 'gateway';
export const SFU_AUDIENCE = 'sfu';

interface CachedVerification {
  token: VerifiedOdinToken;
  generation: number;
  notBefore: number | null;
}

/**
 * Base64url decodes leniently: the unused low bits of a segment's last character are
 * ignored, so a token respelled there still verified, and one token had several spellings
 * (each missing the verification cache, and any log or list keyed on the text). One
 * canonical spelling only, as the login tokens (tokens.ts) do; every segment is checked,
 * though only the signature's respelling survives the signature check.
 */
function isCanonical(token: string): boolean {
  for (const segment of token.split('.')) if (Buffer.from(segment, 'base64url').toString('base64url') !== segment) return false;
  return true;
}

const isStringList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string' && item.length > 0);

/** Claims must be UTF-8 (jose decoded them with a fatal decoder): a bad byte is a malformed token. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A JSON object from a base64url segment, or a malformed token. */
function decodeObject(segment: string, strict: boolean): Record<string, unknown> {
  let value: unknown;
  try {
    const bytes = Buffer.from(segment, 'base64url');
    value = JSON.parse(strict ? strictUtf8.decode(bytes) : bytes.toString('utf8'));
  } catch {
    throw new OdinTokenError('malformed');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new OdinTokenError('malformed');
  return value as Record<string, unknown>;
}

const hasClaim = (claims: Record<string, unknown>, name: string): boolean => Object.hasOwn(claims, name);

/** A NumericDate claim: absent, or a number; anything else is refused for `reason`. */
function numericDate(claims: Record<string, unknown>, name: string, reason: TokenRefusal = 'claim_type'): number | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw new OdinTokenError(reason);
  return value;
}

/**
 * The checks jose's jwtVerify made for the options this verifier gave it (algorithms EdDSA,
 * audience "gateway", required exp/sub/aud, the leeway), in its order, written out over
 * node:crypto's synchronous Ed25519 verify (issue 15: jose went through a WebCrypto promise
 * per token, and a cold check cost twice the bare signature check). `crit` and `b64` are
 * refused outright: jose understood no extension but `b64`, and refused that one in a JWT
 * (no unencoded payloads).
 */
function checkSignatureAndClaims(token: string, header: Record<string, unknown>, key: OdinAccessKey, now: number, leewaySeconds: number): Record<string, unknown> {
  if (header.crit !== undefined || header.b64 !== undefined) throw new OdinTokenError('malformed');
  const last = token.lastIndexOf('.');
  let valid: boolean;
  try {
    valid = ed25519Verify(null, Buffer.from(token.slice(0, last)), key.publicKey, Buffer.from(token.slice(last + 1), 'base64url'));
  } catch {
    valid = false;
  }
  if (!valid) throw new OdinTokenError('signature');
  const claims = decodeObject(token.slice(token.indexOf('.') + 1, last), true);
  for (const name of ['aud', 'sub', 'exp']) if (!hasClaim(claims, name)) throw new OdinTokenError('missing_claim');
  const { aud } = claims;
  if (!(aud === GATEWAY_AUDIENCE || (Array.isArray(aud) && aud.includes(GATEWAY_AUDIENCE)))) throw new OdinTokenError('audience');
  const nowSeconds = Math.floor(now / 1000);
  numericDate(claims, 'iat');
  // An nbf of the wrong type was jose's nbf failure, logged as not_yet_valid: kept so.
  const nbf = numericDate(claims, 'nbf', 'not_yet_valid');
  if (nbf !== undefined && nbf > nowSeconds + leewaySeconds) throw new OdinTokenError('not_yet_valid');
  const exp = numericDate(claims, 'exp');
  if (exp !== undefined && exp <= nowSeconds - leewaySeconds) throw new OdinTokenError('expired');
  return claims;
}

/**
 * Verifies room API tokens. A verified token is cached by its text until it expires (or the
 * key set changes): clients reuse a token for many calls, and an Ed25519 verification costs
 * more than the rest of a Connect.
 */
export class OdinTokenVerifier {
  private readonly verified = new Map<string, CachedVerification>();

  constructor(
    private readonly keys: OdinKeyLookup,
    private readonly options: { leewaySeconds: number },
  ) {}

  /**
   * The verification of `token` if it was verified before and still holds at `now` (its
   * key set unchanged, within exp and nbf with the leeway); undefined otherwise. Synchronous,
   * for callers that answer a repeat token in the same turn (the room API's Connect): a
   * cached token passed every check, shape included, when it was verified.
   */
  cached(token: string, now: number): VerifiedOdinToken | undefined {
    const cached = this.verified.get(token);
    if (!cached) return undefined;
    const leewayMs = this.options.leewaySeconds * 1000;
    if (cached.generation === this.keys.generation) {
      const fresh = now <= cached.token.expiresAt + leewayMs && (cached.notBefore === null || cached.notBefore - leewayMs <= now);
      if (fresh) return cached.token;
    }
    if (cached.generation !== this.keys.generation || now > cached.token.expiresAt + leewayMs) this.verified.delete(token);
    return undefined;
  }

  async verify(token: unknown, now: number): Promise<VerifiedOdinToken> {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) throw new OdinTokenError('malformed');
    const hit = this.cached(token, now);
    if (hit) return hit;
    const header = decodeObject(token.slice(0, token.indexOf('.')), false);
    if (header.alg !== 'EdDSA') throw new OdinTokenError('algorithm');
    // After the algorithm, so a refusal keeps naming the first thing wrong with the token.
    if (!isCanonical(token)) throw new OdinTokenError('malformed');
    if (typeof header.kid !== 'string') throw new OdinTokenError('unknown_key');
    const key = this.keys.key(header.kid);
    if (!key) throw new OdinTokenError('unknown_key');
    const payload = checkSignatureAndClaims(token, header, key, now, this.options.leewaySeconds);
    const { sub, rid, uid, exp, nbf } = payload;
    if (rid === undefined || uid === undefined) throw new OdinTokenError('missing_claim');
    const methods = typeof sub === 'string' ? [sub] : sub;
    if (!isStringList(methods) || typeof uid !== 'string' || typeof exp !== 'number') throw new OdinTokenError('claim_type');
    if (!(typeof rid === 'string' || isStringList(rid))) throw new OdinTokenError('claim_type');
    const verified: VerifiedOdinToken = {
      key,
      rid: rid as string | string[],
      rooms: typeof rid === 'string' ? [rid] : [...(rid as string[])],
      userId: uid,
      methods: new Set(methods.map((method) => method.toLowerCase())),
      expiresAt: exp * 1000,
    };
    if (this.verified.size >= CACHE_LIMIT) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, {
      token: verified,
      generation: this.keys.generation,
      notBefore: typeof nbf === 'number' ? nbf * 1000 : null,
    });
    return verified;
  }

  /** Why `error` refused a token, for the log; undefined when it is no token refusal. */
  static refusal(error: unknown): TokenRefusal | undefined {
    return error instanceof OdinTokenError ? error.reason : undefined;
  }
}

/** Claims of a room token, in the order and shape the ODIN gateway issues them. */
export interface RoomTokenClaims {
  uid: string;
  cid: string;
  rid: string | string[];
  nsp: string;
  adr: string;
  sub: 'connect';
  aud: typeof SFU_AUDIENCE;
  nbf: number;
  exp: number;
}

const base64urlJson = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Signs room tokens with an SFU server's derived key. Ed25519 signatures are deterministic,
 * so a token for the same claims (same user, room, server and second) is the same text:
 * reusing it from a small cache is indistinguishable from signing again, and a reconnect
 * storm signs each token once.
 *
 * Signed with node:crypto directly and synchronously (issue 15): jose's SignJWT over
 * WebCrypto cost about 100 µs a token, a third of a Connect's server time in the profile,
 * where node:crypto's Ed25519 sign is a fraction of that. The bytes are jose's: header
 * `{"alg":"EdDSA","kid":...}` and the claims in their given order, so a token is the same
 * text either way. Being synchronous, two Connects of one token in the same second never
 * both miss the cache while the first is being signed.
 */
export class RoomTokenSigner {
  private readonly signed = new Map<string, string>();
  private cachedSecond = 0;

  sign(server: Ed25519KeyPair, claims: RoomTokenClaims): string {
    // Tokens of a past second are never asked for again: drop them all at once.
    if (claims.nbf !== this.cachedSecond) {
      this.signed.clear();
      this.cachedSecond = claims.nbf;
    }
    const payload = JSON.stringify(claims);
    const cacheKey = `${server.keyId}\u0000${payload}`;
    const hit = this.signed.get(cacheKey);
    if (hit) return hit;
    const input = `${base64urlJson({ alg: 'EdDSA', kid: server.keyId })}.${Buffer.from(payload).toString('base64url')}`;
    const token = `${input}.${ed25519Sign(null, Buffer.from(input), server.privateKey).toString('base64url')}`;
    if (this.signed.size < CACHE_LIMIT) this.signed.set(cacheKey, token);
    return token;
  }
}
