import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { Gateway } from '../../src/app/gateway.js';
import { replay } from '../../src/cli/replay.js';
import { systemClock } from '../../src/core/clock.js';
import { createLogger } from '../../src/edge/logger.js';
import { DATABASE_FILE } from '../../src/store/index.js';
import { command, responseOf } from '../helpers/extream.js';
import { ask, createUsers, type TestUser } from '../helpers/identity.js';
import type { TestGateway } from '../helpers/gateway.js';
import { connectV4, type V4Client } from '../helpers/socketio.js';
import { tempDir } from '../helpers/temp-dir.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/**
 * Live streams on rtmp items end to end on a running gateway with the system clock (PROTOCOL.md
 * section 8, issue 10): the broadcaster's key (`client_rtmp_get`, rotation revokes), the
 * streaming service's activate and complete (by key over a socket and over HTTP, or by an
 * organisation token), the join answer per status and viewer, `consumer_rtmp_status` pushes
 * to native JSON, MessagePack and Socket.IO 4.x joiners with the log position as `seq`, a
 * status change by the clock (the live window opening a few seconds after the test starts),
 * refusals that append nothing, no stream key in the log, and replay equality. Waits are on
 * conditions; bounds are hang guards for a loaded machine.
 */

const WAIT_MS = 60_000;
const PUSH = 'consumer_rtmp_status';
const PLAYBACK = 'https://play.test/live';
const PREVIEW = 'https://preview.test/live';
type Data = Record<string, any>;

async function startGateway(dataDir: string): Promise<TestGateway> {
  const env = {
    SWITCHYARD_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SWITCHYARD_AUTH_DEADLINE_SECONDS: '0',
    SWITCHYARD_BAD_FRAME_LIMIT: '10000',
    SWITCHYARD_RTMP_PLAYBACK_BASE_URL: PLAYBACK,
    SWITCHYARD_RTMP_PREVIEW_BASE_URL: PREVIEW,
    SWITCHYARD_RTMP_INGEST_BASE_URL: 'rtmp://ingest.test/live/',
  };
  const config = loadConfig({ flags: { port: '0', data: dataDir }, env });
  const gateway = await Gateway.start({ config, logger: createLogger(config.logLevel), clock: systemClock });
  const port = gateway.port;
  return { gateway, port, dataDir, url: (path = '/') => `http://127.0.0.1:${port}${path}`, wsUrl: (path = '/ws') => `ws://127.0.0.1:${port}${path}`, close: () => gateway.stop() };
}

const iso = (epochMs: number): string => new Date(epochMs).toISOString();
const hls = (base: string, itemId: string) => `${base}/${itemId}/index.m3u8`;

