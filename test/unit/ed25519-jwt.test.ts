import { generateKeyPairSync } from 'node:crypto';
import { compactVerify, importSPKI } from 'jose';
import { describe, expect, it } from 'vitest';
import { JwtRefused, signEd25519Jwt, verifyEd25519Jwt, type VerifyOptions } from '../../src/auth/ed25519-jwt.js';

/**
 * The node:crypto signer and checker of our own tokens (src/auth/ed25519-jwt.ts): what they
 * write verifies with jose (another implementation), and each check jose made is still made.
 * The forged-token suites (tokens.forged, tokens.property) run against TokenService on top.
 */
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const NOW = Date.UTC(2030, 0, 1);
const now = Math.floor(NOW / 1000);
const header = { alg: 'EdDSA' as const, kid: 'k1', typ: 'at+jwt' };
const claims = { iss: 'switchyard', aud: 'switchyard:api', sub: 'u1', jti: 'j1', iat: now, exp: now + 60 };
const options: VerifyOptions = {
  typ: 'at+jwt',
  issuer: 'switchyard',
  audience: 'switchyard:api',
  requiredClaims: ['sub', 'jti', 'iat', 'exp'],
  clockToleranceSeconds: 30,
  now: NOW,
  keyOf: (h) => (h.kid === 'k1' ? publicKey : undefined),
};
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** A token signed with our key over any header and payload (what a forger cannot make, to test the claim checks alone). */
const signed = (h: Record<string, unknown>, p: Record<string, unknown>) => signEd25519Jwt(h as typeof header, p, privateKey);

describe('Ed25519 JWTs with node:crypto', () => {
  it('signs what jose verifies, and verifies it back to the claims', async () => {
    const token = signEd25519Jwt(header, claims, privateKey);
    const { protectedHeader } = await compactVerify(token, await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'EdDSA'));
    expect(protectedHeader).toEqual(header);
    expect(verifyEd25519Jwt(token, options)).toEqual(claims);
  });

  it('compares typ as jose does: case and the application/ prefix aside', () => {
    expect(verifyEd25519Jwt(signed({ ...header, typ: 'application/AT+JWT' }, claims), options).sub).toBe('u1');
    expect(() => verifyEd25519Jwt(signed({ ...header, typ: 'switchyard-refresh+jwt' }, claims), options)).toThrow(JwtRefused);
  });

  it.each([
    ['another alg', { ...header, alg: 'none' }, claims],
    ['a crit header', { ...header, crit: ['exp'] }, claims],
    ['an unencoded payload (b64)', { ...header, b64: false }, claims],
    ['an unknown kid', { ...header, kid: 'k2' }, claims],
    ['another issuer', header, { ...claims, iss: 'evil' }],
    ['another audience', header, { ...claims, aud: ['switchyard:refresh'] }],
    ['no exp', header, { ...claims, exp: undefined }],
    ['an exp past the leeway', header, { ...claims, exp: now - 31 }],
    ['an exp written as a string', header, { ...claims, exp: String(now + 60) }],
    ['an nbf past the leeway', header, { ...claims, nbf: now + 31 }],
    ['an iat that is not a number', header, { ...claims, iat: 'yesterday' }],
  ])('refuses %s', (_what, h, p) => {
    expect(() => verifyEd25519Jwt(signed(h, p), options)).toThrow(JwtRefused);
  });

  it('accepts an audience list holding ours, and an exp inside the leeway', () => {
    expect(verifyEd25519Jwt(signed(header, { ...claims, aud: ['other', 'switchyard:api'], exp: now - 29 }), options).sub).toBe('u1');
  });

  it('refuses a header or payload that is not a JSON object, and a signature over other bytes', () => {
    const token = signEd25519Jwt(header, claims, privateKey);
    const [h, p, s] = token.split('.');
    expect(() => verifyEd25519Jwt(`${b64('text')}.${p}.${s}`, options)).toThrow(JwtRefused);
    expect(() => verifyEd25519Jwt(`${h}.${b64({ ...claims, sub: 'u2' })}.${s}`, options)).toThrow(JwtRefused);
    expect(() => verifyEd25519Jwt(`${h}.${p}`, options)).toThrow(JwtRefused);
  });
});
