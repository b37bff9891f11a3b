import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { Gateway } from '../../src/app/gateway.js';
import { replay } from '../../src/cli/replay.js';
import { createLogger } from '../../src/edge/logger.js';
import { command, responseOf } from '../helpers/extream.js';
import type { TestGateway } from '../helpers/gateway.js';
import { ask, createUsers, SteerableClock, type TestUser } from '../helpers/identity.js';
import { connectV2, connectV4, type EventLog } from '../helpers/socketio.js';
import { tempDir } from '../helpers/temp-dir.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/**
 * Presence on a running gateway (PROTOCOL.md section 8) with real clients: native JSON,
 * Socket.IO 2.x (token in x-auth, as Extream's SDK) and 4.x (token in CONNECT auth). Users on
 * an event see each other come and go (a second tab is no second join; the last one closing is
 * the leave); crew and chief see profiles, everyone else names, and nobody ever an address;
 * hidden users are neither listed nor announced, and hiding and showing are pushed with the
 * change's log position. A restart on the same data keeps who is hidden; replay rebuilds the
 * read model equal to the live one. A push that must NOT arrive is checked behind a barrier: a
 * later push to the same client (pushes arrive in order). Bounds are hang guards.
 */

const WAIT_MS = 60_000;
const JOIN = 'consumer_online_join';
const LEAVE = 'consumer_online_leave';
type Data = Record<string, any>;
const DATES = { start_date: '2030-05-04T08:00:00Z', end_date: '2030-05-05T18:00:00Z' };

async function startGateway(dataDir: string, clock: SteerableClock): Promise<TestGateway> {
  const env = { SWITCHYARD_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', SWITCHYARD_BAD_FRAME_LIMIT: '10000', SWITCHYARD_AUTH_DEADLINE_SECONDS: '0' };
  const config = loadConfig({ flags: { port: '0', data: dataDir }, env });
  const gateway = await Gateway.start({ config, logger: createLogger(config.logLevel), clock });
  const port = gateway.port;
  return {
    gateway,
    port,
    dataDir,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    wsUrl: (path = '/ws') => `ws://127.0.0.1:${port}${path}`,
    close: () => gateway.stop(),
  };
}

/** One client of any transport, as presence tests use it: join the event, ask, and the online pushes it got, in order. */
interface Attendee {
  name: string;
  /** Every consumer_online_join / _leave received, oldest first, as `{event, data}`. */
  pushes(): { event: string; data: Data }[];
  /** Waits for an online push matching; returns its data. */
  waitPush(event: string, match: (data: Data) => boolean): Promise<Data>;
  /** Every frame's data received, for the leak checks. */
  everything(): string;
  ask(topic: string, data: unknown): Promise<Data>;
  close(): void;
}

function nativeAttendee(name: string, client: TestClient): Attendee {
  // Every frame as it arrives, in order (the client's own queue loses the frames `next` takes).
  const seen: Frame[] = [];
  client.socket.on('message', (data) => seen.push(JSON.parse(String(data)) as Frame));
  const pushes = () => seen.filter((frame) => frame.event === JOIN || frame.event === LEAVE).map((frame) => ({ event: frame.event, data: frame.data as Data }));
  return {
    name,
    pushes,
    waitPush: async (event, match) => {
      const found = () => pushes().find((push) => push.event === event && match(push.data));
      const have = found();
      if (have) return have.data;
      await client.next((candidate) => candidate.event === event && match(candidate.data as Data), WAIT_MS);
      return found()!.data;
    },
    everything: () => JSON.stringify(seen),
    ask: async (topic, data) => (await command(client, topic, data, WAIT_MS)).result.data as Data,
    close: () => client.close(),
  };
}

function socketIoAttendee(name: string, socket: { emit(event: string, ...args: unknown[]): unknown; close(): unknown }, log: EventLog): Attendee {
  const pushes = () => log.events.filter((entry) => entry.event === JOIN || entry.event === LEAVE).map((entry) => ({ event: entry.event, data: entry.args[0] as Data }));
  return {
    name,
    pushes,
    waitPush: async (event, match) => {
      await log.until(() => pushes().some((push) => push.event === event && match(push.data)), `${name} gets a matching ${event}`, WAIT_MS);
      return pushes().find((push) => push.event === event && match(push.data))!.data;
    },
    everything: () => JSON.stringify(log.events),
    ask: async (topic, data) => {
      const correlationId = `${topic}-${Math.random().toString(36).slice(2)}`;
      socket.emit(topic, { ...(data as object), payload: { correlationId } });
      const answer = await log.next((entry) => entry.event === correlationId && (entry.args[0] as Data).status !== 202, WAIT_MS);
      return answer.args[0] as Data;
    },
    close: () => void socket.close(),
  };
}

describe('presence', { timeout: 240_000 }, () => {
  const clock = new SteerableClock();
  const dir = tempDir('switchyard-presence-');
  let server: TestGateway;
  let users: Record<string, TestUser>;
  const tokens: Record<string, string> = {};
  let olga: TestClient;
  let eventId: string;
  let privateEventId: string;
  let seedOrganisation: string;
  const everyone: Attendee[] = [];
  let arne: Attendee;
  let cleo: Attendee;

  const native = async (name: string, token?: string): Promise<Attendee> => {
    const client = await TestClient.connect(server.wsUrl());
    if (token) expect(await ask(client, 'authorize', { method: 'oauth2', token })).toMatchObject({ event: 'authorized' });
    const attendee = nativeAttendee(name, client);
    everyone.push(attendee);
    return attendee;
  };
  const v2 = async (name: string): Promise<Attendee> => {
    const client = await connectV2(server.port, { query: { 'x-auth': tokens[name]! } });
    await client.log.next('authorized', WAIT_MS);
    const attendee = socketIoAttendee(`${name} (socket.io 2.x)`, client.socket, client.log);
    everyone.push(attendee);
    return attendee;
  };
  const v4 = async (name: string): Promise<Attendee> => {
    const client = await connectV4(server.port, { auth: { token: tokens[name]! } });
    await client.log.next('authorized', WAIT_MS);
    const attendee = socketIoAttendee(`${name} (socket.io 4.x)`, client.socket, client.log);
    everyone.push(attendee);
    return attendee;
  };
  const onEvent = async (attendee: Attendee, topic = 'consumer_event_get'): Promise<Attendee> => {
    expect(await attendee.ask(topic, topic === 'consumer_event_get' ? { id: eventId } : { event: eventId })).toMatchObject({ status: 200 });
    return attendee;
  };
  /** Signed-in native sockets kept for commands of a user (not on the event). */
  const sockets: { name: string; client: TestClient }[] = [];
  async function nativeSocket(name: string): Promise<{ client: TestClient }> {
    const have = sockets.find((socket) => socket.name === name && !socket.client.closed);
    if (have) return have;
    const client = await TestClient.connect(server.wsUrl());
    expect(await ask(client, 'authorize', { method: 'oauth2', token: tokens[name] })).toMatchObject({ event: 'authorized' });
    const socket = { name, client };
    sockets.push(socket);
    return socket;
  }
  const userId = (name: string) => users[name]!.userId;
  const isUser = (name: string) => (data: Data) => data.event === eventId && data.user.id === userId(name);
  const ids = (list: Data[]) => list.map((entry) => entry.id);

  beforeAll(async () => {
    server = await startGateway(dir.path, clock);
    seedOrganisation = await server.gateway.identity.createOrganisation('Seed', 'test');
    users = await createUsers(server, seedOrganisation, [{ username: 'olga' }, { username: 'arne' }, { username: 'cleo' }, { username: 'bea@example.org' }, { username: 'dan' }, { username: 'eve' }]);
    users.bea = users['bea@example.org']!;
    for (const [name, user] of Object.entries(users)) {
      tokens[name] = (await server.gateway.identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 86_400, now: clock.now() })).token;
    }
    olga = await TestClient.connect(server.wsUrl());
    await ask(olga, 'authorize', { method: 'oauth2', token: tokens.olga });
    const organisation = responseOf<{ id: string }>(await command(olga, 'admin_organisation_create', { data: { name: 'Presence Org' } }, WAIT_MS)).id;
    eventId = responseOf<{ id: string }>(await command(olga, 'admin_event_create', { data: { organisation, name: 'Presence Fest', public: true, ...DATES } }, WAIT_MS)).id;
    privateEventId = responseOf<{ id: string }>(await command(olga, 'admin_event_create', { data: { organisation, name: 'Back office', ...DATES } }, WAIT_MS)).id;
    const roles = [
      { user: userId('cleo'), user_type: 'crew' },
      { user: userId('olga'), user_type: 'chief' },
      { user: userId('dan'), user_type: 'actor' },
    ];
    expect((await command(olga, 'admin_event_update', { id: eventId, data: { user_types: roles } }, WAIT_MS)).result.data).toMatchObject({ status: 200 });
    await server.gateway.identity.addToGroup(userId('cleo'), organisation, 'crew', 'test');
  }, 180_000);

  afterAll(async () => {
    for (const attendee of everyone) attendee.close();
    for (const socket of sockets) socket.client.close();
    olga?.close();
    await server?.close();
    dir.remove();
  });

  it('two users on an event see each other join and, on disconnect, leave; nobody is told of itself', async () => {
    arne = await onEvent(await native('arne', tokens.arne));
    cleo = await onEvent(await v2('cleo'), 'consumer_itinerary_get');
    expect(await arne.waitPush(JOIN, isUser('cleo'))).toEqual({ event: eventId, user: { id: userId('cleo'), name: 'cleo' } });

    // A Socket.IO 4.x user comes, and its disconnect is the leave.
    const dan = await onEvent(await v4('dan'));
    await arne.waitPush(JOIN, isUser('dan'));
    await cleo.waitPush(JOIN, isUser('dan'));
    dan.close();
    await arne.waitPush(LEAVE, isUser('dan'));
    await cleo.waitPush(LEAVE, isUser('dan'));
    expect(arne.pushes().filter((push) => push.data.user.id === userId('arne'))).toEqual([]);
    expect(cleo.pushes().filter((push) => push.data.user.id === userId('cleo'))).toEqual([]);
  });

  it('crew see the whole user but the email; audience, actors and anonymous sockets see names', async () => {
    const watcher = await onEvent(await native('anonymous watcher'));
    const bea = await onEvent(await v4('bea'));
    expect(await arne.waitPush(JOIN, isUser('bea'))).toEqual({ event: eventId, user: { id: userId('bea'), name: 'bea' } });
    expect(await watcher.waitPush(JOIN, isUser('bea'))).toEqual({ event: eventId, user: { id: userId('bea'), name: 'bea' } });
    const profile = await cleo.waitPush(JOIN, isUser('bea'));
    // Her username is an address: the name is its local part, and the profile leaves it out.
    expect(profile.user).toEqual({ id: userId('bea'), name: 'bea', user_type: 'audience', groups: ['members'], organisation: seedOrganisation });
    // Those online: the caller first, then in the order they came; the anonymous watcher is nobody, so not listed.
    const seenByBea = await bea.ask('consumer_online_users', {});
    expect(seenByBea).toMatchObject({ status: 200, meta: { requiresLogin: false, items: 3, total: 3 } });
    expect(seenByBea.response).toEqual([
      { id: userId('bea'), name: 'bea' },
      { id: userId('arne'), name: 'arne' },
      { id: userId('cleo'), name: 'cleo' },
    ]);
  });

  it('consumer_online_users: names for the audience, profiles for crew, filtered by type, the event defaulting to the last one joined', async () => {
    const forArne = await arne.ask('consumer_online_users', {});
    expect(forArne.response).toContainEqual({ id: userId('cleo'), name: 'cleo' });
    for (const entry of forArne.response) expect(Object.keys(entry).sort()).toEqual(['id', 'name']);
    const crewOnly = await arne.ask('consumer_online_users', { event: eventId, type: 'crew' });
    expect(crewOnly.response).toEqual([{ id: userId('cleo'), name: 'cleo' }]);
    const forCleo = await cleo.ask('consumer_online_users', { event: eventId });
    // Her own organisation (the first she joined) and her groups there, as identity holds them.
    expect(forCleo.response[0]).toEqual({ id: userId('cleo'), name: 'cleo', username: 'cleo', user_type: 'crew', groups: ['members'], organisation: seedOrganisation });
    expect(forCleo.response).toContainEqual(expect.objectContaining({ id: userId('arne'), username: 'arne', user_type: 'audience' }));
    expect(JSON.stringify(forCleo)).not.toContain('example.org');
  });

  it('a second tab pushes no second join; closing one of two pushes no leave; the last one closing does', async () => {
    const joinsBefore = arne.pushes().filter((push) => push.event === JOIN && isUser('bea')(push.data)).length;
    const secondTab = await onEvent(await native('bea, second tab', tokens.bea));
    secondTab.close();
    // Barrier: dan comes and goes after both; arne hears of him, and of no new bea.
    const dan = await onEvent(await native('dan again', tokens.dan));
    await arne.waitPush(JOIN, (data) => isUser('dan')(data) && arne.pushes().filter((push) => push.event === JOIN && isUser('dan')(push.data)).length === 2);
    dan.close();
    await arne.waitPush(LEAVE, (data) => isUser('dan')(data) && arne.pushes().filter((push) => push.event === LEAVE && isUser('dan')(push.data)).length === 2);
    const beaPushes = arne.pushes().filter((push) => isUser('bea')(push.data));
    expect(beaPushes.filter((push) => push.event === JOIN)).toHaveLength(joinsBefore);
    expect(beaPushes.filter((push) => push.event === LEAVE)).toHaveLength(0);
    // The first tab (socket.io 4.x) still holds her online.
    expect(ids((await arne.ask('consumer_online_users', { event: eventId })).response)).toContain(userId('bea'));
  });

  it('hiding: durable before the answer, a leave with the change as seq, left out of lists but her own; showing: the join again', async () => {
    const bea = everyone.find((attendee) => attendee.name === 'bea (socket.io 4.x)')!;
    const hidden = await command((await nativeSocket('bea')).client, 'consumer_online_visibility', { visibility: 'hidden' }, WAIT_MS);
    expect(hidden.receipt?.data).toMatchObject({ status: 202, topic: 'ex-collab', messageId: expect.any(Number) });
    expect(hidden.result.data).toMatchObject({ status: 200, meta: { permitted: true, requiresLogin: true }, response: { visibility: 'hidden', visible: false } });
    const seq = (hidden.receipt!.data as Data).messageId;
    expect(server.gateway.store.readAll({ type: 'PresenceVisibilitySet' }).at(-1)).toMatchObject({ position: seq, streamId: `presence-${userId('bea')}`, data: { visible: false } });
    expect(await arne.waitPush(LEAVE, (data) => isUser('bea')(data) && data.seq === seq)).toEqual({ event: eventId, user: { id: userId('bea'), name: 'bea' }, seq });
    expect(await cleo.waitPush(LEAVE, (data) => isUser('bea')(data) && data.seq === seq)).toMatchObject({ user: { id: userId('bea'), user_type: 'audience' }, seq });
    expect(ids((await arne.ask('consumer_online_users', { event: eventId })).response)).not.toContain(userId('bea'));
    expect(ids((await bea.ask('consumer_online_users', { event: eventId })).response)[0]).toBe(userId('bea'));

    // Hiding again changes nothing: no receipt, no push.
    const again = await command((await nativeSocket('bea')).client, 'consumer_online_visibility', { visibility: false }, WAIT_MS);
    expect(again.receipt).toBeUndefined();
    expect(again.result.data).toMatchObject({ status: 200, response: { visibility: 'hidden' } });

    // While hidden, a new tab of hers is not announced (dan as the barrier).
    await onEvent(await native('bea, hidden tab', tokens.bea));
    const dan = await onEvent(await native('dan, barrier', tokens.dan));
    const danJoins = () => arne.pushes().filter((push) => push.event === JOIN && isUser('dan')(push.data)).length;
    await arne.waitPush(JOIN, (data) => isUser('dan')(data) && danJoins() === 3);
    dan.close();
    expect(arne.pushes().filter((push) => isUser('bea')(push.data)).at(-1)).toMatchObject({ event: LEAVE, data: { seq } });

    const shown = await bea.ask('consumer_online_visibility', { visibility: 'visible' });
    expect(shown).toMatchObject({ status: 200, response: { visibility: 'visible', visible: true } });
    const shownAt = server.gateway.store.readAll({ type: 'PresenceVisibilitySet' }).at(-1)!.position;
    expect(await arne.waitPush(JOIN, (data) => isUser('bea')(data) && data.seq === shownAt)).toEqual({ event: eventId, user: { id: userId('bea'), name: 'bea' }, seq: shownAt });
  });

  it('refusals: visibility needs a user (401 requiresLogin) and a known value (400); lists need a known event (404), one the caller may see (401/403)', async () => {
    const anonymous = await native('anonymous asker');
    expect(await anonymous.ask('consumer_online_visibility', { visibility: 'hidden' })).toMatchObject({ status: 401, meta: { permitted: false, requiresLogin: true } });
    expect(await arne.ask('consumer_online_visibility', { visibility: 'invisible' })).toMatchObject({ status: 400, response: { errors: [{ path: 'visibility' }] } });
    expect(await anonymous.ask('consumer_online_users', {})).toMatchObject({ status: 400, response: { errors: [{ path: 'event' }] } });
    expect(await anonymous.ask('consumer_online_users', { event: '0b7c6f0e-2d7a-4a4f-9a51-9d3f0f5c1a99' })).toMatchObject({ status: 404 });
    expect(await anonymous.ask('consumer_online_users', { event: privateEventId })).toMatchObject({ status: 401, meta: { requiresLogin: true } });
    expect(await arne.ask('consumer_online_users', { event: privateEventId })).toMatchObject({ status: 403, meta: { permitted: false } });
    expect(await cleo.ask('consumer_online_users', { event: privateEventId })).toMatchObject({ status: 200, meta: { requiresLogin: true } });
    // Only bea ever changed her visibility: the refused commands appended nothing.
    expect(server.gateway.store.readAll({ type: 'PresenceVisibilitySet' }).map((event) => (event.data as Data).userId)).toEqual([userId('bea'), userId('bea')]);
  });

  it('over HTTP: consumer_online_users answers the list; the visibility command takes a Bearer token', async () => {
    const listed = await fetch(server.url('/v1/commands/consumer_online_users'), {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.cleo}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event: eventId, type: 'audience' }),
    });
    expect(listed.status).toBe(200);
    const body = (await listed.json()) as Data;
    expect(ids(body.response)).toEqual(expect.arrayContaining([userId('arne'), userId('bea')]));
    expect(body.response.every((entry: Data) => entry.user_type === 'audience')).toBe(true);

    const hide = (visibility: unknown) =>
      fetch(server.url('/v1/commands/consumer_online_visibility'), {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.dan}`, 'content-type': 'application/json' },
        body: JSON.stringify({ visibility }),
      });
    const hidden = await hide('hidden');
    expect(hidden.status).toBe(200);
    expect(await hidden.json()).toMatchObject({ status: 200, response: { visibility: 'hidden' } });
    expect(server.gateway.store.readAll({ type: 'PresenceVisibilitySet' }).at(-1)).toMatchObject({ streamId: `presence-${userId('dan')}`, data: { visible: false } });
    expect((await hide(true)).status).toBe(200);
    expect((await fetch(server.url('/v1/commands/consumer_online_visibility'), { method: 'POST', body: '{"visibility":"hidden"}' })).status).toBe(401);
  });

  it('a socket on the event that signs in is announced at once, and its logout is the leave', async () => {
    const late = await native('eve, signing in late');
    await onEvent(late);
    const joinsOfEve = () => arne.pushes().filter((push) => push.event === JOIN && isUser('eve')(push.data)).length;
    const leavesOfEve = () => arne.pushes().filter((push) => push.event === LEAVE && isUser('eve')(push.data)).length;
    const joinsBefore = joinsOfEve();
    const leavesBefore = leavesOfEve();
    expect(await late.ask('authorize', { method: 'oauth2', token: tokens.eve })).toMatchObject({});
    await arne.waitPush(JOIN, (data) => isUser('eve')(data) && joinsOfEve() === joinsBefore + 1);
    await late.ask('logout', {});
    await arne.waitPush(LEAVE, (data) => isUser('eve')(data) && leavesOfEve() === leavesBefore + 1);
    late.close();
  });

  it('no audience member ever got a profile, and nobody an address', () => {
    for (const attendee of everyone) expect(attendee.everything(), attendee.name).not.toContain('example.org');
    for (const attendee of everyone.filter((candidate) => !candidate.name.startsWith('cleo'))) {
      for (const push of attendee.pushes()) expect(Object.keys(push.data.user).sort(), attendee.name).toEqual(['id', 'name']);
    }
    expect(cleo.pushes().length).toBeGreaterThan(0);
    for (const push of cleo.pushes()) expect(push.data.user).toHaveProperty('user_type');
  });

  it('replay rebuilds presence_visibility equal to the live one', () => {
    const report = replay({ dataDir: dir.path });
    const [table] = report.tables.filter((entry) => entry.projection === 'presence');
    expect(table).toMatchObject({ table: 'presence_visibility', differences: 0, liveRows: 2 });
  });

  it('a restart on the same data keeps who is hidden', async () => {
    // A Socket.IO 2.x disconnect is a leave too.
    cleo.close();
    await arne.waitPush(LEAVE, isUser('cleo'));
    const hid = await command((await nativeSocket('bea')).client, 'consumer_online_visibility', { visibility: 'hidden' }, WAIT_MS);
    expect(hid.receipt).toBeDefined();
    for (const attendee of everyone.splice(0)) attendee.close();
    for (const socket of sockets.splice(0)) socket.client.close();
    await server.close();
    server = await startGateway(dir.path, clock);

    arne = await onEvent(await native('arne after restart', tokens.arne));
    const bea = await onEvent(await v4('bea'));
    const dan = await onEvent(await native('dan after restart', tokens.dan));
    await arne.waitPush(JOIN, isUser('dan'));
    expect(arne.pushes().filter((push) => isUser('bea')(push.data))).toEqual([]);
    expect(ids((await arne.ask('consumer_online_users', {})).response)).toEqual([userId('arne'), userId('dan')]);
    expect(ids((await bea.ask('consumer_online_users', {})).response)).toEqual([userId('bea'), userId('arne'), userId('dan')]);
    dan.close();
  });
});
