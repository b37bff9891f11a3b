import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/auth/keys.js';
import { TOKEN_KINDS, TokenService, type TokenKind } from '../../src/auth/tokens.js';
import { AppError } from '../../src/core/errors.js';
import { b64u, compactJws, decodeJson, json64, signatureOf, split, type Signer } from '../helpers/jws.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The forged-token suite: for every token kind, tokens an attacker can make (no private key
 * of ours) and tokens only a broken issuer would make (signed by our key, claims wrong). Each
 * must be refused with the one public answer, UNAUTHORIZED "Token is not valid", and leave
 * nothing behind: no cache entry, no key, no change to what valid tokens get.
 *
 * Choices documented here:
 * - `iat` more than the clock leeway in the future is refused: we issue every token ourselves
 *   with our own clock, so a future iat means a broken clock or a broken issuer.
 * - The encoding must be canonical base64url: a segment whose unused trailing bits are set
 *   decodes to the same bytes, and accepting it would make one token have many spellings
 *   (the cache, logs and revocation lists key on the text).
 * - `typ` is compared as RFC 8725 / jose do: case-insensitive, `application/` optional.
 *   "application/at+jwt" is the same type, not a forgery, so it is not in this list.
 */

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const NOW = T0 + 60_000;
const NOW_S = Math.floor(NOW / 1000);
const TOLERANCE = 30;
const KINDS = Object.keys(TOKEN_KINDS) as TokenKind[];

// ---- the deployment under attack: a key retired past its grace, and the signing key ----
const dir = tempDir('switchyard-forged-');
const ring = new KeyRing(dir.path);
const retiredKid = ring.loadOrCreate(T0).kid;
const retiredKey = ring.active().privateKey;
ring.rotate(T0 + 1000, 1); // the old key verifies until T0 + 2000 only
const ourKid = ring.active().kid;
const ours: Signer = { alg: 'EdDSA', key: ring.active().privateKey };
const ourPublic = ring.active().publicKey;
const tokens = new TokenService(ring, { issuer: 'switchyard', clockToleranceSeconds: TOLERANCE });

// ---- the attacker: its own keys, and a genuine deployment of its own with the same issuer name ----
const evilEd = generateKeyPairSync('ed25519');
const evil: Signer = { alg: 'EdDSA', key: evilEd.privateKey };
const evilRsa: Signer = { alg: 'RS256', key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey };
const evilEc: Signer = { alg: 'ES256', key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey };
const otherDir = tempDir('switchyard-forged-other-');
const otherRing = new KeyRing(otherDir.path);
otherRing.loadOrCreate(T0);
const otherDeployment = new TokenService(otherRing, { issuer: 'switchyard', clockToleranceSeconds: TOLERANCE });

afterAll(() => {
  dir.remove();
  otherDir.remove();
});

const publicPem = ourPublic.export({ type: 'spki', format: 'pem' }).toString();
const publicJwk = ourPublic.export({ format: 'jwk' }) as { x: string };
const jwkOf = (key: KeyObject) => ({ ...(key.export({ format: 'jwk' }) as object), kid: ourKid });

/** Sets the unused low bits of a segment's last character: same bytes, different text. */
function nonCanonical(segment: string): string | undefined {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const spare = { 2: 0b1111, 3: 0b11 }[segment.length % 4 as 2 | 3];
  if (spare === undefined) return undefined;
  const last = alphabet.indexOf(segment.at(-1)!);
  return segment.slice(0, -1) + alphabet[last | spare];
}

type Variant = [name: string, token: unknown];

