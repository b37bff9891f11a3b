import { generateAccessKey } from '@4players/odin-tokens';
import { errors as joseErrors, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { OdinTokenVerifier, loadAccessKey, type OdinAccessKey, type OdinKeyLookup, type TokenRefusal } from '../../src/auth/index.js';
import { b64u, compactJws, json64, signatureOf, split } from '../helpers/jws.js';

/**
 * The room API's token check moved from jose's jwtVerify (over WebCrypto) to node:crypto
 * (issue 15). Every token here gets the verdict, and the refusal reason, that jose and the
 * old mapping of its errors gave, for the options the verifier handed jose. The only
 * intended difference: an unknown `crit` extension was jose's JOSENotSupported ("algorithm");
 * it is now "malformed", like every other header we do not accept.
 */

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const S = Math.floor(NOW / 1000);
const LEEWAY = 30;
const accessKey = generateAccessKey();
const pair = loadAccessKey(accessKey);
const keys = new Map<string, OdinAccessKey>([[pair.keyId, { keyId: pair.keyId, customerId: 'acme', namespace: 'acme', publicKey: pair.publicKey }]]);
const lookup: OdinKeyLookup = { generation: 1, key: (keyId) => keys.get(keyId) };
const signer = { alg: 'EdDSA' as const, key: pair.privateKey };
const header = { alg: 'EdDSA', kid: pair.keyId };
const good = { rid: 'lobby', uid: 'alice', sub: 'Connect', aud: 'gateway', nbf: S, exp: S + 300 };
const signed = (claims: unknown, extraHeader: Record<string, unknown> = {}) => compactJws({ ...header, ...extraHeader }, claims as object, signer);
const rawSigned = (payload: string) => {
  const input = `${json64(header)}.${b64u(payload)}`;
  return `${input}.${signatureOf(input, signer)}`;
};

/** What the verifier said when jose checked the signature and the claims (its old error mapping). */
async function joseVerdict(token: string): Promise<TokenRefusal | 'accepted'> {
  try {
    await jwtVerify(token, pair.publicKey, {
      algorithms: ['EdDSA'],
      audience: 'gateway',
      requiredClaims: ['exp', 'sub', 'aud'],
      clockTolerance: LEEWAY,
      currentDate: new Date(NOW),
    });
    return 'accepted';
  } catch (error) {
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
}

async function ourVerdict(token: string): Promise<TokenRefusal | 'accepted'> {
  try {
    await new OdinTokenVerifier(lookup, { leewaySeconds: LEEWAY }).verify(token, NOW);
    return 'accepted';
  } catch (error) {
    const reason = OdinTokenVerifier.refusal(error);
    if (!reason) throw error;
    return reason;
  }
}

const { header: h, payload: p, signature: sig } = split(signed(good));
const cases: [string, string][] = [
  ['a good token', signed(good)],
  ['aud a list with gateway', signed({ ...good, aud: ['sfu', 'gateway'] })],
  ['aud a number', signed({ ...good, aud: 7 })],
  ['aud a list without gateway', signed({ ...good, aud: ['sfu'] })],
  ['aud missing', signed({ ...good, aud: undefined })],
  ['sub missing', signed({ ...good, sub: undefined })],
  ['exp missing', signed({ ...good, exp: undefined })],
  ['exp null', signed({ ...good, exp: null })],
  ['exp a string', signed({ ...good, exp: String(S + 300) })],
  ['exp just past the leeway', signed({ ...good, exp: S - LEEWAY })],
  ['exp just inside the leeway', signed({ ...good, exp: S - LEEWAY + 1 })],
  ['nbf a string', signed({ ...good, nbf: 'soon' })],
  ['nbf just past the leeway', signed({ ...good, nbf: S + LEEWAY + 1 })],
  ['nbf at the leeway', signed({ ...good, nbf: S + LEEWAY })],
  ['iat a string', signed({ ...good, iat: 'yesterday' })],
  ['iat in the future (no max age asked)', signed({ ...good, iat: S + 3600 })],
  ['claims an array', rawSigned(JSON.stringify([good]))],
  ['claims a string', rawSigned('"hello"')],
  ['claims not JSON', rawSigned('{"rid":')],
  ['claims with invalid UTF-8', (() => {
    const input = `${json64(header)}.${Buffer.concat([Buffer.from('{"rid":"'), Buffer.from([0xff, 0xfe]), Buffer.from(`","uid":"a","sub":"x","aud":"gateway","exp":${S + 300}}`)]).toString('base64url')}`;
    return `${input}.${signatureOf(input, signer)}`;
  })()],
  ['b64 false with crit', signed(good, { b64: false, crit: ['b64'] })],
  ['the signature of other claims', `${h}.${json64({ ...good, rid: 'admin' })}.${sig}`],
  ['a signature of 63 bytes', `${h}.${p}.${b64u(Buffer.from(sig, 'base64url').subarray(0, 63))}`],
  ['a signature of 65 bytes', `${h}.${p}.${b64u(Buffer.concat([Buffer.from(sig, 'base64url'), Buffer.from([0])]))}`],
  ['header not JSON', `${b64u('{"alg":')}.${p}.${sig}`],
  ['header an array', `${b64u('["EdDSA"]')}.${p}.${sig}`],
  ['alg RS256', signed(good, { alg: 'RS256' })],
];

describe('ODIN token check on node:crypto: the verdicts jose gave', () => {
  it.each(cases)('%s', async (_name, token) => {
    expect(await ourVerdict(token)).toBe(await joseVerdict(token));
  });

  it('an unknown crit extension is refused, now as malformed', async () => {
    const token = signed(good, { crit: ['exp'], exp: 1 });
    expect(await joseVerdict(token)).not.toBe('accepted');
    expect(await ourVerdict(token)).toBe('malformed');
  });
});
