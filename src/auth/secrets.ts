import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StartupError, ensurePrivateDirectory } from '../store/index.js';

const KEY_BYTES = 32;

/**
 * Encrypts secrets that must be stored in the event log (TOTP seeds) with AES-256-GCM under
 * a key in `data/keys/secrets.key`, so a copy of the database alone does not hand out
 * everyone's second factor. The key is generated on first use.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  static open(dataDir: string): { box: SecretBox; generated: boolean } {
    const directory = join(dataDir, 'keys');
    const path = join(directory, 'secrets.key');
    if (existsSync(path)) return { box: new SecretBox(readKey(path)), generated: false };
    ensurePrivateDirectory(directory);
    const key = randomBytes(KEY_BYTES);
    writeFileSync(path, key.toString('base64'), { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    return { box: new SecretBox(key), generated: true };
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  open(sealed: string): string {
    const [version, iv, body, tag] = sealed.split('.');
    if (version !== 'v1' || !iv || !body || !tag) throw new Error('not a sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}

/**
 * The key as written by `open`: 32 bytes in base64. An empty or short file used to give a
 * zero-length key that failed only at the first MFA enrolment or login, with no file named;
 * a new key in its place would make every sealed seed unreadable, so it is refused instead.
 */
function readKey(path: string): Buffer {
  const text = readFileSync(path, 'utf8').trim();
  const key = Buffer.from(text, 'base64');
  if (!/^[A-Za-z0-9+/]+=*$/.test(text) || key.length !== KEY_BYTES) {
    const what = text === '' ? 'is empty' : `holds ${key.length} bytes, not a base64 key of ${KEY_BYTES}`;
    throw new StartupError(path, `secrets key ${path} ${what}: restore it from a backup (MFA seeds sealed with it cannot be read without it)`);
  }
  return key;
}
