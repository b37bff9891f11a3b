import { generateAccessKey } from '@4players/odin-tokens';
import { describe, expect, it } from 'vitest';
import { OdinTokenVerifier, type OdinAccessKey, type OdinKeyLookup } from '../../src/auth/odin.js';
import { loadAccessKey } from '../../src/auth/odin-keys.js';
import { compactJws } from '../helpers/jws.js';

/**
 * Issue 16 point 10: a room API token whose last base64url character is respelled (the
 * unused low bits of a segment set) decodes to the same bytes and used to verify. Only the
 * canonical spelling is accepted, as for the login tokens (tokens.forged.test.ts).
 */

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const nowSeconds = Math.floor(NOW / 1000);
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Every other spelling of a segment with the same bytes: its last character's unused bits set. */
function respellings(segment: string): string[] {
  const spare = { 2: 0b1111, 3: 0b11 }[(segment.length % 4) as 2 | 3];
  if (spare === undefined) return [];
  const last = ALPHABET.indexOf(segment.at(-1)!);
  const spellings: string[] = [];
  for (let bits = 1; bits <= spare; bits++) spellings.push(segment.slice(0, -1) + ALPHABET[(last & ~spare) | bits]);
  return spellings.filter((spelling) => spelling !== segment);
}

function setup(): { verifier: OdinTokenVerifier; token: string } {
  const accessKey = generateAccessKey();
  const pair = loadAccessKey(accessKey);
  const keys = new Map<string, OdinAccessKey>([[pair.keyId, { keyId: pair.keyId, customerId: 'acme', namespace: 'acme', publicKey: pair.publicKey }]]);
  const lookup: OdinKeyLookup = { generation: 1, key: (keyId) => keys.get(keyId) };
  const claims = { rid: 'lobby', uid: 'alice', sub: 'RoomClose', aud: 'gateway', nbf: nowSeconds, exp: nowSeconds + 300 };
  return { verifier: new OdinTokenVerifier(lookup, { leewaySeconds: 30 }), token: compactJws({ alg: 'EdDSA', kid: pair.keyId }, claims, { alg: 'EdDSA', key: pair.privateKey }) };
}

describe('ODIN room API tokens: one spelling only', () => {
  it('refuses every respelling of the signature, before and after the token is cached', async () => {
    const { verifier, token } = setup();
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const variants = respellings(signature).map((spelling) => `${header}.${payload}.${spelling}`);
    // An Ed25519 signature is 64 bytes: 86 characters, the last carrying 4 unused bits.
    expect(variants).toHaveLength(15);
    for (const variant of variants) {
      expect(Buffer.from(variant.split('.')[2]!, 'base64url')).toEqual(Buffer.from(signature, 'base64url'));
      await expect(verifier.verify(variant, NOW)).rejects.toMatchObject({ code: 'UNAUTHORIZED', reason: 'malformed' });
    }
    expect((await verifier.verify(token, NOW)).userId).toBe('alice');
    // The canonical token is now cached: its respellings still miss the cache and are refused.
    for (const variant of variants) await expect(verifier.verify(variant, NOW)).rejects.toMatchObject({ reason: 'malformed' });
  });

  it('refuses respelled header and payload segments too', async () => {
    const { verifier, token } = setup();
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const variants = [
      ...respellings(header).map((spelling) => `${spelling}.${payload}.${signature}`),
      ...respellings(payload).map((spelling) => `${header}.${spelling}.${signature}`),
    ];
    for (const variant of variants) await expect(verifier.verify(variant, NOW)).rejects.toMatchObject({ reason: 'malformed' });
    expect((await verifier.verify(token, NOW)).userId).toBe('alice');
  });
});
