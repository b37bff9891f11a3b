import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/auth/keys.js';
import { TOKEN_KINDS, TokenService, type TokenKind } from '../../src/auth/tokens.js';
import { AppError } from '../../src/core/errors.js';
import { decodeJson, split } from '../helpers/jws.js';
import { tempDir } from '../helpers/temp-dir.js';

/** KeyRing (signing keys on disk, rotation with a grace period) and TokenService (issue/verify per kind, cache). */

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const TOLERANCE = 30;
const KINDS = Object.keys(TOKEN_KINDS) as TokenKind[];

async function refused(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('UNAUTHORIZED');
    expect((error as AppError).message).toBe('Token is not valid');
    return error as AppError;
  }
  throw new Error('expected the token to be refused');
}

let dir: { path: string; remove(): void };
beforeEach(() => {
  dir = tempDir('switchyard-tokens-');
});
afterEach(() => dir.remove());

function service(ring: KeyRing): TokenService {
  return new TokenService(ring, { issuer: 'switchyard', clockToleranceSeconds: TOLERANCE });
}

describe('KeyRing', () => {
  it('generates the first key on first start, private files 0600 in a 0700 directory, and loads it afterwards', () => {
    const ring = new KeyRing(dir.path);
    const first = ring.loadOrCreate(T0);
    expect(first.generated).toBe(true);
    expect(first.kid).toMatch(/^2025-06-01-[A-Za-z0-9_-]{8}$/);
    const directory = join(dir.path, 'keys', 'signing');
    expect(statSync(directory).mode & 0o777).toBe(0o700);
    expect(readdirSync(directory)).toEqual([`${first.kid}.json`]);
    expect(statSync(join(directory, `${first.kid}.json`)).mode & 0o777).toBe(0o600);

    const again = new KeyRing(dir.path).loadOrCreate(T0 + 1000);
    expect(again).toEqual({ generated: false, kid: first.kid });
  });

  it('two deployments never share a key', () => {
    const other = tempDir('switchyard-tokens-');
    try {
      const a = new KeyRing(dir.path);
      const b = new KeyRing(other.path);
      a.loadOrCreate(T0);
      b.loadOrCreate(T0);
      expect(a.active().kid).not.toBe(b.active().kid);
      expect(a.active().publicKey.export({ format: 'jwk' })).not.toEqual(b.active().publicKey.export({ format: 'jwk' }));
    } finally {
      other.remove();
    }
  });

  it('has no key to sign with before it is loaded', () => {
    expect(() => new KeyRing(dir.path).active()).toThrow(/no signing key/);
  });

  it('rotate: a new key signs, the old one verifies until retiredAt + grace, then neither verifies nor is published', () => {
    const ring = new KeyRing(dir.path);
    const old = ring.loadOrCreate(T0).kid;
    const rotated = ring.rotate(T0 + 10_000, 3600);
    expect(rotated.retired).toEqual([old]);
    expect(ring.active().kid).toBe(rotated.kid);
    const graceEnd = T0 + 10_000 + 3600 * 1000;
    expect(ring.verifying(old, graceEnd)?.kid).toBe(old);
    expect(ring.verifying(old, graceEnd + 1)).toBeUndefined();
    expect(ring.verifying(rotated.kid, graceEnd + 1)?.kid).toBe(rotated.kid);
    expect(ring.published(graceEnd).map((key) => key.kid)).toEqual([old, rotated.kid]);
    expect(ring.published(graceEnd + 1).map((key) => key.kid)).toEqual([rotated.kid]);
    expect(ring.verifying('no-such-kid', T0)).toBeUndefined();

    // The retirement is on disk: a process that loads the ring later sees the same grace.
    const reloaded = new KeyRing(dir.path);
    expect(reloaded.loadOrCreate(T0 + 20_000)).toEqual({ generated: false, kid: rotated.kid });
    expect(reloaded.verifying(old, graceEnd + 1)).toBeUndefined();
  });

  it('a second rotation retires only the key that was signing; earlier grace periods are kept', () => {
    const ring = new KeyRing(dir.path);
    const first = ring.loadOrCreate(T0).kid;
    const second = ring.rotate(T0 + 1000, 100).kid;
    const third = ring.rotate(T0 + 2000, 100_000);
    expect(third.retired).toEqual([second]);
    expect(ring.verifying(first, T0 + 1000 + 100_000 + 1)).toBeUndefined();
    expect(ring.verifying(second, T0 + 2000 + 100_000_000)?.kid).toBe(second);
  });
});

