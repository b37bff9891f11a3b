import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { syncCommand } from '../../src/cli/sync.js';
import type { RecordedEvent } from '../../src/store/types.js';
import { until } from '../helpers/conditions.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { createUsers, type TestUser } from '../helpers/identity.js';

/**
 * Device sync (PROTOCOL.md section 7) end to end: the page is a `ws` client on the sync
 * socket, the phone is HTTP with node:crypto RSA-OAEP. Timings are shortened by config; the
 * tests wait on what the page and the log show, never on the clock.
 */

const OAEP = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' } as const;

interface Device {
  publicKeyPem: string;
  privateKey: KeyObject;
}

const device = (bits = 2048): Device => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return { publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey };
};
const phone = device();

const encryptTo = (pem: string, text: string): string => publicEncrypt({ key: pem, ...OAEP }, Buffer.from(text)).toString('base64');

/** The page: a websocket client and everything it was told, in order. */
interface Page {
  socket: WebSocket;
  texts: string[];
  closed: { code: number; reason: string } | undefined;
  urls(): { qr_url: string; mobile_url: string }[];
}

function openPage(url: string): Promise<Page> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const page: Page = {
      socket,
      texts: [],
      closed: undefined,
      urls: () => page.texts.filter((text) => text.startsWith('{')).map((text) => JSON.parse(text) as { qr_url: string; mobile_url: string }),
    };
    socket.on('message', (data) => page.texts.push(data.toString()));
    socket.on('close', (code, reason) => (page.closed = { code, reason: reason.toString() }));
    socket.on('open', () => resolve(page));
    socket.on('unexpected-response', (_request, response) => reject(Object.assign(new Error(`upgrade refused: ${response.statusCode}`), { status: response.statusCode })));
    socket.on('error', reject);
  });
}

/** Where a URL's session id is: `.../sessions/<id>/handshake`. */
const sessionIdOf = (qrUrl: string): string => /\/sessions\/([^/]+)\/handshake$/.exec(qrUrl)![1]!;

let server: TestGateway | undefined;
let extraDir: string | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (extraDir) rmSync(extraDir, { recursive: true, force: true });
  extraDir = undefined;
});

interface Setup {
  server: TestGateway;
  ann: TestUser;
  bob: TestUser;
  annToken: string;
  bobToken: string;
}

async function setUp(overrides: Record<string, string> = {}, dataDir?: string): Promise<Setup> {
  server = await startTestGateway({ syncSleepSeconds: '60', syncPausedSeconds: '600', ...overrides }, dataDir);
  const organisation = await server.gateway.identity.createOrganisation('syncco', 'test');
  const users = await createUsers(server, organisation, [{ username: 'ann' }, { username: 'bob' }]);
  const token = async (user: TestUser) => (await server!.gateway.identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 600, now: Date.now() })).token;
  return { server, ann: users.ann!, bob: users.bob!, annToken: await token(users.ann!), bobToken: await token(users.bob!) };
}

