import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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
    if (existsSync(path)) return { box: new SecretBox(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64')), generated: false };
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const key = randomBytes(32);
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
