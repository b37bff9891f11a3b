import { statSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'otplib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PasswordHasher, SCRYPT } from '../../src/auth/passwords.js';
import { SecretBox } from '../../src/auth/secrets.js';
import { matchTotp, newTotpSecret, totpCode, totpUri } from '../../src/auth/totp.js';
import { AppError } from '../../src/core/errors.js';
import { RateLimiter } from '../../src/core/rate-limit.js';
import { tempDir } from '../helpers/temp-dir.js';

/** The secrets the identity service checks: passwords (scrypt), TOTP codes, sealed MFA seeds, and login rate limits. */

/** Small scrypt parameters: ~1 ms a hash. Where the parameters are not the subject, they need not cost 0.3 s. */
const SMALL = { N: 2 ** 10, r: 8, p: 1, keyLength: 32 };

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a rejection');
}

describe('PasswordHasher', () => {
  it('hashes with a fresh salt and verifies the right password only', async () => {
    const hasher = new PasswordHasher(4, SMALL);
    const first = await hasher.hash('correct horse battery');
    const second = await hasher.hash('correct horse battery');
    expect(first).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(first).not.toBe(second);
    expect(await hasher.verify('correct horse battery', first)).toBe(true);
    expect(await hasher.verify('correct horse battery', second)).toBe(true);
    expect(await hasher.verify('correct horse batterY', first)).toBe(false);
    expect(await hasher.verify('', first)).toBe(false);
  });

  it('verifies with the parameters stored in the hash, not its own', async () => {
    const old = await new PasswordHasher(4, { ...SMALL, N: 2 ** 11 }).hash('pa55word!');
    expect(await new PasswordHasher(4, SMALL).verify('pa55word!', old)).toBe(true);
  });

  it('refuses malformed stored hashes without throwing', async () => {
    const hasher = new PasswordHasher(4, SMALL);
    for (const stored of ['', 'plain', 'bcrypt$10$8$1$c2FsdA==$aGFzaA==', 'scrypt$1024$8$1$$', 'scrypt$1024$8$1$c2FsdA==']) {
      expect(await hasher.verify('anything', stored)).toBe(false);
    }
  });

  it('an unknown user (no stored hash) is checked against a decoy and never matches', async () => {
    const hasher = new PasswordHasher(4, SMALL);
    expect(await hasher.verify('whatever', undefined)).toBe(false);
    expect(await hasher.verify('whatever', undefined)).toBe(false);
  });

  it('the real parameters: N=2^17, r=8, p=1, 32-byte key', async () => {
    expect(SCRYPT).toEqual({ N: 2 ** 17, r: 8, p: 1, keyLength: 32 });
    const hasher = new PasswordHasher();
    const stored = await hasher.hash('a real password');
    expect(stored.startsWith('scrypt$131072$8$1$')).toBe(true);
    expect(await hasher.verify('a real password', stored)).toBe(true);
  });

  it('refuses the 5th concurrent hash with RATE_LIMITED while 4 run, and takes more once they finish', async () => {
    const hasher = new PasswordHasher(4, SMALL);
    const running = [1, 2, 3, 4].map((index) => hasher.hash(`password-${index}`));
    const fifth = await rejection(hasher.hash('password-5'));
    expect(fifth.code).toBe('RATE_LIMITED');
    // A check (login) shares the same four slots.
    expect((await rejection(hasher.verify('password-5', 'scrypt$1024$8$1$c2FsdA==$aGFzaA=='))).code).toBe('RATE_LIMITED');
    const hashes = await Promise.all(running);
    expect(hashes).toHaveLength(4);
    expect(await hasher.verify('password-1', hashes[0])).toBe(true);
  });

  it('a decoy refused while the hasher was full does not make every later unknown-user check RATE_LIMITED', async () => {
    const hasher = new PasswordHasher(1, SMALL);
    const busy = hasher.hash('keeps the only slot');
    expect((await rejection(hasher.verify('guess', undefined))).code).toBe('RATE_LIMITED');
    await busy;
    // Were the refused decoy kept, unknown users would now always answer RATE_LIMITED and known
    // ones UNAUTHORIZED: a way to tell which usernames exist.
    expect(await hasher.verify('guess', undefined)).toBe(false);
  });

  it('honours a lower concurrency limit', async () => {
    const hasher = new PasswordHasher(1, SMALL);
    const first = hasher.hash('one');
    expect((await rejection(hasher.hash('two'))).code).toBe('RATE_LIMITED');
    await first;
    await hasher.hash('two');
  });
});