async function newSession(setup: Setup, user = setup.ann, token = setup.annToken): Promise<{ wsUrl: string; page: Page; qrUrl: string; sessionId: string }> {
  const response = await fetch(setup.server.url(`/v2/sync/users/${user.userId}`), { headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  const wsUrl = await response.text();
  expect(wsUrl).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:${setup.server.port}/v2/sync/init/${user.userId}/[A-Za-z0-9_-]+$`));
  const page = await openPage(wsUrl);
  await until(() => page.urls().length === 1, 'the first URLs');
  const qrUrl = page.urls()[0]!.qr_url;
  return { wsUrl, page, qrUrl, sessionId: sessionIdOf(qrUrl) };
}

const post = (setup: Setup, path: string, body: unknown): Promise<Response> =>
  fetch(setup.server.url(path), { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

async function refusal(response: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  return { status: response.status, ...body.error };
}

const events = (setup: Setup, type: string): RecordedEvent[] => setup.server.gateway.store.readAll({ type });

async function handshake(setup: Setup, qrUrl: string, key = phone): Promise<{ public_key: string; verification_url: string }> {
  const response = await fetch(qrUrl, { method: 'POST', body: JSON.stringify({ public_key: key.publicKeyPem }) });
  expect(response.status).toBe(200);
  return (await response.json()) as { public_key: string; verification_url: string };
}

describe('device sync: the whole flow', () => {
  it('page and phone: URLs, handshake (201- pause), verification (200- ack), shared key to the phone', async () => {
    const setup = await setUp();
    const { page, qrUrl, wsUrl } = await newSession(setup);
    const { userId } = setup.ann;
    expect(qrUrl).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${setup.server.port}/v2/sync/users/${userId}/sessions/[A-Za-z0-9_-]+/handshake$`));
    expect(page.urls()[0]!.mobile_url).toBe(qrUrl.replace(/^http:\/\//, 'app://'));
    // The ws URL's id is the first QR code's.
    expect(wsUrl.endsWith(`/${sessionIdOf(qrUrl)}`)).toBe(true);

    const answer = await handshake(setup, qrUrl);
    expect(answer.public_key).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(answer.verification_url).toMatch(new RegExp(`^/v2/sync/users/${userId}/sessions/[A-Za-z0-9_-]+$`));
    // The verification id is not the QR code's: only the handshake's answer carries it.
    expect(answer.verification_url).not.toContain(sessionIdOf(qrUrl));
    await until(() => page.texts.includes('201- pause'), 'the page is told to pause');

    const verified = await post(setup, answer.verification_url, { password: encryptTo(answer.public_key, setup.ann.password) });
    expect(verified.status).toBe(200);
    const body = (await verified.json()) as { shared_key: string; user_platforms: unknown[] };
    expect(body.user_platforms).toEqual([]);
    const sharedKey = privateDecrypt({ key: phone.privateKey, ...OAEP }, Buffer.from(body.shared_key, 'base64'));
    expect(sharedKey).toHaveLength(32);
    await until(() => page.closed !== undefined, 'the page socket closes');
    expect(page.texts.slice(1)).toEqual(['201- pause', '200- ack']);
    expect(page.closed!.code).toBe(1000);

    // Replayed verification: refused, nothing more happens.
    const replay = await post(setup, answer.verification_url, { password: encryptTo(answer.public_key, setup.ann.password) });
    expect(await refusal(replay)).toMatchObject({ status: 409, code: 'CONFLICT', message: expect.stringMatching(/already verified/) });
    expect(events(setup, 'SyncSessionVerified')).toHaveLength(1);
    // Every change is an event, and none carries the shared key.
    const stream = events(setup, 'SyncSessionCreated')[0]!.streamId;
    expect(setup.server.gateway.store.readStream(stream).map((event) => event.type)).toEqual(['SyncSessionCreated', 'SyncSessionPaused', 'SyncSessionVerified']);
    expect(JSON.stringify(setup.server.gateway.store.readStream(stream))).not.toContain(sharedKey.toString('base64'));
  });

  it('rotates the id changeLimit times, syncSleepSeconds apart, then closes and rotates once more; old URLs die at once', async () => {
    const setup = await setUp({ syncSleepSeconds: '1', syncChangeLimit: '3' });
    const { page, wsUrl } = await newSession(setup);
    await until(() => page.closed !== undefined, 'the page closes after the last URL', 10_000_000);
    const ids = page.urls().map((urls) => sessionIdOf(urls.qr_url));
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
    const rotations = events(setup, 'SyncSessionRotated').map((event) => event.data as { from: string; to: string });
    expect(rotations).toHaveLength(3);
    expect(rotations.map((rotation) => rotation.from)).toEqual(ids);
    expect(events(setup, 'SyncSessionExpired').map((event) => (event.data as { reason: string }).reason)).toEqual(['changes used up']);
    // Every id shown, and the last one's replacement, is dead.
    for (const id of [...ids, rotations[2]!.to]) {
      const response = await fetch(setup.server.url(`/v2/sync/users/${setup.ann.userId}/sessions/${id}/handshake`), { method: 'POST', body: JSON.stringify({ public_key: phone.publicKeyPem }) });
      expect((await refusal(response)).status).toBe(404);
    }
    await expect(openPage(wsUrl)).rejects.toMatchObject({ status: 404 });
    expect(events(setup, 'SyncSessionPaused')).toHaveLength(0);
  });

  it('a paused session resumes rotating after syncPausedSeconds; the verification URL dies', async () => {
    const setup = await setUp({ syncSleepSeconds: '1', syncPausedSeconds: '1', syncChangeLimit: '5' });
    const { page, qrUrl } = await newSession(setup);
    const answer = await handshake(setup, qrUrl);
    await until(() => events(setup, 'SyncSessionResumed').length === 1, 'resumed', 10_000_000);
    await until(() => page.urls().length >= 2, 'a new URL after resuming', 10_000_000);
    const verify = await post(setup, answer.verification_url, { password: encryptTo(answer.public_key, setup.ann.password) });
    expect(await refusal(verify)).toMatchObject({ status: 404, message: expect.stringMatching(/no longer current/) });
    expect(page.texts).not.toContain('200- ack');
  });

  it('`switchyard sync qr <userId>` shows the QR codes in the terminal until the device verifies', async () => {
    const setup = await setUp();
    const config = loadConfig({ flags: { port: String(setup.server.port), data: setup.server.dataDir }, env: {} });
    const out: string[] = [];
    const err: string[] = [];
    const exit = syncCommand(['qr', setup.ann.userId], config, { out: (line) => out.push(line), err: (line) => err.push(line) });
    await until(() => out.some((line) => line.startsWith('scan with the app')) || err.length > 0, 'a QR code printed', 10_000_000);
    expect(err).toEqual([]);
    const qrUrl = /\((http:\/\/[^)]+)\)/.exec(out.find((line) => line.startsWith('scan with the app'))!)![1]!;
    // The terminal QR code is block characters, many lines of them.
    expect(out[0]!.split('\n').length).toBeGreaterThan(10);
    const answer = await handshake(setup, qrUrl);
    const verified = await post(setup, answer.verification_url, { password: encryptTo(answer.public_key, setup.ann.password) });
    expect(verified.status).toBe(200);
    expect(await exit).toBe(0);
    expect(out).toContain('verified: the device is synced');
    expect(err).toEqual([]);
  });

  it("`switchyard sync qr -- <id>` takes an id that starts with '-' (older logs made such ids) as the user id, not an option", async () => {
    const setup = await setUp();
    const config = loadConfig({ flags: { port: String(setup.server.port), data: setup.server.dataDir }, env: {} });
    const err: string[] = [];
    const output = { out: () => undefined, err: (line: string) => err.push(line) };
    expect(await syncCommand(['qr', '-fK2nosuchuser'], config, output)).toBe(2);
    expect(err.pop()).toMatch(/^Unknown option '-f'[\s\S]*usage:/);
    expect(await syncCommand(['qr', '--', '-fK2nosuchuser'], config, output)).toBe(1);
    expect(err).toEqual(['NOT_FOUND: no user -fK2nosuchuser in any organisation']);
  });
});