async function variantsFor(kind: TokenKind): Promise<{ valid: string; variants: Variant[] }> {
  const { typ, audience } = TOKEN_KINDS[kind];
  const other = KINDS[(KINDS.indexOf(kind) + 1) % KINDS.length]!;
  const header = { alg: 'EdDSA', kid: ourKid, typ };
  const claims = { iss: 'switchyard', aud: audience, sub: 'victim', jti: 'forged-jti', iat: NOW_S - 10, exp: NOW_S + 600 };
  const without = (name: keyof typeof claims) => Object.fromEntries(Object.entries(claims).filter(([key]) => key !== name));
  const signed = (h: object | { raw: string }, p: object | { raw: string }, signer: Signer = ours) => compactJws(h, p, signer);

  const valid = (await tokens.issue(kind, { subject: 'victim', ttlSeconds: kind === 'app' ? null : 600, now: NOW - 1000 })).token;
  const second = (await tokens.issue(kind, { subject: 'someone-else', ttlSeconds: kind === 'app' ? null : 600, now: NOW - 1000 })).token;
  const v = split(valid);
  const w = split(second);
  const tamperedClaims = { ...decodeJson(v.payload), sub: 'admin' };
  const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);

  const variants: Variant[] = [
    // -- algorithm confusion --
    ['alg none, empty signature', signed({ ...header, alg: 'none' }, claims, { alg: 'none' })],
    ['alg none with a signature', `${json64({ ...header, alg: 'none' })}.${json64(claims)}.${v.signature}`],
    ['alg "None"', signed({ ...header, alg: 'None' }, claims, { alg: 'none' }) + 'AAAA'],
    ['HS256 keyed with our public key PEM', signed({ ...header, alg: 'HS256' }, claims, { alg: 'HS256', secret: publicPem })],
    ['HS256 keyed with our raw public key', signed({ ...header, alg: 'HS256' }, claims, { alg: 'HS256', secret: Buffer.from(publicJwk.x, 'base64url') })],
    ['HS256 keyed with our JWK x', signed({ ...header, alg: 'HS256' }, claims, { alg: 'HS256', secret: publicJwk.x })],
    ['RS256 header with our kid', signed({ ...header, alg: 'RS256' }, claims, evilRsa)],
    ['ES256 header with our kid', signed({ ...header, alg: 'ES256' }, claims, evilEc)],
    ['lowercase eddsa, signed by our key', signed({ ...header, alg: 'eddsa' }, claims)],
    ['alg Ed25519 (not the pinned name), signed by our key', signed({ ...header, alg: 'Ed25519' }, claims)],
    // -- key selection --
    ['unknown kid, attacker key', signed({ ...header, kid: 'attacker-1' }, claims, evil)],
    ['unknown kid, signed by our key', signed({ ...header, kid: 'attacker-1' }, claims)],
    ['kid path traversal', signed({ ...header, kid: `../../signing/${ourKid}` }, claims)],
    ['kid __proto__', signed({ ...header, kid: '__proto__' }, claims)],
    ['no kid, signed by our key', signed({ alg: 'EdDSA', typ }, claims)],
    ['numeric kid', signed({ ...header, kid: 7 }, claims)],
    ['embedded jwk of the attacker, signed by it', signed({ ...header, jwk: jwkOf(evilEd.publicKey) }, claims, evil)],
    ['embedded jwk of our own key, signed by our key', signed({ ...header, jwk: jwkOf(ourPublic) }, claims)],
    ['jku header, attacker key', signed({ ...header, jku: 'https://attacker.example/jwks.json' }, claims, evil)],
    ['jku header, signed by our key', signed({ ...header, jku: 'https://attacker.example/jwks.json' }, claims)],
    ['x5u header, signed by our key', signed({ ...header, x5u: 'https://attacker.example/cert.pem' }, claims)],
    ['x5c header, signed by our key', signed({ ...header, x5c: ['MIIB'] }, claims)],
    ['same kid, attacker key', signed(header, claims, evil)],
    ['signed by our key retired past its grace', signed({ ...header, kid: retiredKid }, claims, { alg: 'EdDSA', key: retiredKey })],
    ['genuine token of another deployment (same issuer name)', (await otherDeployment.issue(kind, { subject: 'victim', ttlSeconds: 600, now: NOW })).token],
    // -- claims (signed by our key: only a broken issuer makes these) --
    ['expired past the leeway', signed(header, { ...claims, exp: NOW_S - TOLERANCE - 1 })],
    ['expired long ago', signed(header, { ...claims, iat: NOW_S - 86_400, exp: NOW_S - 80_000 })],
    ['nbf in the future past the leeway', signed(header, { ...claims, nbf: NOW_S + TOLERANCE + 60 })],
    ['iat a day in the future', signed(header, { ...claims, iat: NOW_S + 86_400, exp: NOW_S + 90_000 })],
    ['exp as a string', signed(header, { ...claims, exp: String(NOW_S + 600) })],
    ['exp Infinity (1e400)', signed(header, { raw: b64u(JSON.stringify(claims).replace(/"exp":\d+/, '"exp":1e400')) })],
    ['iat missing', signed(header, without('iat'))],
    ['wrong aud', signed(header, { ...claims, aud: 'switchyard:other' })],
    ['aud of another kind', signed(header, { ...claims, aud: TOKEN_KINDS[other].audience })],
    ['aud array without ours', signed(header, { ...claims, aud: ['switchyard:other', 'x'] })],
    ['aud missing', signed(header, without('aud'))],
    ['wrong iss', signed(header, { ...claims, iss: 'https://attacker.example' })],
    ['iss missing', signed(header, without('iss'))],
    ['typ JWT', signed({ ...header, typ: 'JWT' }, claims)],
    ['typ missing', signed({ alg: 'EdDSA', kid: ourKid }, claims)],
    ['typ of another kind', signed({ ...header, typ: TOKEN_KINDS[other].typ }, claims)],
    ['typ and aud of another kind', signed({ ...header, typ: TOKEN_KINDS[other].typ }, { ...claims, aud: TOKEN_KINDS[other].audience })],
    ['sub missing', signed(header, without('sub'))],
    ['sub a number', signed(header, { ...claims, sub: 42 })],
    ['sub an object', signed(header, { ...claims, sub: { id: 'victim' } })],
    ['jti missing', signed(header, without('jti'))],
    ['jti a number', signed(header, { ...claims, jti: 1 })],
    ['payload not JSON', signed(header, { raw: b64u('sub=victim') })],
    ['payload a JSON array', signed(header, { raw: json64([claims]) })],
    ['payload a JSON string', signed(header, { raw: json64('victim') })],
    ['payload JSON null', signed(header, { raw: b64u('null') })],
    ['payload invalid UTF-8', signed(header, { raw: b64u(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])) })],
    ['header not JSON', signed({ raw: b64u('alg=EdDSA') }, claims)],
    ['header a JSON array', signed({ raw: json64([header]) }, claims)],
    ['crit with an unknown extension', signed({ ...header, crit: ['exp-policy'], 'exp-policy': 1 }, claims)],
    ['crit naming a registered header', signed({ ...header, crit: ['kid'] }, claims)],
    ['b64:false (unencoded payload)', (() => {
      const h = json64({ ...header, b64: false, crit: ['b64'] });
      const raw = JSON.stringify(claims).replace(/[^A-Za-z0-9_-]/g, '');
      return `${h}.${raw}.${signatureOf(`${h}.${raw}`, ours)}`;
    })()],
    ['header and payload swapped', signed(claims, header)],
    // -- tampering with a genuine token --
    ['tampered payload (sub changed), original signature', `${v.header}.${json64(tamperedClaims)}.${v.signature}`],
    ['duplicate sub appended to the payload, original signature',
      `${v.header}.${b64u(Buffer.from(v.payload, 'base64url').toString('utf8').replace(/}$/, ',"sub":"admin"}'))}.${v.signature}`],
    ['duplicate alg none in the header, original signature',
      `${b64u(Buffer.from(v.header, 'base64url').toString('utf8').replace(/}$/, ',"alg":"none"}'))}.${v.payload}.${v.signature}`],
    ['__proto__ claims, attacker key', signed(header, { raw: b64u(`{"__proto__":{"sub":"admin"},"iss":"switchyard","aud":"${audience}","jti":"j","iat":${NOW_S},"exp":${NOW_S + 60}}`) }, evil)],
    ['header re-encoded with whitespace, original signature', `${b64u(JSON.stringify(decodeJson(v.header), null, 1))}.${v.payload}.${v.signature}`],
    ['tampered signature (one character)', `${v.header}.${v.payload}.${flip(v.signature, 10)}`],
    ['signature all zero', `${v.header}.${v.payload}.${b64u(Buffer.alloc(64))}`],
    ['signature of another token', `${v.header}.${v.payload}.${w.signature}`],
    ['payload of another token', `${v.header}.${w.payload}.${v.signature}`],
    ['non-canonical base64url in the signature', `${v.header}.${v.payload}.${nonCanonical(v.signature)}`],
    ['non-canonical base64url in the payload', `${v.header}.${nonCanonical(v.payload) ?? v.payload + 'A'}.${v.signature}`],
    ['truncated by one character', valid.slice(0, -1)],
    ['truncated to two segments', `${v.header}.${v.payload}`],
    ['signature cut in half', `${v.header}.${v.payload}.${v.signature.slice(0, 43)}`],
    ['an extra segment', `${valid}.${v.signature}`],
    ['five segments (JWE shape)', `${v.header}..${v.payload}.${v.signature}.x`],
    ['empty header segment', `.${v.payload}.${v.signature}`],
    ['empty payload segment', `${v.header}..${v.signature}`],
    ['empty signature segment', `${v.header}.${v.payload}.`],
    ['three empty segments', '..'],
    ['non-base64url characters (+ and /)', `${v.header}.${v.payload}.${v.signature.replace(/-/g, '+').replace(/_/g, '/')}+/`],
    ['padding =', `${valid}==`],
    ['padding inside a segment', `${v.header}=.${v.payload}.${v.signature}`],
    ['leading space', ` ${valid}`],
    ['trailing newline', `${valid}\n`],
    ['space inside', `${v.header}. ${v.payload}.${v.signature}`],
    ['Bearer prefix', `Bearer ${valid}`],
    ['huge token (100 KB, signed by our key)', signed(header, { ...claims, pad: 'x'.repeat(100 * 1024) })],
    ['token as a Buffer', Buffer.from(valid)],
    ['token in an array', [valid]],
    ['token as an object', { token: valid }],
  ];
  if (kind !== 'app') variants.push(['exp missing', signed(header, without('exp'))]);
  return { valid, variants };
}

