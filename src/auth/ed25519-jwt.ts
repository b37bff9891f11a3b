import { sign as ed25519Sign, verify as ed25519Verify, type KeyObject } from 'node:crypto';

/**
 * Our own tokens (EdDSA, Ed25519) signed and checked with node:crypto directly: one
 * synchronous signature check and two JSON parses, where jose's jwtVerify went through
 * WebCrypto's promise per token (issue 15: a cold check cost about twice a bare verify).
 * jose stays for external issuers' tokens and JWKS (tokens.ts). The checks are jose's for
 * the options tokens.ts used, written out: alg pinned to EdDSA, typ, no `crit` or `b64`
 * header, issuer, audience, required claims, exp and nbf with the leeway.
 */

export interface Ed25519JwtHeader {
  alg: 'EdDSA';
  kid: string;
  typ: string;
}

export interface VerifyOptions {
  typ: string;
  issuer: string;
  audience: string;
  requiredClaims: readonly string[];
  clockToleranceSeconds: number;
  /** Epoch milliseconds. */
  now: number;
  /** The public key the token's `kid` names, or undefined (refused). */
  keyOf(header: Record<string, unknown>): KeyObject | undefined;
}

/** Why a token was refused, for tests and logs; clients only ever hear "Token is not valid". */
export class JwtRefused extends Error {}

const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export function signEd25519Jwt(header: Ed25519JwtHeader, payload: Record<string, unknown>, privateKey: KeyObject): string {
  const input = `${encode(header)}.${encode(payload)}`;
  return `${input}.${ed25519Sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
}

/** A JSON object from base64url, or a refusal: anything else in a header or payload is a forgery. */
function decodeObject(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new JwtRefused(`${what} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new JwtRefused(`${what} is not an object`);
  return value as Record<string, unknown>;
}

/** As jose compares `typ`: case aside, with or without the `application/` prefix. */
const normalizeTyp = (typ: string): string => typ.toLowerCase().replace(/^application\//, '');

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** The payload of a token with a valid signature and claims; throws JwtRefused otherwise. */
export function verifyEd25519Jwt(token: string, options: VerifyOptions): Record<string, unknown> {
  const first = token.indexOf('.');
  const last = token.lastIndexOf('.');
  if (first <= 0 || last === first || last === token.length - 1) throw new JwtRefused('not three segments');
  const header = decodeObject(token.slice(0, first), 'header');
  if (header.alg !== 'EdDSA') throw new JwtRefused('alg is not EdDSA');
  // Extensions we do not implement must not be ignored (RFC 7515 4.1.11); unencoded payloads neither.
  if (header.crit !== undefined || header.b64 !== undefined) throw new JwtRefused('crit or b64 header');
  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== normalizeTyp(options.typ)) throw new JwtRefused('typ');
  const key = options.keyOf(header);
  if (!key) throw new JwtRefused('unknown key');
  const signature = Buffer.from(token.slice(last + 1), 'base64url');
  if (!ed25519Verify(null, Buffer.from(token.slice(0, last)), key, signature)) throw new JwtRefused('signature');
  const payload = decodeObject(token.slice(first + 1, last), 'payload');
  for (const claim of options.requiredClaims) if (payload[claim] === undefined) throw new JwtRefused(`missing ${claim}`);
  if (payload.iss !== options.issuer) throw new JwtRefused('issuer');
  const { aud } = payload;
  if (!(aud === options.audience || (Array.isArray(aud) && aud.includes(options.audience)))) throw new JwtRefused('audience');
  const now = Math.floor(options.now / 1000);
  const leeway = options.clockToleranceSeconds;
  if (payload.iat !== undefined && !isNumber(payload.iat)) throw new JwtRefused('iat');
  if (payload.exp !== undefined && (!isNumber(payload.exp) || payload.exp <= now - leeway)) throw new JwtRefused('expired');
  if (payload.nbf !== undefined && (!isNumber(payload.nbf) || payload.nbf > now + leeway)) throw new JwtRefused('not yet valid');
  return payload;
}