describe('device sync: who may open a session and read its QR codes', () => {
  it("needs the user's access token or an organisation token of the user's organisation", async () => {
    const setup = await setUp();
    const path = `/v2/sync/users/${setup.ann.userId}`;
    const bare = await fetch(setup.server.url(path));
    expect(await refusal(bare)).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect(bare.headers.get('www-authenticate')).toBe('Bearer');
    expect((await refusal(await fetch(setup.server.url(path), { headers: { authorization: 'Bearer not.a.token' } }))).status).toBe(401);
    expect(await refusal(await fetch(setup.server.url(path), { headers: { authorization: `Bearer ${setup.bobToken}` } }))).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    const organisation = setup.server.gateway.identity.directory.organisationsOf(setup.ann.userId)[0]!;
    const operator = await setup.server.gateway.identity.tokens.issue('organisation', { subject: 'backend', ttlSeconds: 600, claims: { org: organisation }, now: Date.now() });
    expect((await fetch(setup.server.url(path), { headers: { authorization: `Bearer ${operator.token}` } })).status).toBe(200);
    const other = await setup.server.gateway.identity.tokens.issue('organisation', { subject: 'backend', ttlSeconds: 600, claims: { org: 'elsewhere' }, now: Date.now() });
    expect((await refusal(await fetch(setup.server.url(path), { headers: { authorization: `Bearer ${other.token}` } }))).status).toBe(403);
    expect(events(setup, 'SyncSessionCreated')).toHaveLength(1);
  });

  it('serves the current QR code as PNG and SVG, to the same credentials, and not for a dead id', async () => {
    const setup = await setUp();
    const { sessionId, page } = await newSession(setup);
    const base = `/v2/sync/users/${setup.ann.userId}/sessions/${sessionId}`;
    const auth = { authorization: `Bearer ${setup.annToken}` };
    const png = await fetch(setup.server.url(`${base}/qr.png`), { headers: auth });
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await png.arrayBuffer()).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const svg = await fetch(setup.server.url(`${base}/qr.svg`), { headers: auth });
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    expect(await svg.text()).toContain('<svg');
    expect((await fetch(setup.server.url(`${base}/qr.png`))).status).toBe(401);
    expect((await fetch(setup.server.url(`${base}/qr.svg`), { headers: { authorization: `Bearer ${setup.bobToken}` } })).status).toBe(403);
    page.socket.close();
    await until(() => events(setup, 'SyncSessionExpired').length === 1, 'expired when the page closes');
    expect((await fetch(setup.server.url(`${base}/qr.png`), { headers: auth })).status).toBe(404);
  });
});

