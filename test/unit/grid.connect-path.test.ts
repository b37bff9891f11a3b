import { TokenGenerator, generateAccessKey } from '@4players/odin-tokens';
import { SignJWT, importJWK, jwtVerify } from 'jose';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { RoomTokenSigner, deriveServerKey, loadAccessKey, publicJwk, type OdinAccessKey, type OdinKeyLookup, type VerifiedOdinToken } from '../../src/auth/index.js';
import { GridCredentials } from '../../src/modules/grid/credentials.js';
import { GridMetrics } from '../../src/modules/grid/metrics.js';
import { RoomTokens } from '../../src/modules/grid/room-tokens.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The per-request work of a repeat Connect (issue 15): a token verified before is answered
 * from the cache in the same turn, and room tokens are signed with node:crypto in the very
 * bytes jose produced. Each shortcut must keep the check it replaces.
 */

const logger = pino({ level: 'silent' });
const dir = tempDir('switchyard-grid-connect-');
afterAll(() => dir.remove());

function keySet(accessKey: string): OdinKeyLookup & { keys: Map<string, OdinAccessKey>; generation: number } {
  const pair = loadAccessKey(accessKey);
  const keys = new Map<string, OdinAccessKey>([[pair.keyId, { keyId: pair.keyId, customerId: 'acme', namespace: 'acme', publicKey: pair.publicKey }]]);
  return { keys, generation: 1, key: (keyId) => keys.get(keyId) };
}

function credentials(keys: OdinKeyLookup, leewaySeconds = 0): { credentials: GridCredentials; refusals: () => Promise<string> } {
  const registry = new Registry();
  const metrics = new GridMetrics(registry, () => undefined, () => []);
  const checks = new GridCredentials(keys, { odinTokenLeewaySeconds: leewaySeconds, internalUser: 'sfu' }, metrics, logger);
  return { credentials: checks, refusals: async () => JSON.stringify((await metrics.tokenRefusals.get()).values.map((value) => [value.labels.reason, value.value])) };
}

/** The refusal reason of a check, or 'accepted'. */
async function outcome(check: () => VerifiedOdinToken | Promise<VerifiedOdinToken>): Promise<string> {
  try {
    await check();
    return 'accepted';
  } catch (error) {
    return (error as { reason?: string }).reason ?? String(error);
  }
}

describe('room API credentials: a repeat token', () => {
  const accessKey = generateAccessKey();
  // odin-tokens stamps nbf and exp from the real clock: the checks run at the real time.
  const token = new TokenGenerator(accessKey).createToken('lobby', 'alice', { audience: 'gateway', lifetime: 60 });
  const header = `Bearer ${token}`;

  it('is verified once, then answered synchronously with the same verification', async () => {
    const { credentials: checks } = credentials(keySet(accessKey));
    const now = Date.now();
    const first = checks.roomApiToken(header, now);
    expect(first).toBeInstanceOf(Promise);
    const verified = await first;
    const repeat = checks.roomApiToken(header, now + 1000);
    expect(repeat).not.toBeInstanceOf(Promise);
    expect(repeat).toBe(verified);
  });

  it('is refused once it expired, though cached, and a refusal is counted', async () => {
    const { credentials: checks, refusals } = credentials(keySet(accessKey));
    const now = Date.now();
    await checks.roomApiToken(header, now);
    expect(await outcome(() => checks.roomApiToken(header, now + 61_000))).toBe('expired');
    expect(await refusals()).toBe('[["expired",1]]');
  });

  it('is refused once its key is gone, though cached', async () => {
    const keys = keySet(accessKey);
    const { credentials: checks } = credentials(keys);
    const now = Date.now();
    await checks.roomApiToken(header, now);
    keys.keys.clear();
    keys.generation += 1;
    expect(await outcome(() => checks.roomApiToken(header, now))).toBe('unknown_key');
  });

  it('a respelling of a cached token misses the cache and is refused as malformed', async () => {
    const { credentials: checks } = credentials(keySet(accessKey));
    const now = Date.now();
    await checks.roomApiToken(header, now);
    expect(await outcome(() => checks.roomApiToken(`${header}==`, now))).toBe('malformed');
    expect(await outcome(() => checks.roomApiToken(header.replace('Bearer ', 'Basic '), now))).toBe('malformed');
  });
});

describe('room tokens', () => {
  const server = deriveServerKey(Buffer.alloc(32, 7), 'sfu-1.example:4433');
  const nbf = Math.floor(Date.UTC(2026, 0, 15, 12, 0, 0) / 1000);
  const claims = { uid: 'alice', cid: 'acme', rid: ['a{x}', 'b{x}'], nsp: 'acme', adr: 'sfu-1.example:4433', sub: 'connect' as const, aud: 'sfu' as const, nbf, exp: nbf + 300 };

  it('are the text jose signed before (header and claims in the same order), and jose verifies them', async () => {
    const token = new RoomTokenSigner().sign(server, claims);
    const privateJwk = { ...server.privateKey.export({ format: 'jwk' }), alg: 'EdDSA' };
    const josed = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'EdDSA', kid: server.keyId }).sign(await importJWK(privateJwk, 'EdDSA'));
    expect(token).toBe(josed);
    const { payload, protectedHeader } = await jwtVerify(token, await importJWK({ ...publicJwk(server), alg: 'EdDSA' }, 'EdDSA'), {
      audience: 'sfu',
      currentDate: new Date(nbf * 1000),
    });
    expect(protectedHeader).toEqual({ alg: 'EdDSA', kid: server.keyId });
    expect(payload).toEqual(claims);
  });

  it("a repeat Connect gets the same token within its second and server, a new one otherwise", async () => {
    const tokens = new RoomTokens(dir.path, logger, 300);
    const accessKey = generateAccessKey();
    const keys = keySet(accessKey);
    const { credentials: checks } = credentials(keys);
    const now = Date.now();
    const verified = await checks.roomApiToken(`Bearer ${new TokenGenerator(accessKey).createToken('lobby', 'alice', { audience: 'gateway' })}`, now);
    const second = Math.floor(now / 1000) * 1000;
    const token = tokens.forConnect(verified, 'sfu-1.example:4433', second);
    expect(tokens.forConnect(verified, 'sfu-1.example:4433', second + 999)).toBe(token);
    const later = tokens.forConnect(verified, 'sfu-1.example:4433', second + 1000);
    expect(later).not.toBe(token);
    const elsewhere = tokens.forConnect(verified, 'sfu-2.example:4433', second + 1000);
    expect(elsewhere).not.toBe(later);
    // Each is the server's own: signed with its key, naming it, valid from its second.
    const { payload, protectedHeader } = await jwtVerify(elsewhere, await importJWK({ ...publicJwk(tokens.serverKey('sfu-2.example:4433')), alg: 'EdDSA' }, 'EdDSA'), {
      audience: 'sfu',
      currentDate: new Date(second + 1000),
    });
    expect(protectedHeader.kid).toBe(tokens.serverKey('sfu-2.example:4433').keyId);
    expect(payload).toMatchObject({ uid: 'alice', cid: 'acme', rid: 'lobby', adr: 'sfu-2.example:4433', nbf: second / 1000 + 1, exp: second / 1000 + 301 });
  });
});
