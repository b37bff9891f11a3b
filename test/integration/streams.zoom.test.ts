import { createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { Gateway } from '../../src/app/gateway.js';
import type { Output } from '../../src/cli/output.js';
import { zoomCommand } from '../../src/cli/zoom.js';
import { systemClock } from '../../src/core/clock.js';
import { createLogger } from '../../src/edge/logger.js';
import { DATABASE_FILE } from '../../src/store/index.js';
import { command, responseOf } from '../helpers/extream.js';
import { ask, createUsers, type TestUser } from '../helpers/identity.js';
import type { TestGateway } from '../helpers/gateway.js';
import { decodeJson, split } from '../helpers/jws.js';
import { connectV4, type V4Client } from '../helpers/socketio.js';
import { tempDir } from '../helpers/temp-dir.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * `consumer_zoom_sign` end to end on a running gateway (PROTOCOL.md section 8, issue 10): an
 * operator sets an organisation's Meeting SDK credentials with `switchyard zoom set` (run
 * in-process on the server's data dir, as a second process on the same log would) and the
 * running server signs with them at once; each signature is checked here independently (HS256
 * recomputed with node:crypto, Zoom's claims); host signatures only for hosts; refusals; the
 * secret is in no answer, log row, database page or CLI output. Bounds are hang guards.
 */

const WAIT_MS = 60_000;
const MEETING = '81234567890';
const KEY_1 = 'zoomKeyOne_123';
const SECRET_1 = 'first-zoom-secret-0123456789';
const KEY_2 = 'zoomKeyTwo_456';
const SECRET_2 = 'second-zoom-secret-9876543210';
type Data = Record<string, any>;

async function startGateway(dataDir: string): Promise<TestGateway> {
  const env = { SWITCHYARD_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', SWITCHYARD_AUTH_DEADLINE_SECONDS: '0', SWITCHYARD_ZOOM_SIGNATURE_SECONDS: '3600' };
  const config = loadConfig({ flags: { port: '0', data: dataDir }, env });
  const gateway = await Gateway.start({ config, logger: createLogger(config.logLevel), clock: systemClock });
  const port = gateway.port;
  return { gateway, port, dataDir, url: (path = '/') => `http://127.0.0.1:${port}${path}`, wsUrl: (path = '/ws') => `ws://127.0.0.1:${port}${path}`, close: () => gateway.stop() };
}

/** The signature checked without the gateway's code: the MAC recomputed over the first two parts. */
function verifiedClaims(signature: string, secret: string): Record<string, unknown> {
  const parts = split(signature);
  expect(decodeJson(parts.header)).toEqual({ alg: 'HS256', typ: 'JWT' });
  const expected = createHmac('sha256', secret).update(`${parts.header}.${parts.payload}`).digest();
  const actual = Buffer.from(parts.signature, 'base64url');
  expect(actual.length === expected.length && timingSafeEqual(actual, expected)).toBe(true);
  return decodeJson(parts.payload);
}

function capture(): Output & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (line) => lines.push(line), err: (line) => lines.push(line) };
}

describe('zoom signatures', { timeout: 240_000 }, () => {
  const dir = tempDir('switchyard-zoom-');
  let server: TestGateway;
  let users: Record<string, TestUser>;
  const clients: Record<string, TestClient> = {};
  let anonymous: TestClient;
  let v4: V4Client;
  let organisation: string;
  let meetingItem: string;
  let noMeetingItem: string;
  let privateItem: string;
  let rtmpItem: string;
  /** Every answer any client got and every CLI line, for the leak check at the end. */
  const seen: unknown[] = [];

  const sign = async (client: TestClient, data: Data) => {
    const answers = await command(client, 'consumer_zoom_sign', data, WAIT_MS);
    seen.push(answers.receipt, answers.result);
    return answers.result.data as Data;
  };
  const zoom = async (args: string[], stdin = ''): Promise<{ code: number; lines: string[] }> => {
    const output = capture();
    const config = loadConfig({ flags: { data: dir.path } });
    const code = await zoomCommand([...args, '--data', dir.path], config, output, Readable.from([stdin]));
    seen.push(output.lines);
    return { code, lines: output.lines };
  };

  beforeAll(async () => {
    server = await startGateway(dir.path);
    const seed = await server.gateway.identity.createOrganisation('Seed', 'test');
    users = await createUsers(server, seed, [{ username: 'olga' }, { username: 'arne' }, { username: 'carl' }, { username: 'hank' }]);
    for (const [name, user] of Object.entries(users)) {
      const token = (await server.gateway.identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 86_400, now: Date.now() })).token;
      clients[name] = await TestClient.connect(server.wsUrl());
      expect(await ask(clients[name]!, 'authorize', { method: 'oauth2', token })).toMatchObject({ event: 'authorized' });
    }
    const idOf = async (topic: string, data: unknown) => responseOf<{ id: string }>(await command(clients.olga!, topic, data, WAIT_MS)).id;
    organisation = await idOf('admin_organisation_create', { data: { name: 'Zoom Org' } });
    const day = { start_date: '2030-05-04T08:00:00Z', end_date: '2030-05-04T18:00:00Z' };
    const event = await idOf('admin_event_create', { data: { organisation, name: 'Zoom Day', public: true, ...day } });
    const privateEvent = await idOf('admin_event_create', { data: { organisation, name: 'Staff call', ...day } });
    const itinerary = await idOf('admin_itinerary_create', { data: { event, name: 'Day', ...day } });
    const privateItinerary = await idOf('admin_itinerary_create', { data: { event: privateEvent, name: 'Day', ...day } });
    const item = (on: string, type: string, configuration: Data) =>
      idOf('admin_item_create', { data: { itinerary: on, type, name: `A ${type} item`, start_date: '2030-05-04T10:00:00Z', end_date: '2030-05-04T11:00:00Z', configuration } });
    meetingItem = await item(itinerary, 'zoom', { mode: 'group', meeting_number: MEETING });
    noMeetingItem = await item(itinerary, 'zoom', { mode: 'group' });
    privateItem = await item(privateItinerary, 'zoom', { mode: 'group', meeting_number: 123456789 });
    rtmpItem = await item(itinerary, 'rtmp', { mode: 'live' });
    // Hank runs calls (operate_webrtc); Carl is crew of the event; Arne is audience.
    await command(clients.olga!, 'admin_group_grant', { organisation, group: 'operators', permissions: ['operate_webrtc'] }, WAIT_MS);
    await server.gateway.identity.addToGroup(users.hank!.userId, organisation, 'operators', 'test');
    await command(clients.olga!, 'admin_event_update', { id: event, data: { user_types: [{ user: users.carl!.userId, user_type: 'crew' }] } }, WAIT_MS);
    anonymous = await TestClient.connect(server.wsUrl());
    v4 = await connectV4(server.port);
  }, 180_000);

  afterAll(async () => {
    for (const client of [...Object.values(clients), anonymous]) client?.close();
    v4?.socket.close();
    await server?.close();
    dir.remove();
  });

  it('an organisation without credentials: UNAVAILABLE, saying so', async () => {
    expect(await sign(clients.arne!, { id: meetingItem })).toMatchObject({
      status: 503,
      error: expect.stringContaining('Zoom is not set up for this organisation'),
      meta: { permitted: true, message: 'unavailable' },
    });
  });

  it('switchyard zoom set refuses bad input and an unknown organisation, recording nothing', async () => {
    const before = server.gateway.store.readAll().length;
    expect(await zoom(['set', '--org', organisation, '--key', KEY_1], SECRET_1)).toEqual({ code: 1, lines: [expect.stringMatching(/^BAD_REQUEST: .*--secret-stdin/)] });
    expect(await zoom(['set', '--org', organisation, '--key', 'no spaces allowed', '--secret-stdin'], SECRET_1)).toMatchObject({ code: 1, lines: [expect.stringMatching(/^BAD_REQUEST/)] });
    const spaced = await zoom(['set', '--org', organisation, '--key', KEY_1, '--secret-stdin'], 'a secret with spaces');
    expect(spaced.code).toBe(1);
    expect(spaced.lines.join('\n')).not.toContain('a secret with spaces');
    expect(await zoom(['set', '--org', 'No Such Org', '--key', KEY_1, '--secret-stdin'], SECRET_1)).toMatchObject({ code: 1, lines: [expect.stringMatching(/^NOT_FOUND/)] });
    expect(await zoom(['show', '--org', organisation])).toMatchObject({ code: 1, lines: [expect.stringMatching(/^NOT_FOUND: .*has no Zoom credentials/)] });
    expect((await zoom(['unset', '--org', organisation])).code).toBe(2);
    expect(server.gateway.store.readAll().length).toBe(before);
  });

  it('switchyard zoom set records the key and the sealed secret; the running server signs with them at once', async () => {
    const set = await zoom(['set', '--org', 'Zoom Org', '--key', KEY_1, '--secret-stdin', '--json'], `${SECRET_1}\n`);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.lines[0]!)).toMatchObject({ organisation, sdk_key: KEY_1, source: 'log' });
    const [recorded] = server.gateway.store.readAll({ type: 'ZoomCredentialsSet' });
    expect(recorded).toMatchObject({ streamId: `zoom_credentials-${organisation}`, data: { organisationId: organisation, sdkKey: KEY_1, sealedSecret: expect.stringMatching(/^v1\./) }, metadata: { actor: 'operator' } });
    const shown = await zoom(['show', '--org', organisation]);
    expect(shown.code).toBe(0);
    expect(shown.lines.join('\n')).toMatch(new RegExp(`${organisation}\\s+${KEY_1}\\s+log`));

    const before = Date.now();
    const answer = await sign(clients.arne!, { id: meetingItem });
    expect(answer).toMatchObject({ status: 200, domain: 'consumer', action: 'zoom', command: 'sign', meta: { permitted: true, requiresLogin: false } });
    const { signature, ...rest } = answer.response;
    expect(rest).toEqual({ sdkKey: KEY_1, meeting_number: MEETING, role: 0, expires_at: expect.any(String) });
    const claims = verifiedClaims(signature, SECRET_1);
    expect(claims).toEqual({ appKey: KEY_1, sdkKey: KEY_1, mn: MEETING, role: 0, iat: expect.any(Number), exp: expect.any(Number), tokenExp: expect.any(Number) });
    const { iat, exp, tokenExp } = claims as { iat: number; exp: number; tokenExp: number };
    // iat 30 s in the past, valid zoomSignatureSeconds (3600 here) after it.
    expect(iat).toBeLessThanOrEqual(Math.floor(before / 1000) - 30 + 1);
    expect(iat).toBeGreaterThanOrEqual(Math.floor(before / 1000) - 31);
    expect([exp - iat, tokenExp]).toEqual([3600, exp]);
    expect(Date.parse(rest.expires_at)).toBe(exp * 1000);
  });

  it('role 1 (host) only for hosts; an attendee asking for it is refused', async () => {
    expect(await sign(clients.arne!, { id: meetingItem, role: 1 })).toMatchObject({ status: 403, meta: { permitted: false, reason: 'unauthorized' } });
    expect(await sign(anonymous, { id: meetingItem, role: 1 })).toMatchObject({ status: 403 });
    for (const host of ['olga', 'carl', 'hank']) {
      const answer = await sign(clients[host]!, { id: meetingItem, role: 1 });
      expect(answer.response.role, host).toBe(1);
      expect(verifiedClaims(answer.response.signature, SECRET_1).role, host).toBe(1);
    }
    // A host who does not ask for it gets an attendee's signature.
    expect((await sign(clients.olga!, { id: meetingItem })).response.role).toBe(0);
  });

  it('refuses other item types, items without a meeting, unknown items, bad roles and private events to outsiders', async () => {
    const before = server.gateway.store.readAll().length;
    expect(await sign(clients.arne!, { id: rtmpItem })).toMatchObject({ status: 400, response: { errors: [{ path: 'id', message: expect.stringContaining('rtmp') }] } });
    expect(await sign(clients.arne!, { id: noMeetingItem })).toMatchObject({ status: 404, error: expect.stringContaining('no meeting number') });
    expect(await sign(clients.arne!, { id: '00000000-0000-4000-8000-000000000000' })).toMatchObject({ status: 404 });
    expect(await sign(clients.arne!, { id: meetingItem, role: 2 })).toMatchObject({ status: 400, response: { errors: [{ path: 'role' }] } });
    expect(await sign(anonymous, { id: privateItem })).toMatchObject({ status: 401, meta: { requiresLogin: true } });
    expect(await sign(clients.arne!, { id: privateItem })).toMatchObject({ status: 403 });
    // A member of the organisation may: the numeric meeting number comes back as digits.
    expect((await sign(clients.olga!, { id: privateItem })).response).toMatchObject({ meeting_number: '123456789', role: 0 });
    expect(server.gateway.store.readAll().length).toBe(before);
  });

  it('over Socket.IO 4.x, anonymously on a public event, with an ack', async () => {
    const ack = (await v4.socket.timeout(WAIT_MS).emitWithAck('consumer_zoom_sign', { id: meetingItem })) as Data;
    seen.push(ack);
    expect(ack).toMatchObject({ status: 200, response: { sdkKey: KEY_1, role: 0 } });
    expect(verifiedClaims(ack.response.signature, SECRET_1).mn).toBe(MEETING);
  });

  it('an invited guest signs for its own zoom item, as an attendee, and for nothing else', async () => {
    // The invitation the guest token speaks for is in the log, as if its ticket had been mailed
    // and exchanged: this is about what the guest may sign, not the mail (invitations' tests).
    const invitationId = 'zoom-guest-1';
    const now = Date.now();
    await server.gateway.store.append(
      `invitation-${invitationId}`,
      [
        {
          type: 'InvitationIssued',
          data: {
            invitationId, itemId: meetingItem, itineraryId: 'itinerary', eventId: 'event', organisationId: organisation, email: 'guest@outside.test', name: null,
            title: 'Call', joinUrl: 'http://127.0.0.1/guest', ticketJti: invitationId, ticketExpiresAt: now + 600_000, sequence: 0, issuedAt: now,
          },
        },
      ],
      0,
    );
    const { token } = await server.gateway.identity.tokens.issue('guest', {
      subject: invitationId,
      ttlSeconds: 600,
      claims: { item: meetingItem, room: `item-${meetingItem}`, org: organisation, email: 'guest@outside.test', name: 'Guest' },
      now,
    });
    const guest = await TestClient.connect(server.wsUrl());
    clients.guest = guest;
    expect(await ask(guest, 'authorize', { token })).toMatchObject({ event: 'authorized', data: { guest: true } });
    const own = await sign(guest, { id: meetingItem });
    expect(own).toMatchObject({ status: 200, response: { role: 0, meeting_number: MEETING } });
    expect(verifiedClaims(own.response.signature, SECRET_1).role).toBe(0);
    expect(await sign(guest, { id: meetingItem, role: 1 })).toMatchObject({ status: 403 });
    expect(await sign(guest, { id: privateItem })).toMatchObject({ status: 403, meta: { permitted: false } });
  });

  it('setting new credentials while the server runs: the next signature uses them', async () => {
    expect((await zoom(['set', '--org', organisation, '--key', KEY_2, '--secret-stdin'], SECRET_2)).code).toBe(0);
    const answer = await sign(clients.arne!, { id: meetingItem });
    expect(answer.response.sdkKey).toBe(KEY_2);
    expect(verifiedClaims(answer.response.signature, SECRET_2).sdkKey).toBe(KEY_2);
  });

  it('the secrets are in no answer, no CLI output, no log row and no database page', () => {
    const texts = [JSON.stringify(seen), JSON.stringify(server.gateway.store.readAll())];
    const files = [DATABASE_FILE, `${DATABASE_FILE}-wal`].map((name) => join(dir.path, name)).filter(existsSync);
    expect(files.length).toBeGreaterThan(0);
    for (const secret of [SECRET_1, SECRET_2]) {
      for (const text of texts) expect(text).not.toContain(secret);
      for (const file of files) expect(readFileSync(file).includes(secret)).toBe(false);
    }
  });

  it('the events view redacts the sealed secret', async () => {
    // Imported here: the events view loads the whole event catalogue, which only this check needs.
    const { eventsCommand } = await import('../../src/cli/events.js');
    const view = capture();
    expect(await eventsCommand({ dataDir: dir.path, type: 'ZoomCredentialsSet', json: true }, view)).toBe(0);
    expect(view.lines.map((line) => JSON.parse(line).data)).toEqual([
      expect.objectContaining({ sdkKey: KEY_1, sealedSecret: '[redacted]' }),
      expect.objectContaining({ sdkKey: KEY_2, sealedSecret: '[redacted]' }),
    ]);
    for (const secret of [SECRET_1, SECRET_2]) expect(view.lines.join('\n')).not.toContain(secret);
  });
});
