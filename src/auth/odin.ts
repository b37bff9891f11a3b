import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { webcrypto, type KeyObject } from 'node:crypto';
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
 * jose 6 works on WebCrypto keys: handed a node KeyObject it converts it on every call, which
 * cost more than the signature itself. Each key is converted once and kept with it.
 */
const cryptoKeys = new WeakMap<KeyObject, Promise<webcrypto.CryptoKey>>();
function cryptoKeyOf(key: KeyObject): Promise<webcrypto.CryptoKey> {
  let converted = cryptoKeys.get(key);
  if (!converted) {
    const usage = key.type === 'private' ? 'sign' : 'verify';
    converted = webcrypto.subtle.importKey('jwk', key.export({ format: 'jwk' }), { name: 'Ed25519' }, false, [usage]);
    cryptoKeys.set(key, converted);
  }
  return converted;
}

/**
 * jose decodes base64url leniently: the unused low bits of a segment's last character are
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

function refusalOf(error: unknown): TokenRefusal {
  if (error instanceof OdinTokenError) return error.reason;
  if (error instanceof joseErrors.JWTExpired) return 'expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'not_yet_valid';
    if (error.claim === 'aud') return error.reason === 'missing' ? 'missing_claim' : 'audience';
    return error.reason === 'missing' ? 'missing_claim' : 'claim_type';
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature';
  if (error instanceof joseErrors.JOSEAlgNotAllowed || error instanceof joseErrors.JOSENotSupported) return 'algorithm';
  return 'malformed';
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

  async verify(token: unknown, now: number): Promise<VerifiedOdinToken> {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) throw new OdinTokenError('malformed');
    const leewayMs = this.options.leewaySeconds * 1000;
    const cached = this.verified.get(token);
    if (cached && cached.generation === this.keys.generation) {
      const fresh = now <= cached.token.expiresAt + leewayMs && (cached.notBefore === null || cached.notBefore - leewayMs <= now);
      if (fresh) return cached.token;
      if (now > cached.token.expiresAt + leewayMs) this.verified.delete(token);
    }
    let key: OdinAccessKey | undefined;
    let payload: Record<string, unknown>;
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg !== 'EdDSA') throw new OdinTokenError('algorithm');
      // After the algorithm, so a refusal keeps naming the first thing wrong with the token.
      if (!isCanonical(token)) throw new OdinTokenError('malformed');
      if (typeof header.kid !== 'string') throw new OdinTokenError('unknown_key');
      key = this.keys.key(header.kid);
      if (!key) throw new OdinTokenError('unknown_key');
      ({ payload } = await jwtVerify(token, await cryptoKeyOf(key.publicKey), {
        algorithms: ['EdDSA'],
        audience: GATEWAY_AUDIENCE,
        requiredClaims: ['exp', 'sub', 'aud'],
        clockTolerance: this.options.leewaySeconds,
        currentDate: new Date(now),
      }));
    } catch (error) {
      throw error instanceof OdinTokenError ? error : new OdinTokenError(refusalOf(error));
    }
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

/**
 * Signs room tokens with an SFU server's derived key. Ed25519 signatures are deterministic,
 * so a token for the same claims (same user, room, server and second) is the same text:
 * reusing it from a small cache is indistinguishable from signing again, and a reconnect
 * storm signs each token once.
 */
export class RoomTokenSigner {
  private readonly signed = new Map<string, string>();
  private cachedSecond = 0;

  async sign(server: Ed25519KeyPair, claims: RoomTokenClaims): Promise<string> {
    // Tokens of a past second are never asked for again: drop them all at once.
    if (claims.nbf !== this.cachedSecond) {
      this.signed.clear();
      this.cachedSecond = claims.nbf;
    }
    const cacheKey = `${server.keyId}\u0000${JSON.stringify(claims)}`;
    const hit = this.signed.get(cacheKey);
    if (hit) return hit;
    const token = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'EdDSA', kid: server.keyId }).sign(await cryptoKeyOf(server.privateKey));
    if (this.signed.size < CACHE_LIMIT) this.signed.set(cacheKey, token);
    return token;
  }
}