describe('rtmp streams', { timeout: 240_000 }, () => {
  const dir = tempDir('switchyard-streams-');
  const started = Date.now();
  let server: TestGateway;
  let users: Record<string, TestUser>;
  const tokens: Record<string, string> = {};
  const clients: Record<string, TestClient> = {};
  let anonymous: TestClient;
  let msgpack: TestClient;
  let v4: V4Client;
  let organisation: string;
  let eventId: string;
  let liveItem: string;
  let soonItem: string;
  let idleItem: string;
  let videoItem: string;
  let orgToken: string;
  /** Every frame any client received, for the leak check at the end. */
  const seen: unknown[] = [];

  const signedIn = async (name: string, token: string): Promise<TestClient> => {
    const client = await TestClient.connect(server.wsUrl());
    const authorized = await ask(client, token === orgToken ? 'authenticate' : 'authorize', { method: 'oauth2', token });
    expect(authorized.event).toMatch(/^(authorized|authenticated)$/);
    clients[name] = client;
    return client;
  };
  const idOf = async (topic: string, data: unknown) => responseOf<{ id: string }>(await command(clients.olga!, topic, data, WAIT_MS)).id;
  const logged = () => server.gateway.store.readAll();
  const eventsOf = (type: string, itemId: string) => server.gateway.store.readAll({ type }).filter((event) => (event.data as Data).itemId === itemId);
  const nativePush = async (client: TestClient, match: (data: Data) => boolean): Promise<Data> => {
    const frame = await client.next((candidate: Frame) => candidate.event === PUSH && match(candidate.data as Data), WAIT_MS);
    seen.push(frame);
    return frame.data as Data;
  };
  const v4Push = async (match: (data: Data) => boolean): Promise<Data> => {
    const event = await v4.log.next((candidate) => candidate.event === PUSH && match(candidate.args[0] as Data), WAIT_MS);
    seen.push(event);
    return event.args[0] as Data;
  };
  const ask2 = async (client: TestClient, topic: string, data: unknown) => {
    const answers = await command(client, topic, data, WAIT_MS);
    seen.push(answers.receipt, answers.result);
    return answers;
  };

  beforeAll(async () => {
    server = await startGateway(dir.path);
    const seed = await server.gateway.identity.createOrganisation('Seed', 'test');
    users = await createUsers(server, seed, [{ username: 'olga' }, { username: 'arne' }, { username: 'anna' }, { username: 'carl' }, { username: 'sam' }]);
    for (const [name, user] of Object.entries(users)) tokens[name] = (await server.gateway.identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 86_400, now: Date.now() })).token;
    await signedIn('olga', tokens.olga!);
    organisation = await idOf('admin_organisation_create', { data: { name: 'Stream Org' } });
    const day = { start_date: iso(started - 86_400_000), end_date: iso(started + 86_400_000) };
    eventId = await idOf('admin_event_create', { data: { organisation, name: 'Stream Fest', public: true, ...day } });
    const itinerary = await idOf('admin_itinerary_create', { data: { event: eventId, name: 'Today', ...day } });
    const rtmp = (name: string, start: number, configuration: Data = {}) =>
      idOf('admin_item_create', { data: { itinerary, type: 'rtmp', name, start_date: iso(start), end_date: iso(start + 3600_000), configuration: { mode: 'live', ...configuration } } });
    // In its live window already (it starts in 10 minutes); Anna is its designated broadcaster.
    liveItem = await rtmp('Keynote', started + 10 * 60_000, { actor: users.anna!.userId });
    // Two hours away: rehearsing until the test moves it (the scheduler's status change).
    soonItem = await rtmp('Afternoon talk', started + 2 * 3600_000);
    idleItem = await rtmp('Never on air', started + 5 * 60_000);
    videoItem = await idOf('admin_item_create', { data: { itinerary, type: 'video', name: 'Replay', configuration: { url: 'https://cdn.test/v.mp4' } } });
    // Sam may stream (stream_rtmp); Carl is crew of the event; Arne is audience.
    await command(clients.olga!, 'admin_group_grant', { organisation, group: 'streamers', permissions: ['stream_rtmp'] }, WAIT_MS);
    await server.gateway.identity.addToGroup(users.sam!.userId, organisation, 'streamers', 'test');
    await command(clients.olga!, 'admin_event_update', { id: eventId, data: { user_types: [{ user: users.carl!.userId, user_type: 'crew' }] } }, WAIT_MS);
    orgToken = (await server.gateway.identity.tokens.issue('organisation', { subject: 'streaming-service', ttlSeconds: 3600, claims: { org: organisation }, now: Date.now() })).token;
    for (const name of ['arne', 'anna', 'carl', 'sam']) await signedIn(name, tokens[name]!);
    await signedIn('service', orgToken);
    anonymous = await TestClient.connect(server.wsUrl());
    msgpack = await TestClient.connect(server.wsUrl(), { protocols: ['switchyard.v1.msgpack'] });
    v4 = await connectV4(server.port);
  }, 180_000);

  afterAll(async () => {
    for (const client of [...Object.values(clients), anonymous, msgpack]) client?.close();
    v4?.socket.close();
    await server?.close();
    dir.remove();
  });

  let firstKey: string;
  let currentKey: string;

  it('client_rtmp_get: the designated actor gets the ingest URL and a new key (201, receipt ex-streamer); asked again, the same key', async () => {
    const first = await ask2(clients.anna!, 'client_rtmp_get', { id: liveItem });
    expect(first.receipt?.data).toMatchObject({ status: 202, topic: 'ex-streamer', messageId: expect.any(Number) });
    const response = responseOf<Data>(first);
    expect(first.result.data).toMatchObject({ status: 201, domain: 'client', action: 'rtmp', command: 'get' });
    expect(response).toMatchObject({ id: liveItem, ingest_url: 'rtmp://ingest.test/live', key_generation: 1, status: 'rehearsing', stream_url: hls(PREVIEW, liveItem) });
    firstKey = response.stream_key;
    expect(firstKey).toMatch(new RegExp(`^live_${liveItem}_[A-Za-z0-9_-]{43}$`));
    expect(response.publish_url).toBe(`rtmp://ingest.test/live/${firstKey}`);
    const again = await ask2(clients.anna!, 'client_rtmp_get', { id: liveItem });
    expect(again.receipt).toBeUndefined();
    expect(responseOf<Data>(again)).toMatchObject({ stream_key: firstKey, key_generation: 1 });
    // A holder of stream_rtmp and the organisation's own token get the same key.
    expect(responseOf<Data>(await ask2(clients.sam!, 'client_rtmp_get', { id: liveItem })).stream_key).toBe(firstKey);
    expect(responseOf<Data>(await ask2(clients.service!, 'client_rtmp_get', { id: liveItem })).stream_key).toBe(firstKey);
  });

  it('refuses anyone else, other item types and unknown items, appending nothing', async () => {
    const before = logged().length;
    const refusals: [TestClient, string, Data, number, Data?][] = [
      [clients.arne!, 'client_rtmp_get', { id: liveItem }, 403, { meta: { permitted: false, reason: 'unauthorized' } }],
      [clients.carl!, 'client_rtmp_get', { id: liveItem }, 403],
      [anonymous, 'client_rtmp_get', { id: liveItem }, 401, { meta: { permitted: false, requiresLogin: true } }],
      [clients.anna!, 'client_rtmp_get', { id: videoItem }, 400, { response: { errors: [{ path: 'id', message: expect.stringContaining('video') }] } }],
      [clients.anna!, 'client_rtmp_get', { id: '00000000-0000-4000-8000-000000000000' }, 404],
      [clients.anna!, 'client_rtmp_get', { id: 'not-a-uuid' }, 400],
      [clients.anna!, 'client_rtmp_get', { id: liveItem, rotate: 'yes' }, 400],
    ];
    for (const [client, topic, data, status, shape] of refusals) {
      const answers = await ask2(client, topic, data);
      expect(answers.receipt, JSON.stringify(data)).toBeUndefined();
      expect(answers.result.data, JSON.stringify(data)).toMatchObject({ status, ...shape });
    }
    expect(logged().length).toBe(before);
  });

  it('rotate: true issues a new key, which revokes the old one', async () => {
    const rotated = responseOf<Data>(await ask2(clients.sam!, 'client_rtmp_get', { id: liveItem, rotate: true }));
    expect(rotated.key_generation).toBe(2);
    currentKey = rotated.stream_key;
    expect(currentKey).not.toBe(firstKey);
    const stale = await ask2(anonymous, 'client_rtmp_activate', { id: liveItem, key: firstKey });
    expect(stale.result.data).toMatchObject({ status: 401, meta: { permitted: false, reason: 'unauthorized' } });
    expect(eventsOf('StreamActivated', liveItem)).toHaveLength(0);
  });

  it('consumer_rtmp_get while nobody is on air: rehearsing; the audience gets no URL, the actor and the crew the preview', async () => {
    const joinOf = async (client: TestClient) => (responseOf<Data>(await ask2(client, 'consumer_rtmp_get', { id: liveItem })) as Data).join;
    expect(await joinOf(clients.arne!)).toEqual({ status: 'rehearsing', stream_url: null });
    expect(await joinOf(anonymous)).toEqual({ status: 'rehearsing', stream_url: null });
    expect(await joinOf(clients.anna!)).toEqual({ status: 'rehearsing', stream_url: hls(PREVIEW, liveItem) });
    expect(await joinOf(clients.carl!)).toEqual({ status: 'rehearsing', stream_url: hls(PREVIEW, liveItem) });
    msgpack.sendMsgpack({ event: 'consumer_rtmp_get', data: { id: liveItem }, id: 7 });
    expect((await msgpack.next((frame) => frame.id === 7, WAIT_MS)).data).toMatchObject({ status: 200, response: { join: { status: 'rehearsing', stream_url: null } } });
    const ack = (await v4.socket.timeout(WAIT_MS).emitWithAck('consumer_rtmp_get', { id: liveItem })) as Data;
    expect(ack).toMatchObject({ status: 200, response: { join: { status: 'rehearsing', stream_url: null } } });
  });

  it('client_rtmp_activate: a wrong key or no credential is refused; the key alone activates, and every joiner hears live with seq', async () => {
    const before = logged().length;
    expect((await ask2(anonymous, 'client_rtmp_activate', { id: liveItem, key: `${currentKey}x` })).result.data).toMatchObject({ status: 401 });
    expect((await ask2(anonymous, 'client_rtmp_activate', { id: liveItem })).result.data).toMatchObject({ status: 401, meta: { requiresLogin: true } });
    expect((await ask2(clients.arne!, 'client_rtmp_activate', { id: liveItem })).result.data).toMatchObject({ status: 403 });
    expect((await ask2(clients.anna!, 'client_rtmp_activate', { id: videoItem, key: currentKey })).result.data).toMatchObject({ status: 400 });
    expect(logged().length).toBe(before);

    // The streaming service's hook: an anonymous socket holding the key.
    const activated = await ask2(anonymous, 'client_rtmp_activate', { id: liveItem, key: currentKey });
    expect(activated.receipt?.data).toMatchObject({ status: 202, topic: 'ex-streamer' });
    const seq = (activated.receipt!.data as Data).messageId as number;
    expect(responseOf<Data>(activated)).toMatchObject({ id: liveItem, status: 'live', activated_at: expect.any(String) });
    const expected = { id: liveItem, status: 'live', stream_url: hls(PLAYBACK, liveItem), seq };
    for (const client of [clients.arne!, anonymous, clients.anna!, clients.carl!]) expect(await nativePush(client, (data) => data.seq === seq)).toEqual(expected);
    expect(await nativePush(msgpack, (data) => data.seq === seq)).toEqual(expected);
    expect(await v4Push((data) => data.seq === seq)).toEqual(expected);
    expect(eventsOf('StreamStatusChanged', liveItem).map((event) => event.data)).toEqual([expect.objectContaining({ status: 'live', previous: 'rehearsing', cause: 'activation' })]);
    expect(eventsOf('StreamActivated', liveItem)[0]!.data).toMatchObject({ via: 'key' });
    // Those who joined another item, or none, hear nothing of it.
    expect(clients.sam!.frames.filter((frame) => frame.event === PUSH)).toEqual([]);
    // The hook firing again changes nothing.
    expect((await ask2(anonymous, 'client_rtmp_activate', { id: liveItem, key: currentKey })).receipt).toBeUndefined();
    expect((responseOf<Data>(await ask2(clients.arne!, 'consumer_rtmp_get', { id: liveItem })) as Data).join).toEqual({ status: 'live', stream_url: hls(PLAYBACK, liveItem) });
  });

  it('client_rtmp_complete before any activation is a conflict', async () => {
    const before = logged().length;
    const refused = await ask2(clients.service!, 'client_rtmp_complete', { id: idleItem });
    expect(refused.result.data).toMatchObject({ status: 409, meta: { permitted: true, message: 'conflict' } });
    expect(logged().length).toBe(before);
  });

  it('client_rtmp_complete over HTTP with the key: complete, and the audience is pointed at the recording', async () => {
    const refused = await fetch(server.url('/v1/commands/client_rtmp_complete'), { method: 'POST', body: JSON.stringify({ id: liveItem, key: firstKey }) });
    expect(refused.status).toBe(401);
    const anonymousCall = await fetch(server.url('/v1/commands/client_rtmp_complete'), { method: 'POST', body: JSON.stringify({ id: liveItem }) });
    expect([anonymousCall.status, anonymousCall.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
    const userCall = await fetch(server.url('/v1/commands/client_rtmp_complete'), { method: 'POST', body: JSON.stringify({ id: liveItem }), headers: { authorization: `Bearer ${tokens.arne}` } });
    expect(userCall.status).toBe(403);
    const bad = await fetch(server.url('/v1/commands/client_rtmp_complete'), { method: 'POST', body: JSON.stringify({ id: liveItem, key: currentKey, recording_url: 'javascript:alert(1)' }) });
    expect(bad.status).toBe(400);
    const recording = 'https://vod.test/keynote/index.m3u8';
    const done = await fetch(server.url('/v1/commands/client_rtmp_complete'), { method: 'POST', body: JSON.stringify({ id: liveItem, key: currentKey, recording_url: recording }) });
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ response: { id: liveItem, status: 'complete', recording_url: recording, completed_at: expect.any(String) } });
    const [changed] = eventsOf('StreamStatusChanged', liveItem).slice(-1);
    expect(changed!.data).toMatchObject({ status: 'complete', previous: 'live', cause: 'completion' });
    const expected = { id: liveItem, status: 'complete', stream_url: recording, seq: changed!.position };
    expect(await nativePush(clients.arne!, (data) => data.status === 'complete')).toEqual(expected);
    expect(await v4Push((data) => data.status === 'complete')).toEqual(expected);
    expect((responseOf<Data>(await ask2(anonymous, 'consumer_rtmp_get', { id: liveItem })) as Data).join).toEqual({ status: 'complete', stream_url: recording });
    // Complete is final.
    expect((await ask2(anonymous, 'client_rtmp_activate', { id: liveItem, key: currentKey })).result.data).toMatchObject({ status: 409 });
  });

  it('the clock: a stream activated in rehearsal goes live when its (moved) window opens, pushed to its joiners', async () => {
    // The organisation's token, without a key, may activate too.
    const activated = await ask2(clients.service!, 'client_rtmp_activate', { id: soonItem });
    expect(responseOf<Data>(activated)).toMatchObject({ status: 'rehearsing' });
    expect(eventsOf('StreamActivated', soonItem)[0]!.data).toMatchObject({ via: 'credential' });
    expect((responseOf<Data>(await ask2(clients.arne!, 'consumer_rtmp_get', { id: soonItem })) as Data).join).toEqual({ status: 'rehearsing', stream_url: null });
    const ack = (await v4.socket.timeout(WAIT_MS).emitWithAck('consumer_rtmp_get', { id: soonItem })) as Data;
    expect(ack.response.join.status).toBe('rehearsing');
    // The organiser moves the item so its live window opens in two seconds: the timer is re-armed
    // from the ItemUpdated in the log. No sleep: the push is what the test waits for, within a hang guard.
    const start = Date.now() + 30 * 60_000 + 2000;
    await command(clients.olga!, 'admin_item_update', { id: soonItem, data: { start_date: iso(start), end_date: iso(start + 3600_000) } }, WAIT_MS);
    const pushed = await nativePush(clients.arne!, (data) => data.id === soonItem);
    expect(pushed).toMatchObject({ id: soonItem, status: 'live', stream_url: hls(PLAYBACK, soonItem) });
    const [changed] = eventsOf('StreamStatusChanged', soonItem);
    expect(changed!.data).toMatchObject({ status: 'live', previous: 'rehearsing', cause: 'schedule' });
    expect(changed!.metadata.actor).toBe('system:streams');
    expect(pushed.seq).toBe(changed!.position);
    expect(await v4Push((data) => data.id === soonItem)).toEqual(pushed);
  });

  it('the log never holds a stream key in clear, and the audit trail names who did what', async () => {
    const text = JSON.stringify(logged());
    const files = [DATABASE_FILE, `${DATABASE_FILE}-wal`].map((name) => join(dir.path, name)).filter(existsSync);
    expect(files.length).toBeGreaterThan(0);
    for (const key of [firstKey, currentKey]) {
      expect(text).not.toContain(key);
      for (const file of files) expect(readFileSync(file).includes(key)).toBe(false);
    }
    const issued = eventsOf('StreamKeyIssued', liveItem);
    expect(issued.map((event) => [event.data, event.metadata.actor])).toEqual([
      [expect.objectContaining({ generation: 1, keyHash: expect.any(String), sealedSecret: expect.stringMatching(/^v1\./) }), `user:${users.anna!.userId}`],
      [expect.objectContaining({ generation: 2 }), `user:${users.sam!.userId}`],
    ]);
  });

  it('replay rebuilds the streams read model equal to the live one', () => {
    const report = replay({ dataDir: dir.path });
    expect(report.tables.filter((table) => table.projection === 'streams').map((table) => [table.table, table.differences])).toEqual([
      ['streams', 0],
      ['zoom_credentials', 0],
    ]);
    expect(report.tables.find((table) => table.table === 'streams')!.liveRows).toBe(3);
    expect(report.equal).toBe(true);
  });
});
