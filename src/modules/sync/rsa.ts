import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../../core/errors.js';
import { ensurePrivateDirectory } from '../../store/index.js';

/** Smallest device key accepted (NIST: 2048-bit RSA until 2030). */
export const MIN_RSA_BITS = 2048;
/** Largest device key accepted: bigger keys only cost the gateway encryption time. */
export const MAX_RSA_BITS = 8192;
const SERVER_KEY_FILE = 'sync-rsa.pem';
/** 2048 bits: generated in well under a second on first start, and as strong as the device keys accepted. */
const SERVER_RSA_BITS = 2048;

/** RSA-OAEP with SHA-256 for both hashes, as PROTOCOL.md section 7 names it. */
const OAEP = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' } as const;

/**
 * The gateway's RSA key pair that devices encrypt the user's password to. One per data
 * directory, made on first start into `data/keys/` (mode 0600) like the signing keys: a
 * per-process key would do as well, since sessions never outlive the process, but one file
 * keeps the key's fingerprint stable for operators.
 */
export class ServerRsaKey {
  readonly publicKeyPem: string;
  /** Bytes of every ciphertext to this key (the modulus length). */
  readonly ciphertextBytes: number;

  private constructor(
    private readonly privateKey: KeyObject,
    readonly generated: boolean,
  ) {
    this.publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
    this.ciphertextBytes = (privateKey.asymmetricKeyDetails?.modulusLength ?? MIN_RSA_BITS) / 8;
  }

  static loadOrCreate(dataDir: string): ServerRsaKey {
    const directory = join(dataDir, 'keys');
    const path = join(directory, SERVER_KEY_FILE);
    if (existsSync(path)) return new ServerRsaKey(createPrivateKey(readFileSync(path, 'utf8')), false);
    ensurePrivateDirectory(directory);
    // PEM straight from the generator, and the key object made from it: the KeyObject the
    // generator returns shares a lock with the generator's job, and Node 20 deadlocks when a
    // garbage collection finalizes that job while `asymmetricKeyDetails` (constructor below)
    // holds the lock to build the RSA details. Seen as a gateway frozen at its first start;
    // a loop of 512-bit keys froze in 3 of 6 runs that way, none of 6 this way.
    const { privateKey: pem } = generateKeyPairSync('rsa', {
      modulusLength: SERVER_RSA_BITS,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const privateKey = createPrivateKey(pem);
    // Written aside and renamed: a crash mid-write leaves no half key to fail the next start.
    writeFileSync(`${path}.tmp`, pem, { mode: 0o600 });
    chmodSync(`${path}.tmp`, 0o600);
    renameSync(`${path}.tmp`, path);
    return new ServerRsaKey(privateKey, true);
  }

  /**
   * The plaintext of a base64 RSA-OAEP (SHA-256) ciphertext to this key, or BAD_REQUEST
   * saying which part is wrong. Lengths are checked before any RSA work.
   */
  decrypt(base64: unknown, field: string): Buffer {
    if (typeof base64 !== 'string' || base64.length === 0) throw new AppError('BAD_REQUEST', `${field} must be a base64 string`);
    if (base64.length > Math.ceil(this.ciphertextBytes / 3) * 4 + 4) {
      throw new AppError('BAD_REQUEST', `${field} is too long: an RSA-OAEP ciphertext to the server key is ${this.ciphertextBytes} bytes`);
    }
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw new AppError('BAD_REQUEST', `${field} must be standard base64`);
    const bytes = Buffer.from(base64, 'base64');
    if (bytes.length !== this.ciphertextBytes) {
      throw new AppError('BAD_REQUEST', `${field} is ${bytes.length} bytes: an RSA-OAEP ciphertext to the server key is ${this.ciphertextBytes} bytes`);
    }
    try {
      return privateDecrypt({ key: this.privateKey, ...OAEP }, bytes);
    } catch {
      throw new AppError('BAD_REQUEST', `${field} is not RSA-OAEP (SHA-256) ciphertext to the server's public key`);
    }
  }
}

export interface DeviceKey {
  key: KeyObject;
  /** The key as the gateway re-exports it (SPKI PEM), whatever PEM form the device sent. */
  pem: string;
  fingerprint: string;
}

/** A device's public key: PEM, RSA (not RSA-PSS, EC or Ed25519), 2048-8192 bits; else BAD_REQUEST naming the problem. */
export function parseDevicePublicKey(value: unknown): DeviceKey {
  if (typeof value !== 'string' || !value.includes('-----BEGIN')) {
    throw new AppError('BAD_REQUEST', 'public_key must be a PEM public key (-----BEGIN PUBLIC KEY-----)');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: value, format: 'pem' });
  } catch {
    throw new AppError('BAD_REQUEST', 'public_key is not a readable PEM public key');
  }
  if (key.type !== 'public') throw new AppError('BAD_REQUEST', 'public_key must be a public key, not a private one');
  if (key.asymmetricKeyType !== 'rsa') throw new AppError('BAD_REQUEST', `public_key must be an RSA key, not ${key.asymmetricKeyType ?? 'unknown'}`);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) throw new AppError('BAD_REQUEST', `public_key is a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are needed`);
  if (bits > MAX_RSA_BITS) throw new AppError('BAD_REQUEST', `public_key is a ${bits}-bit RSA key; at most ${MAX_RSA_BITS} bits are accepted`);
  const der = key.export({ type: 'spki', format: 'der' });
  return { key, pem: key.export({ type: 'spki', format: 'pem' }).toString(), fingerprint: fingerprintOf(der) };
}

export const fingerprintOf = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('base64url');

/** `plaintext` RSA-OAEP (SHA-256) encrypted to a device's key, base64. */
export function encryptTo(devicePublicKeyPem: string, plaintext: Buffer): string {
  return publicEncrypt({ key: devicePublicKeyPem, ...OAEP }, plaintext).toString('base64');
}