describe('TokenService', () => {
  let ring: KeyRing;
  let tokens: TokenService;
  beforeEach(() => {
    ring = new KeyRing(dir.path);
    ring.loadOrCreate(T0);
    tokens = service(ring);
  });

  it.each(KINDS)('issues and verifies a %s token with its own typ, audience and claims', async (kind) => {
    const ttl = kind === 'app' ? null : 600;
    const issued = await tokens.issue(kind, { subject: 'subject-1', ttlSeconds: ttl, claims: { org: 'org-1', sid: 'conn-1' }, now: T0 + 1234 });
    const { header, payload } = split(issued.token);
    expect(decodeJson(header)).toEqual({ alg: 'EdDSA', kid: ring.active().kid, typ: TOKEN_KINDS[kind].typ });
    const iat = Math.floor((T0 + 1234) / 1000);
    const expected = {
      sub: 'subject-1',
      jti: issued.jti,
      iss: 'switchyard',
      aud: TOKEN_KINDS[kind].audience,
      iat,
      org: 'org-1',
      sid: 'conn-1',
      ...(ttl === null ? {} : { exp: iat + ttl }),
    };
    expect(decodeJson(payload)).toEqual(expected);
    expect(issued.expiresAt).toBe(ttl === null ? null : (iat + ttl) * 1000);
    expect(issued.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await tokens.verify(kind, issued.token, T0 + 2000)).toEqual(expected);
  });

  it('gives every token a fresh jti', async () => {
    const jtis = new Set<string>();
    for (let index = 0; index < 50; index++) jtis.add((await tokens.issue('access', { subject: 'u', ttlSeconds: 60, now: T0 })).jti);
    expect(jtis.size).toBe(50);
  });

  it('kinds are not interchangeable: a token of one kind is refused as every other kind, cached or not', async () => {
    const issued = new Map<TokenKind, string>();
    for (const kind of KINDS) issued.set(kind, (await tokens.issue(kind, { subject: 'u1', ttlSeconds: kind === 'app' ? null : 600, now: T0 })).token);
    for (const [kind, token] of issued) {
      for (const other of KINDS.filter((candidate) => candidate !== kind)) await refused(tokens.verify(other, token, T0));
      // Now cached as its own kind: the cache must not answer for another kind either.
      await tokens.verify(kind, token, T0);
      for (const other of KINDS.filter((candidate) => candidate !== kind)) await refused(tokens.verify(other, token, T0));
      expect((await tokens.verify(kind, token, T0)).sub).toBe('u1');
    }
  });

  it('only app tokens may live without exp', async () => {
    for (const kind of KINDS.filter((candidate) => candidate !== 'app')) {
      const { token, expiresAt } = await tokens.issue(kind, { subject: 'u1', ttlSeconds: null, now: T0 });
      expect(expiresAt).toBeNull();
      await refused(tokens.verify(kind, token, T0));
    }
  });

  it('the cache honours expiry: cached and uncached answers agree at every millisecond around exp + leeway', async () => {
    const { token } = await tokens.issue('access', { subject: 'u1', ttlSeconds: 60, now: T0 });
    const boundary = T0 + (60 + TOLERANCE) * 1000;
    for (const offset of [-1000, -1, 0, 1, 999, 1000]) {
      const at = boundary + offset;
      const warm = service(ring);
      await warm.verify('access', token, T0); // cached from here on
      const cold = service(ring);
      const outcome = async (candidate: TokenService) =>
        candidate.verify('access', token, at).then(
          () => 'accepted',
          () => 'refused',
        );
      const expected = offset < 0 ? 'accepted' : 'refused';
      expect({ offset, cold: await outcome(cold) }).toEqual({ offset, cold: expected });
      expect({ offset, warm: await outcome(warm) }).toEqual({ offset, warm: expected });
    }
  });

  it('an expired token stays refused after it dropped out of the cache', async () => {
    const { token } = await tokens.issue('session', { subject: 'chat', ttlSeconds: 60, now: T0 });
    await tokens.verify('session', token, T0);
    const late = T0 + (60 + TOLERANCE) * 1000;
    await refused(tokens.verify('session', token, late));
    await refused(tokens.verify('session', token, late));
    await refused(tokens.verify('session', token, late + 10_000));
  });

  it('the cache honours the signing key grace period', async () => {
    const { token } = await tokens.issue('app', { subject: 'chat', ttlSeconds: null, now: T0 });
    await tokens.verify('app', token, T0);
    ring.rotate(T0 + 1000, 100);
    const graceEnd = T0 + 1000 + 100_000;
    expect((await tokens.verify('app', token, graceEnd)).sub).toBe('chat');
    await refused(tokens.verify('app', token, graceEnd + 1));
    await refused(service(ring).verify('app', token, graceEnd + 1));
  });

  it('after a rotation old tokens still verify and new tokens are signed by the new key', async () => {
    const before = await tokens.issue('access', { subject: 'u1', ttlSeconds: 600, now: T0 });
    const oldKid = ring.active().kid;
    const { kid } = ring.rotate(T0 + 1000, 3600);
    const after = await tokens.issue('access', { subject: 'u1', ttlSeconds: 600, now: T0 + 2000 });
    expect(decodeJson(split(before.token).header).kid).toBe(oldKid);
    expect(decodeJson(split(after.token).header).kid).toBe(kid);
    expect((await tokens.verify('access', before.token, T0 + 3000)).jti).toBe(before.jti);
    expect((await tokens.verify('access', after.token, T0 + 3000)).jti).toBe(after.jti);
    const jwks = await tokens.jwks(T0 + 3000);
    expect(jwks.keys.map((key) => key.kid)).toEqual([oldKid, kid]);
  });

  it('notices a rotation done by another process (the CLI) on the same key directory', async () => {
    const before = await tokens.issue('access', { subject: 'u1', ttlSeconds: 600, now: T0 });
    const cli = new KeyRing(dir.path);
    cli.loadOrCreate(T0 + 500);
    const { kid, retired } = cli.rotate(T0 + 1000, 3600);
    expect(retired).toEqual([decodeJson(split(before.token).header).kid]);
    const after = await tokens.issue('access', { subject: 'u1', ttlSeconds: 600, now: T0 + 2000 });
    expect(decodeJson(split(after.token).header).kid).toBe(kid);
    expect((await tokens.verify('access', after.token, T0 + 3000)).sub).toBe('u1');
    expect((await tokens.verify('access', before.token, T0 + 3000)).sub).toBe('u1');
    expect((await tokens.jwks(T0 + 3000)).keys.map((key) => key.kid)).toContain(kid);
  });

  it('publishes the public half of every verifying key, and never a private part', async () => {
    ring.rotate(T0 + 1000, 60);
    const { keys } = await tokens.jwks(T0 + 2000);
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      expect(key.x).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(key).not.toHaveProperty('d');
    }
    expect((await tokens.jwks(T0 + 1000 + 60_001)).keys.map((key) => key.kid)).toEqual([ring.active().kid]);
  });

  it('forget() drops cached verifications', async () => {
    const { token } = await tokens.issue('access', { subject: 'u1', ttlSeconds: 600, now: T0 });
    await tokens.verify('access', token, T0);
    tokens.forget();
    expect((await tokens.verify('access', token, T0)).sub).toBe('u1');
  });

  it('refuses what is not a token at all', async () => {
    for (const value of [undefined, null, 42, {}, ['a.b.c'], '', 'abc', 'a.b', 'a.b.c']) await refused(tokens.verify('access', value, T0));
  });
});