describe('device sync: bad input is refused, and nothing pauses or acks', () => {
  it('handshakes on unknown, rotated, expired or another user\'s sessions', async () => {
    const setup = await setUp({ syncSleepSeconds: '1', syncChangeLimit: '10' });
    const { page, qrUrl, sessionId } = await newSession(setup);
    const ann = setup.ann.userId;
    const shake = (user: string, id: string) => post(setup, `/v2/sync/users/${user}/sessions/${id}/handshake`, { public_key: phone.publicKeyPem });
    expect(await refusal(await shake(ann, 'made-up-id'))).toMatchObject({ status: 404, message: expect.stringMatching(/unknown sync session/) });
    // Ann's session under Bob's id is as unknown as a made-up one.
    expect(await refusal(await shake(setup.bob.userId, sessionId))).toMatchObject({ status: 404, message: expect.stringMatching(/unknown sync session/) });
    await until(() => page.urls().length >= 2, 'a rotation', 10_000_000);
    expect(await refusal(await fetch(qrUrl, { method: 'POST', body: JSON.stringify({ public_key: phone.publicKeyPem }) }))).toMatchObject({
      status: 404,
      message: expect.stringMatching(/no longer current/),
    });
    page.socket.close();
    await until(() => events(setup, 'SyncSessionExpired').length === 1, 'expired when the page closes');
    const last = sessionIdOf(page.urls().at(-1)!.qr_url);
    // The id the page showed last was current when the page closed: that session has expired.
    expect(await refusal(await shake(ann, last))).toMatchObject({ status: 404, message: expect.stringMatching(/has expired/) });
    expect(page.texts.filter((text) => !text.startsWith('{'))).toEqual([]);
    expect(events(setup, 'SyncSessionPaused')).toHaveLength(0);
  });

  it('public keys that are not PEM, not RSA or under 2048 bits; bodies that are not JSON', async () => {
    const setup = await setUp();
    const { page, qrUrl } = await newSession(setup);
    const shake = async (body: unknown) => refusal(await fetch(qrUrl, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) }));
    expect(await shake('not json')).toMatchObject({ status: 400, message: 'body must be JSON' });
    expect(await shake({})).toMatchObject({ status: 400, message: expect.stringMatching(/PEM public key/) });
    expect(await shake({ public_key: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' })).toMatchObject({ status: 400, message: expect.stringMatching(/not a readable PEM/) });
    const ed25519 = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(await shake({ public_key: ed25519 })).toMatchObject({ status: 400, message: 'public_key must be an RSA key, not ed25519' });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(await shake({ public_key: ec })).toMatchObject({ status: 400, message: 'public_key must be an RSA key, not ec' });
    expect(await shake({ public_key: device(1024).publicKeyPem })).toMatchObject({ status: 400, message: expect.stringMatching(/1024-bit RSA key; at least 2048/) });
    expect(events(setup, 'SyncSessionPaused')).toHaveLength(0);
    expect(page.texts).toHaveLength(1);
    // The same session still pauses for a good key: the refusals changed nothing.
    await handshake(setup, qrUrl);
    await until(() => page.texts.includes('201- pause'), 'paused');
  });

  it('ciphertexts that are not RSA-OAEP, too long, or to another key; then wrong passwords until the session fails', async () => {
    const setup = await setUp();
    const { page, qrUrl } = await newSession(setup);
    const answer = await handshake(setup, qrUrl);
    await until(() => page.texts.includes('201- pause'), 'paused');
    const verify = async (password: unknown) => refusal(await post(setup, answer.verification_url, { password }));
    const right = Buffer.from(setup.ann.password);
    const pkcs1 = publicEncrypt({ key: answer.public_key, padding: constants.RSA_PKCS1_PADDING }, right).toString('base64');
    expect(await verify(pkcs1)).toMatchObject({ status: 400, message: expect.stringMatching(/not RSA-OAEP/) });
    const sha1Oaep = publicEncrypt({ key: answer.public_key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, right).toString('base64');
    expect(await verify(sha1Oaep)).toMatchObject({ status: 400, message: expect.stringMatching(/not RSA-OAEP \(SHA-256\)/) });
    expect(await verify(encryptTo(phone.publicKeyPem, setup.ann.password))).toMatchObject({ status: 400, message: expect.stringMatching(/not RSA-OAEP/) });
    expect(await verify(Buffer.alloc(4096, 1).toString('base64'))).toMatchObject({ status: 400, message: expect.stringMatching(/too long/) });
    expect(await verify(Buffer.alloc(100, 1).toString('base64'))).toMatchObject({ status: 400, message: expect.stringMatching(/100 bytes/) });
    expect(await verify('not base64 at all!')).toMatchObject({ status: 400, message: expect.stringMatching(/base64/) });
    expect(await verify(setup.ann.password)).toMatchObject({ status: 400 });
    expect(events(setup, 'SyncSessionPasswordRejected')).toHaveLength(0);

    const wrong = () => verify(encryptTo(answer.public_key, 'not-the-password'));
    expect(await wrong()).toMatchObject({ status: 401, message: expect.stringMatching(/1 of 3/) });
    expect(await wrong()).toMatchObject({ status: 401, message: expect.stringMatching(/2 of 3/) });
    expect(await wrong()).toMatchObject({ status: 401, message: expect.stringMatching(/failed after 3/) });
    await until(() => page.closed !== undefined, 'the page is closed');
    expect(page.texts.slice(1)).toEqual(['201- pause', '401- failed']);
    expect(page.closed!.code).toBe(4403);
    // Even the right password now: the session is over.
    expect(await verify(encryptTo(answer.public_key, setup.ann.password))).toMatchObject({ status: 409, message: expect.stringMatching(/failed/) });
    expect(events(setup, 'SyncSessionFailed')).toHaveLength(1);
    expect(events(setup, 'SyncSessionVerified')).toHaveLength(0);
  });

  it('rate limits bad verification attempts per address', async () => {
    const setup = await setUp();
    const { qrUrl } = await newSession(setup);
    const answer = await handshake(setup, qrUrl);
    const attempt = () => post(setup, answer.verification_url, { password: Buffer.alloc(256, 7).toString('base64') });
    for (let index = 0; index < 10; index++) expect((await attempt()).status).toBe(400);
    const limited = await attempt();
    expect(await refusal(limited)).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // The right password from the same address waits too.
    const right = await post(setup, answer.verification_url, { password: encryptTo(answer.public_key, setup.ann.password) });
    expect(right.status).toBe(429);
    expect(events(setup, 'SyncSessionVerified')).toHaveLength(0);
  });

  it('a second page on the same session is refused', async () => {
    const setup = await setUp();
    const { wsUrl, page } = await newSession(setup);
    await expect(openPage(wsUrl)).rejects.toMatchObject({ status: 409 });
    expect(page.closed).toBeUndefined();
    expect(page.texts).toHaveLength(1);
  });

  it('no request without the handshake\'s answer can pause or ack', async () => {
    const setup = await setUp();
    const { page, qrUrl, sessionId } = await newSession(setup);
    const ann = setup.ann.userId;
    // The seed's open URLs do not exist; nor does any GET that would act.
    for (const path of [`/v2/sync/users/${ann}/sessions/${sessionId}/pause`, `/v2/sync/users/${ann}/sessions/${sessionId}/ack`]) {
      expect((await fetch(setup.server.url(path))).status).toBe(404);
      expect((await post(setup, path, {})).status).toBe(404);
    }
    expect((await fetch(setup.server.url(`/v2/sync/users/${ann}/sessions/${sessionId}`))).status).toBe(404);
    // The page's own socket cannot drive the session.
    page.socket.send('201- pause');
    page.socket.send('200- ack');
    page.socket.send(JSON.stringify({ event: 'ack' }));
    // Verifying on the QR id (no handshake made): refused, with the right password too.
    const early = await post(setup, `/v2/sync/users/${ann}/sessions/${sessionId}`, { password: encryptTo(phone.publicKeyPem, setup.ann.password) });
    expect(await refusal(early)).toMatchObject({ status: 404, message: expect.stringMatching(/no longer current/) });
    // The real device pauses; whoever else saw the QR code cannot pause again or verify on it.
    const answer = await handshake(setup, qrUrl);
    const intruder = device();
    const second = await fetch(qrUrl, { method: 'POST', body: JSON.stringify({ public_key: intruder.publicKeyPem }) });
    expect(await refusal(second)).toMatchObject({ status: 404, message: expect.stringMatching(/no longer current/) });
    const onQrId = await post(setup, `/v2/sync/users/${ann}/sessions/${sessionId}`, { password: encryptTo(answer.public_key, setup.ann.password) });
    expect((await refusal(onQrId)).status).toBe(404);
    expect(page.texts.slice(1)).toEqual(['201- pause']);
    expect(events(setup, 'SyncSessionPaused')).toHaveLength(1);
    expect(events(setup, 'SyncSessionVerified')).toHaveLength(0);
    expect(page.closed).toBeUndefined();
  });
});

describe('device sync: restart', () => {
  it('a session paused when the gateway stops is expired at the next start; the page was told', async () => {
    extraDir = mkdtempSync(join(tmpdir(), 'switchyard-sync-restart-'));
    const setup = await setUp({}, extraDir);
    const { page, qrUrl } = await newSession(setup);
    const answer = await handshake(setup, qrUrl);
    await until(() => page.texts.includes('201- pause'), 'paused');
    await setup.server.close();
    server = undefined;
    await until(() => page.closed !== undefined, 'the page is told the gateway stops');
    expect(page.closed!.code).toBe(1001);

    server = await startTestGateway({ syncSleepSeconds: '60' }, extraDir);
    const expired = server.gateway.store.readAll({ type: 'SyncSessionExpired' });
    expect(expired.map((event) => (event.data as { reason: string }).reason)).toEqual(['gateway restarted']);
    const verify = await fetch(server.url(answer.verification_url), { method: 'POST', body: JSON.stringify({ password: encryptTo(answer.public_key, setup.ann.password) }) });
    expect(await refusal(verify)).toMatchObject({ status: 404, message: expect.stringMatching(/expired/) });
    expect(server.gateway.store.readAll({ type: 'SyncSessionVerified' })).toHaveLength(0);
    // The server key is kept in data/keys/: the same after the restart.
    const again = await fetch(server.url(`/v2/sync/users/${setup.ann.userId}`), { headers: { authorization: `Bearer ${setup.annToken}` } });
    expect(again.status).toBe(200);
  });
});
