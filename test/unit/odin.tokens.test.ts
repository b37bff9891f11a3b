import { TokenGenerator, generateAccessKey } from '@4players/odin-tokens';
import { verify as verifySignature } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OdinTokenVerifier, RoomTokenSigner, type OdinAccessKey, type OdinKeyLookup, type TokenRefusal } from '../../src/auth/odin.js';
import { deriveServerKey, loadAccessKey } from '../../src/auth/odin-keys.js';
import { compactJws, decodeJson, split } from '../helpers/jws.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const nowSeconds = Math.floor(NOW / 1000);

function keySet(...accessKeys: string[]): OdinKeyLookup & { keys: Map<string, OdinAccessKey>; generation: number } {
  const keys = new Map<string, OdinAccessKey>();
  for (const accessKey of accessKeys) {
    const pair = loadAccessKey(accessKey);
    keys.set(pair.keyId, { keyId: pair.keyId, customerId: 'acme', namespace: 'acme-ns', publicKey: pair.publicKey });
  }
  return { keys, generation: 1, key: (keyId) => keys.get(keyId) };
}

async function refusalOf(promise: Promise<unknown>): Promise<TokenRefusal | 'accepted'> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    const reason = OdinTokenVerifier.refusal(error);
    if (!reason) throw error;
    // Every refusal looks the same to the client.
    expect(error).toMatchObject({ code: 'UNAUTHORIZED', message: 'invalid or missing authorization token' });
    return reason;
  }
}

/** A token signed with the access key, with exactly these claims (odin-tokens always adds some). */
function handMade(accessKey: string, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const pair = loadAccessKey(accessKey);
  return compactJws({ alg: 'EdDSA', kid: pair.keyId, ...header }, claims, { alg: 'EdDSA', key: pair.privateKey });
}

const good = { rid: 'lobby', uid: 'alice', sub: 'Connect', aud: 'gateway', nbf: nowSeconds, exp: nowSeconds + 300 };

describe('room API tokens made by @4players/odin-tokens', () => {
  // odin-tokens stamps nbf/exp from the real clock, so these tests verify at the real time.
  it('are accepted with their claims, sub matched case-insensitively', async () => {
    const accessKey = generateAccessKey();
    const verifier = new OdinTokenVerifier(keySet(accessKey), { leewaySeconds: 30 });
    const token = new TokenGenerator(accessKey).createToken('lobby{eu}', 'alice', { audience: 'gateway', subject: ['connect', 'RoomClose'] });
    const verified = await verifier.verify(token, Date.now());
    expect(verified.userId).toBe('alice');
    expect(verified.rooms).toEqual(['lobby{eu}']);
    expect(verified.rid).toBe('lobby{eu}');
    expect([...verified.methods].sort()).toEqual(['connect', 'roomclose']);
    expect(verified.key.customerId).toBe('acme');
  });

  it('keep a rid list as it is', async () => {
    const accessKey = generateAccessKey();
    const verifier = new OdinTokenVerifier(keySet(accessKey), { leewaySeconds: 30 });
    const token = new TokenGenerator(accessKey).createToken(['a{x}', 'b{x}'], 'bob', { audience: 'gateway' });
    const verified = await verifier.verify(token, Date.now());
    expect(verified.rid).toEqual(['a{x}', 'b{x}']);
    // odin-tokens' default subject is "connect".
    expect([...verified.methods]).toEqual(['connect']);
  });

  it('are refused without aud (odin-tokens leaves it out unless asked) or with aud "sfu"', async () => {
    const accessKey = generateAccessKey();
    const verifier = new OdinTokenVerifier(keySet(accessKey), { leewaySeconds: 30 });
    const generator = new TokenGenerator(accessKey);
    expect(await refusalOf(verifier.verify(generator.createToken('r', 'u'), Date.now()))).toBe('missing_claim');
    expect(await refusalOf(verifier.verify(generator.createToken('r', 'u', { audience: 'sfu' }), Date.now()))).toBe('audience');
  });

  it('are refused when signed with a key the gateway does not know', async () => {
    const verifier = new OdinTokenVerifier(keySet(generateAccessKey()), { leewaySeconds: 30 });
    const stranger = new TokenGenerator(generateAccessKey()).createToken('r', 'u', { audience: 'gateway' });
    expect(await refusalOf(verifier.verify(stranger, Date.now()))).toBe('unknown_key');
  });
});

