import {
  createHash,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// The file, not the store's index: the config loader imports this module and must not load SQLite.
import { StartupError, ensurePrivateDirectory } from '../store/index.js';

/**
 * ODIN key formats, byte for byte as `@4players/odin-tokens` and the ODIN gateway make them
 * (the unit tests check against that package). Only node:crypto here: the config loader
 * validates public keys with these helpers and must not pull in jose (DESIGN.md rule 2).
 *
 * Access key (what a customer keeps secret): base64 of 33 bytes
 *   [0x01 version] [31 random bytes] [CRC-8 of the 31 random bytes]
 * and the Ed25519 seed is the 32 bytes after the version byte (random bytes + checksum).
 * Key id (the JWT `kid`): base64 of [version] [SHA-512(public key) XOR-folded to 8 bytes],
 * version 0x01 for customer keys and 0x02 for the keys the gateway derives for SFU servers.
 */

export const ACCESS_KEY_VERSION = 0x01;
export const SERVER_KEY_VERSION = 0x02;
const ACCESS_KEY_BYTES = 33;
/** DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows it. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** HKDF `info` of ODIN's server key derivation; changing it would change every server key. */
const SERVER_KEY_INFO = 'grid-connection-key';
/** ODIN derives 4096 bits and hashes them down to a 32-byte seed with SHA-256. */
const SERVER_KEY_DERIVED_BYTES = 512;
export const MASTER_KEY_FILE = 'grid-master.key';

/** CRC-8, polynomial 0x31, initial value 0xFF, no reflection, no final XOR (as odin-tokens). */
export function crc8(data: Uint8Array): number {
  let crc = 0xff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x80 ? ((crc << 1) ^ 0x31) & 0xff : (crc << 1) & 0xff;
    }
  }
  return crc;
}

export interface Ed25519KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The raw 32-byte public key (the JWK `x`). */
  publicKeyBytes: Buffer;
  keyId: string;
}

/** base64 of [version || XOR-fold(SHA-512(publicKey), 8)], as odin-tokens' getKeyId. */
export function keyIdOf(publicKeyBytes: Uint8Array, version = ACCESS_KEY_VERSION): string {
  const hash = createHash('sha512').update(publicKeyBytes).digest();
  const result = Buffer.alloc(9);
  result[0] = version;
  for (let index = 0; index < hash.length; index++) {
    const slot = 1 + (index % 8);
    result[slot] = result[slot]! ^ hash[index]!;
  }
  return result.toString('base64');
}

/** The Ed25519 key pair of a 32-byte seed. */
export function keyPairFromSeed(seed: Uint8Array, keyIdVersion: number): Ed25519KeyPair {
  if (seed.length !== 32) throw new Error('an Ed25519 seed has 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  const publicKeyBytes = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  return { privateKey, publicKey, publicKeyBytes, keyId: keyIdOf(publicKeyBytes, keyIdVersion) };
}

/** A new access key: shown to the customer once, never stored by the gateway. */
export function generateAccessKey(): string {
  const key = Buffer.alloc(ACCESS_KEY_BYTES);
  key[0] = ACCESS_KEY_VERSION;
  randomBytes(31).copy(key, 1);
  key[32] = crc8(key.subarray(1, 32));
  return key.toString('base64');
}

/** Checks version, length and checksum of an access key and loads its key pair. */
export function loadAccessKey(accessKey: string): Ed25519KeyPair {
  const trimmed = accessKey.trim();
  // 44 characters of base64 (either alphabet, as js-base64 in odin-tokens reads both): Buffer.from
  // would silently skip junk characters and accept a mangled key.
  if (!/^[A-Za-z0-9+/_-]{44}$/.test(trimmed)) throw new Error('invalid access key');
  const bytes = Buffer.from(trimmed, 'base64');
  if (bytes.length !== ACCESS_KEY_BYTES || bytes[0] !== ACCESS_KEY_VERSION || crc8(bytes.subarray(1)) !== 0) {
    throw new Error('invalid access key');
  }
  return keyPairFromSeed(bytes.subarray(1), ACCESS_KEY_VERSION);
}

/** Decodes a JWK `x` (base64url, 32 bytes) or throws. */
export function decodePublicKey(x: string): Buffer {
  if (!/^[A-Za-z0-9_-]{43}$/.test(x)) throw new Error('an Ed25519 public key is 32 bytes of base64url (43 characters)');
  return Buffer.from(x, 'base64url');
}

export function publicKeyObject(publicKeyBytes: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKeyBytes).toString('base64url') },
    format: 'jwk',
  });
}

/**
 * The key pair of one SFU server, derived from the gateway master key as the ODIN gateway
 * does: HKDF-SHA-512 (salt = the server's address, info = "grid-connection-key") to 4096
 * bits, SHA-256 of those as the seed. Servers therefore need no stored keys, and every
 * gateway holding the same master key derives the same key for the same address.
 */
export function deriveServerKey(masterKey: Uint8Array, address: string): Ed25519KeyPair {
  const bits = Buffer.from(hkdfSync('sha512', masterKey, Buffer.from(address, 'utf8'), Buffer.from(SERVER_KEY_INFO, 'utf8'), SERVER_KEY_DERIVED_BYTES));
  const seed = createHash('sha256').update(bits).digest();
  return keyPairFromSeed(seed, SERVER_KEY_VERSION);
}

/** The public half as a JWK, in the form ODIN servers read from `authorization.keys`. */
export function publicJwk(pair: Ed25519KeyPair): { kid: string; kty: 'OKP'; crv: 'Ed25519'; x: string } {
  return { kid: pair.keyId, kty: 'OKP', crv: 'Ed25519', x: pair.publicKeyBytes.toString('base64url') };
}

/**
 * The gateway master key in `<dataDir>/keys/grid-master.key` (base64), generated on first
 * start. There is deliberately no built-in default: the ODIN gateway ships one in its
 * config, and every deployment that kept it lets anyone mint room tokens for its servers.
 * An ODIN deployment that moves here can put its existing master key (base64) in the file,
 * so its servers keep their keys.
 */
export function loadOrCreateMasterKey(dataDir: string): { key: Buffer; path: string; generated: boolean } {
  const directory = join(dataDir, 'keys');
  const path = join(directory, MASTER_KEY_FILE);
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8').trim();
    const key = Buffer.from(text, 'base64');
    if (!/^[A-Za-z0-9+/]+=*$/.test(text) || key.length < 16) {
      // A StartupError: the start stops with exit 2 and this one line, naming the file.
      throw new StartupError(path, `${path} must hold a base64 master key of at least 16 bytes: restore it from a backup (SFU server keys derive from it)`);
    }
    return { key, path, generated: false };
  }
  ensurePrivateDirectory(directory);
  const key = randomBytes(32);
  // `wx`: if another process created the file in the meantime, fail rather than overwrite it.
  writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return { key, path, generated: true };
}
