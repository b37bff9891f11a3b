import { generateAccessKey as odinGenerateAccessKey, getKeyId, loadAccessKey as odinLoadAccessKey } from '@4players/odin-tokens';
import fc from 'fast-check';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  crc8,
  deriveServerKey,
  generateAccessKey,
  keyIdOf,
  keyPairFromSeed,
  loadAccessKey,
  loadOrCreateMasterKey,
  publicJwk,
} from '../../src/auth/odin-keys.js';
import { tempDir } from '../helpers/temp-dir.js';

/** ODIN's server key derivation as the Deno gateway writes it, with WebCrypto. */
async function odinDerive(masterKey: Uint8Array, identifier: string): Promise<Uint8Array> {
  const master = await crypto.subtle.importKey('raw', masterKey, { name: 'HKDF' }, false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-512', info: new TextEncoder().encode('grid-connection-key'), salt: new TextEncoder().encode(identifier) },
    master,
    4096,
  );
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bits));
}

describe('access keys, against @4players/odin-tokens', () => {
  it('keys we generate load in odin-tokens to the same key pair and key id', () => {
    for (let round = 0; round < 50; round++) {
      const accessKey = generateAccessKey();
      const ours = loadAccessKey(accessKey);
      const theirs = odinLoadAccessKey(accessKey);
      expect(Buffer.from(theirs.publicKey).equals(ours.publicKeyBytes)).toBe(true);
      expect(ours.keyId).toBe(getKeyId(theirs.publicKey));
      expect(accessKey).toHaveLength(44);
    }
  });

  it('keys odin-tokens generates load here to the same key pair and key id', () => {
    for (let round = 0; round < 50; round++) {
      const accessKey = odinGenerateAccessKey();
      const theirs = odinLoadAccessKey(accessKey);
      const ours = loadAccessKey(accessKey);
      expect(ours.publicKeyBytes.equals(Buffer.from(theirs.publicKey))).toBe(true);
      expect(ours.keyId).toBe(getKeyId(theirs.publicKey));
    }
  });

  it('key ids are version 0x01 and the XOR-fold of SHA-512(public key), for any public key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (publicKey) => {
        const keyId = keyIdOf(publicKey);
        expect(keyId).toBe(getKeyId(publicKey));
        expect(Buffer.from(keyId, 'base64')[0]).toBe(0x01);
      }),
      { numRuns: 200 },
    );
  });

  it('the checksum is CRC-8 (poly 0x31, init 0xFF) of the 31 random bytes', () => {
    // Check value of CRC-8/NRSC-5 (poly 0x31, init 0xFF, no reflection, no xorout) for "123456789".
    expect(crc8(Buffer.from('123456789'))).toBe(0xf7);
    expect(crc8(new Uint8Array())).toBe(0xff);
    const key = Buffer.from(generateAccessKey(), 'base64');
    expect(key[32]).toBe(crc8(key.subarray(1, 32)));
    // Appending the checksum makes the CRC zero: the property loadAccessKey checks.
    expect(crc8(key.subarray(1))).toBe(0);
  });

  it('refuses keys with a wrong checksum, version, length or alphabet, as odin-tokens does', () => {
    const valid = Buffer.from(generateAccessKey(), 'base64');
    const badChecksum = Buffer.from(valid);
    badChecksum[32]! ^= 0x01;
    const badVersion = Buffer.from(valid);
    badVersion[0] = 0x02;
    for (const key of [badChecksum.toString('base64'), badVersion.toString('base64'), valid.subarray(0, 32).toString('base64')]) {
      expect(() => loadAccessKey(key)).toThrow('invalid access key');
      expect(() => odinLoadAccessKey(key)).toThrow();
    }
    expect(() => loadAccessKey(`${valid.toString('base64').slice(0, 43)}!`)).toThrow('invalid access key');
    expect(() => loadAccessKey('')).toThrow('invalid access key');
  });

  it('the Ed25519 seed is the 32 bytes after the version byte (random bytes + checksum)', () => {
    const accessKey = generateAccessKey();
    const seed = Buffer.from(accessKey, 'base64').subarray(1);
    expect(keyPairFromSeed(seed, 0x01).publicKeyBytes.equals(loadAccessKey(accessKey).publicKeyBytes)).toBe(true);
  });
});

describe('server keys derived from the master key', () => {
  it('match the ODIN gateway derivation (HKDF-SHA-512, 4096 bits, SHA-256) bit for bit', async () => {
    const master = Buffer.from('VGhpcyBpcyBhIHN1cGVyIHNlY3JldCBtYXN0ZXIga2V5IQ==', 'base64');
    for (const address of ['sfu-1.example.com:4433', '10.0.0.7:4433', '[::1]:4433']) {
      const ours = deriveServerKey(master, address);
      const seed = await odinDerive(master, address);
      const expected = keyPairFromSeed(seed, 0x02);
      expect(ours.publicKeyBytes.equals(expected.publicKeyBytes)).toBe(true);
      expect(Buffer.from(ours.keyId, 'base64')[0]).toBe(0x02);
    }
  });

  it('differ per address and per master key, and are stable', () => {
    const master = Buffer.alloc(32, 7);
    const a = deriveServerKey(master, 'a.example:4433');
    expect(deriveServerKey(master, 'a.example:4433').keyId).toBe(a.keyId);
    expect(deriveServerKey(master, 'b.example:4433').keyId).not.toBe(a.keyId);
    expect(deriveServerKey(Buffer.alloc(32, 8), 'a.example:4433').keyId).not.toBe(a.keyId);
    expect(publicJwk(a)).toEqual({ kid: a.keyId, kty: 'OKP', crv: 'Ed25519', x: a.publicKeyBytes.toString('base64url') });
  });
});

describe('the gateway master key file', () => {
  let dir: ReturnType<typeof tempDir> | undefined;
  afterEach(() => dir?.remove());

  it('is generated once, mode 0600, random, and loaded as it is afterwards', () => {
    dir = tempDir();
    const first = loadOrCreateMasterKey(dir.path);
    expect(first.generated).toBe(true);
    expect(first.key).toHaveLength(32);
    expect(statSync(first.path).mode & 0o777).toBe(0o600);
    const second = loadOrCreateMasterKey(dir.path);
    expect(second.generated).toBe(false);
    expect(second.key.equals(first.key)).toBe(true);
    const other = tempDir();
    try {
      expect(loadOrCreateMasterKey(other.path).key.equals(first.key)).toBe(false);
    } finally {
      other.remove();
    }
  });

  it('accepts an ODIN master key put in its place, and refuses a file that is not one', () => {
    dir = tempDir();
    const path = join(dir.path, 'keys', 'grid-master.key');
    loadOrCreateMasterKey(dir.path);
    writeFileSync(path, 'VGhpcyBpcyBhIHN1cGVyIHNlY3JldCBtYXN0ZXIga2V5IQ==\n');
    expect(loadOrCreateMasterKey(dir.path).key.toString()).toBe('This is a super secret master key!');
    writeFileSync(path, 'short');
    expect(() => loadOrCreateMasterKey(dir!.path)).toThrow(/base64 master key/);
    expect(existsSync(path) && readFileSync(path, 'utf8')).toBe('short');
  });
});