describe('token checks', () => {
  const accessKey = generateAccessKey();
  const keys = keySet(accessKey);
  const verifier = () => new OdinTokenVerifier(keys, { leewaySeconds: 30 });

  it('accepts a well-formed token', async () => {
    expect(await refusalOf(verifier().verify(handMade(accessKey, good), NOW))).toBe('accepted');
  });

  it.each([
    ['no exp', { ...good, exp: undefined }, 'missing_claim'],
    ['no sub', { ...good, sub: undefined }, 'missing_claim'],
    ['no aud', { ...good, aud: undefined }, 'missing_claim'],
    ['aud of another service', { ...good, aud: 'sfu' }, 'audience'],
    ['aud list without gateway', { ...good, aud: ['sfu', 'other'] }, 'audience'],
    ['no rid', { ...good, rid: undefined }, 'missing_claim'],
    ['no uid', { ...good, uid: undefined }, 'missing_claim'],
    ['empty sub list', { ...good, sub: [] }, 'claim_type'],
    ['sub not a string', { ...good, sub: 7 }, 'claim_type'],
    ['rid a number', { ...good, rid: 5 }, 'claim_type'],
    ['empty rid list', { ...good, rid: [] }, 'claim_type'],
    ['uid a number', { ...good, uid: 3 }, 'claim_type'],
    ['expired beyond the leeway', { ...good, exp: nowSeconds - 31 }, 'expired'],
    ['not valid until beyond the leeway', { ...good, nbf: nowSeconds + 31 }, 'not_yet_valid'],
  ])('refuses %s', async (_name, claims, reason) => {
    const clean = Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined));
    expect(await refusalOf(verifier().verify(handMade(accessKey, clean), NOW))).toBe(reason);
  });

  it('accepts exp and nbf within the leeway, and a configured leeway moves the line', async () => {
    expect(await refusalOf(verifier().verify(handMade(accessKey, { ...good, exp: nowSeconds - 29 }), NOW))).toBe('accepted');
    expect(await refusalOf(verifier().verify(handMade(accessKey, { ...good, nbf: nowSeconds + 29 }), NOW))).toBe('accepted');
    const strict = new OdinTokenVerifier(keys, { leewaySeconds: 0 });
    expect(await refusalOf(strict.verify(handMade(accessKey, { ...good, exp: nowSeconds - 1 }), NOW))).toBe('expired');
  });

  it('refuses forged tokens: bad signature, alg none, HMAC, unknown or missing kid, garbage', async () => {
    const token = handMade(accessKey, good);
    const { header, payload, signature } = split(token);
    const flipped = Buffer.from(signature, 'base64url');
    flipped[0]! ^= 0x01;
    expect(await refusalOf(verifier().verify(`${header}.${payload}.${flipped.toString('base64url')}`, NOW))).toBe('signature');
    // The claims changed after signing (another room) must not verify.
    const otherRoom = compactJws({ raw: header }, { ...good, rid: 'admin' }, { alg: 'none' });
    expect(await refusalOf(verifier().verify(`${otherRoom}${signature}`, NOW))).toBe('signature');
    const kid = decodeJson(header).kid;
    expect(await refusalOf(verifier().verify(compactJws({ alg: 'none', kid }, good, { alg: 'none' }), NOW))).toBe('malformed');
    expect(await refusalOf(verifier().verify(`${compactJws({ alg: 'none', kid }, good, { alg: 'none' })}x`, NOW))).toBe('algorithm');
    expect(await refusalOf(verifier().verify(compactJws({ alg: 'HS256', kid }, good, { alg: 'HS256', secret: 'x' }), NOW))).toBe('algorithm');
    expect(await refusalOf(verifier().verify(handMade(accessKey, good, { kid: 'AAAAAAAAAAAA' }), NOW))).toBe('unknown_key');
    expect(await refusalOf(verifier().verify(handMade(accessKey, good, { kid: undefined }), NOW))).toBe('unknown_key');
    expect(await refusalOf(verifier().verify('not.a.jwt', NOW))).toBe('malformed');
    expect(await refusalOf(verifier().verify(undefined, NOW))).toBe('malformed');
    expect(await refusalOf(verifier().verify(`${token}${'A'.repeat(5000)}`, NOW))).toBe('malformed');
  });

  it('re-checks expiry of a cached token and forgets it when the key set changes', async () => {
    const local = keySet(accessKey);
    const cached = new OdinTokenVerifier(local, { leewaySeconds: 0 });
    const token = handMade(accessKey, { ...good, exp: nowSeconds + 10 });
    expect(await refusalOf(cached.verify(token, NOW))).toBe('accepted');
    expect(await refusalOf(cached.verify(token, NOW + 11_000))).toBe('expired');
    expect(await refusalOf(cached.verify(token, NOW))).toBe('accepted');
    local.keys.clear();
    local.generation += 1;
    expect(await refusalOf(cached.verify(token, NOW))).toBe('unknown_key');
  });
});

describe('room tokens', () => {
  it('are signed with the server key, carry the ODIN claims and are reused within the same second', async () => {
    const server = deriveServerKey(Buffer.alloc(32, 1), 'sfu-1.example:4433');
    const signer = new RoomTokenSigner();
    const claims = {
      uid: 'alice',
      cid: 'acme',
      rid: 'lobby',
      nsp: 'acme',
      adr: 'sfu-1.example:4433',
      sub: 'connect' as const,
      aud: 'sfu' as const,
      nbf: nowSeconds,
      exp: nowSeconds + 300,
    };
    const token = await signer.sign(server, claims);
    const { header, payload, signature } = split(token);
    expect(decodeJson(header)).toEqual({ alg: 'EdDSA', kid: server.keyId });
    expect(decodeJson(payload)).toEqual(claims);
    expect(verifySignature(null, Buffer.from(`${header}.${payload}`), server.publicKey, Buffer.from(signature, 'base64url'))).toBe(true);
    const other = deriveServerKey(Buffer.alloc(32, 1), 'sfu-2.example:4433');
    expect(verifySignature(null, Buffer.from(`${header}.${payload}`), other.publicKey, Buffer.from(signature, 'base64url'))).toBe(false);
    expect(await signer.sign(server, { ...claims })).toBe(token);
    expect(await signer.sign(server, { ...claims, uid: 'bob' })).not.toBe(token);
    expect(await signer.sign(server, { ...claims, nbf: nowSeconds + 1, exp: nowSeconds + 301 })).not.toBe(token);
  });
});