describe('RateLimiter', () => {
  const T = 1_000_000;

  it('allows `capacity` at once, then refuses', () => {
    const limiter = new RateLimiter(3, 3 / 60);
    expect([1, 2, 3, 4].map(() => limiter.take('ada', T))).toEqual([true, true, true, false]);
  });

  it('keeps keys apart', () => {
    const limiter = new RateLimiter(1, 1 / 60);
    expect(limiter.take('ada', T)).toBe(true);
    expect(limiter.take('ada', T)).toBe(false);
    expect(limiter.take('bob', T)).toBe(true);
  });

  it('refills at `perSecond` and never above capacity', () => {
    const limiter = new RateLimiter(2, 2 / 60); // one token every 30 s
    expect(limiter.take('k', T)).toBe(true);
    expect(limiter.take('k', T)).toBe(true);
    expect(limiter.take('k', T + 29_999)).toBe(false);
    expect(limiter.take('k', T + 30_001)).toBe(true); // 30 s * (2 / 60) is 0.999… in floating point: a millisecond later
    expect(limiter.take('k', T + 30_002)).toBe(false);
    // A long idle period refills to capacity, not beyond.
    const later = T + 3_600_000;
    expect([1, 2, 3].map(() => limiter.take('k', later))).toEqual([true, true, false]);
  });

  it('refused attempts do not consume (a refusal is not a debt)', () => {
    const limiter = new RateLimiter(1, 1); // one a second
    expect(limiter.take('k', T)).toBe(true);
    for (let index = 0; index < 100; index++) expect(limiter.take('k', T + 500)).toBe(false);
    expect(limiter.take('k', T + 1000)).toBe(true);
  });

  it('charges `cost`', () => {
    const limiter = new RateLimiter(5, 1);
    expect(limiter.take('k', T, 3)).toBe(true);
    expect(limiter.take('k', T, 3)).toBe(false);
    expect(limiter.take('k', T, 2)).toBe(true);
  });

  it('forgets idle keys so an address scan cannot grow memory, and a forgotten key starts full', () => {
    const limiter = new RateLimiter(2, 2 / 60, 100);
    for (let index = 0; index < 1000; index++) limiter.take(`198.51.100.${index}`, T);
    const buckets = (limiter as unknown as { buckets: Map<string, unknown> }).buckets;
    expect(buckets.size).toBe(1000); // all busy within the window: none may be dropped yet
    limiter.take('trigger', T + 60_000);
    expect(buckets.size).toBe(1);
    expect(limiter.take('198.51.100.1', T + 60_000)).toBe(true);
    expect(limiter.take('198.51.100.1', T + 60_000)).toBe(true);
    expect(limiter.take('198.51.100.1', T + 60_000)).toBe(false);
  });
});

describe('TOTP', () => {
  const secret = newTotpSecret();
  // The middle of a 30 s step, so ±30 s lands squarely in the neighbouring steps.
  const NOW = Math.floor(Date.UTC(2025, 5, 1, 12) / 30_000) * 30_000 + 15_000;
  const STEP = NOW / 30_000 - 0.5;
  const codeAt = (offsetSeconds: number) => generate({ secret, epoch: NOW / 1000 + offsetSeconds });

  it('matches the current code to its time step; totpCode is otplib generate', async () => {
    expect(await totpCode(secret, NOW)).toBe(await codeAt(0));
    expect(await matchTotp(secret, await codeAt(0), NOW, null)).toBe(STEP);
  });

  it('accepts one step of skew either way, not two', async () => {
    expect(await matchTotp(secret, await codeAt(-30), NOW, null)).toBe(STEP - 1);
    expect(await matchTotp(secret, await codeAt(30), NOW, null)).toBe(STEP + 1);
    for (const offset of [-60, 60, -90, 90]) {
      const code = await codeAt(offset);
      // A code of a far step may collide with a near one by chance (1 in a million): only assert when it does not.
      const near = await Promise.all([-30, 0, 30].map(codeAt));
      if (!near.includes(code)) expect(await matchTotp(secret, code, NOW, null)).toBeNull();
    }
  });

  it('refuses steps at or before the last one used', async () => {
    expect(await matchTotp(secret, await codeAt(0), NOW, STEP)).toBeNull();
    expect(await matchTotp(secret, await codeAt(-30), NOW, STEP)).toBeNull();
    expect(await matchTotp(secret, await codeAt(30), NOW, STEP)).toBe(STEP + 1);
  });

  it('answers "no match" (does not throw) when the last used step is ahead of the clock', async () => {
    // The clock stepped back after a code was used (NTP, a restored VM): nothing can match yet.
    expect(await matchTotp(secret, await codeAt(-60), NOW - 60_000, STEP + 1)).toBeNull();
    expect(await matchTotp(secret, await codeAt(0), NOW, STEP + 5)).toBeNull();
  });

  it('refuses what is not six digits', async () => {
    const code = await codeAt(0);
    for (const candidate of ['', '12345', '1234567', `${code} `, ` ${code}`, 'abcdef', '12 456', '１２３４５６']) {
      expect(await matchTotp(secret, candidate, NOW, null)).toBeNull();
    }
  });

  it('builds an otpauth URI authenticator apps read', () => {
    const uri = new URL(totpUri(secret, 'ada@example.org', 'Switchyard'));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(uri.searchParams.get('issuer')).toBe('Switchyard');
  });
});

describe('SecretBox', () => {
  let dir: { path: string; remove(): void };
  beforeEach(() => {
    dir = tempDir('switchyard-secrets-');
  });
  afterEach(() => dir.remove());

  it('creates its key once (0600) and seals so only that key opens', () => {
    const { box, generated } = SecretBox.open(dir.path);
    expect(generated).toBe(true);
    expect(statSync(join(dir.path, 'keys', 'secrets.key')).mode & 0o777).toBe(0o600);
    const sealed = box.seal('JBSWY3DPEHPK3PXP');
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(box.seal('JBSWY3DPEHPK3PXP')).not.toBe(sealed);
    const again = SecretBox.open(dir.path);
    expect(again.generated).toBe(false);
    expect(again.box.open(sealed)).toBe('JBSWY3DPEHPK3PXP');

    const other = tempDir('switchyard-secrets-');
    try {
      expect(() => SecretBox.open(other.path).box.open(sealed)).toThrow();
    } finally {
      other.remove();
    }
  });

  it('refuses a tampered or malformed box', () => {
    const { box } = SecretBox.open(dir.path);
    const [version, iv, body, tag] = box.seal('secret').split('.');
    const flipped = (text: string) => (text[0] === 'A' ? 'B' : 'A') + text.slice(1);
    expect(() => box.open([version, iv, flipped(body!), tag].join('.'))).toThrow();
    expect(() => box.open([version, iv, body, flipped(tag!)].join('.'))).toThrow();
    expect(() => box.open('v2.a.b.c')).toThrow(/not a sealed secret/);
    expect(() => box.open('garbage')).toThrow(/not a sealed secret/);
  });
});