/** The verification cache is private; its size is the one state a refused token could leave behind. */
const cacheSize = (service: TokenService): number => (service as unknown as { verified: Map<string, unknown> }).verified.size;

async function expectRefused(kind: TokenKind, token: unknown): Promise<void> {
  let error: unknown;
  try {
    await tokens.verify(kind, token, NOW);
  } catch (caught) {
    error = caught;
  }
  expect(error, 'the token was accepted').toBeInstanceOf(AppError);
  expect({ code: (error as AppError).code, message: (error as AppError).message }).toEqual({ code: 'UNAUTHORIZED', message: 'Token is not valid' });
}

const suites = new Map<TokenKind, Awaited<ReturnType<typeof variantsFor>>>();
for (const kind of KINDS) suites.set(kind, await variantsFor(kind));

describe.each(KINDS)('forged %s tokens', (kind) => {
  const { valid, variants } = suites.get(kind)!;

  it('has at least 36 variants, all distinct from the genuine token', () => {
    expect(variants.length).toBeGreaterThanOrEqual(36);
    for (const [name, token] of variants) expect(token, name).not.toBe(valid);
  });

  it('the genuine token verifies (the suite would prove nothing otherwise)', async () => {
    expect((await tokens.verify(kind, valid, NOW)).sub).toBe('victim');
  });

  it.each(variants)('refuses: %s', async (_name, token) => {
    await expectRefused(kind, token);
  });

  it('refusals leave no state behind: no cache entry, no key, and the genuine token still verifies', async () => {
    const keyFiles = readdirSync(join(dir.path, 'keys', 'signing')).sort();
    const published = ring.published(NOW).map((key) => key.kid);
    await tokens.verify(kind, valid, NOW);
    const cached = cacheSize(tokens);
    for (const [, token] of variants) await expectRefused(kind, token);
    // A second round: nothing was cached as accepted by the first.
    for (const [, token] of variants) await expectRefused(kind, token);
    expect(cacheSize(tokens)).toBe(cached);
    expect(readdirSync(join(dir.path, 'keys', 'signing')).sort()).toEqual(keyFiles);
    expect(ring.published(NOW).map((key) => key.kid)).toEqual(published);
    expect(ring.active().kid).toBe(ourKid);
    expect((await tokens.verify(kind, valid, NOW)).sub).toBe('victim');
    // And a fresh service (no cache at all) agrees on every one of them.
    const fresh = new TokenService(ring, { issuer: 'switchyard', clockToleranceSeconds: TOLERANCE });
    for (const [name, token] of variants) await expect(fresh.verify(kind, token, NOW), name).rejects.toThrow('Token is not valid');
  });
});
