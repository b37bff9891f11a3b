import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { Gateway } from '../../src/app/gateway.js';
import { openOperatorContext } from '../../src/cli/context.js';
import { replay } from '../../src/cli/replay.js';
import { createLogger } from '../../src/edge/logger.js';
import { NoticeBoard, Notices, noticeAggregate } from '../../src/modules/notices/index.js';
import { command, responseOf } from '../helpers/extream.js';
import { ask, createUsers, SteerableClock, type TestUser } from '../helpers/identity.js';
import type { TestGateway } from '../helpers/gateway.js';
import { connectV2, connectV4, type V2Client, type V4Client } from '../helpers/socketio.js';
import { tempDir } from '../helpers/temp-dir.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/**
 * Notices end to end on a running gateway (PROTOCOL.md section 8): an organiser with
 * `send_notice` sends over a socket, over HTTP and from another process on the same log; every
 * client on the event (native JSON, native MessagePack, Socket.IO 2.x with x-auth, 4.x) gets
 * `consumer_notice_receive` with the log position as `seq`; attendees page through the notices
 * with their read state and mark them read, once. Refusals append nothing. A restart on the
 * same data keeps notices and read state; replay rebuilds both read models equal to the live
 * ones. The clock stands still (a SteerableClock) but for a minute between tests, so the send
 * rate limit is counted exactly; sockets have no authentication deadline (anonymous ones stay).
 * Waits are on conditions; bounds are hang guards for a loaded machine.
 */

const WAIT_MS = 60_000;
const PUSH = 'consumer_notice_receive';
type Data = Record<string, any>;

const DATES = { start_date: '2030-05-04T08:00:00Z', end_date: '2030-05-05T18:00:00Z' };

async function startGateway(dataDir: string, clock: SteerableClock): Promise<TestGateway> {
  const env = { SWITCHYARD_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', SWITCHYARD_BAD_FRAME_LIMIT: '10000', SWITCHYARD_AUTH_DEADLINE_SECONDS: '0', SWITCHYARD_NOTICE_SENDS_PER_MINUTE: '3', SWITCHYARD_NOTICE_MAX_BYTES: '64' };
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

describe('notices', { timeout: 240_000 }, () => {
  const clock = new SteerableClock();
  const dir = tempDir('switchyard-notices-');
  let server: TestGateway;
  let users: Record<string, TestUser>;
  const tokens: Record<string, string> = {};
  let olga: TestClient;
  let arne: TestClient;
  let anonymous: TestClient;
  let msgpack: TestClient;
  let v2: V2Client;
  let v4: V4Client;
  let bystander: TestClient;
  let eventId: string;
  let privateEventId: string;
  let otherEventId: string;
  let organisation: string;
  const open: { close(): void }[] = [];

  const signedIn = async (name: string): Promise<TestClient> => {
    const client = await TestClient.connect(server.wsUrl());
    expect(await ask(client, 'authorize', { method: 'oauth2', token: tokens[name] })).toMatchObject({ event: 'authorized' });
    open.push(client);
    return client;
  };
  const noticesSent = () => server.gateway.store.readAll({ type: 'NoticeSent' });
  const noticesRead = () => server.gateway.store.readAll({ type: 'NoticeRead' });
  const idOf = async (client: TestClient, topic: string, data: unknown) => responseOf<{ id: string }>(await command(client, topic, data, WAIT_MS)).id;

  /** Waits until each native, MessagePack, 2.x and 4.x attendee holds the push at `seq`; returns their data in that order. */
  async function everyoneGets(seq: number): Promise<Data[]> {
    const native = async (client: TestClient) => (await client.next((frame: Frame) => frame.event === PUSH && (frame.data as Data).seq === seq, WAIT_MS)).data as Data;
    const sio = async (client: V2Client | V4Client) => (await client.log.next((event) => event.event === PUSH && (event.args[0] as Data).seq === seq, WAIT_MS)).args[0] as Data;
    return Promise.all([native(arne), native(anonymous), native(msgpack), sio(v2), sio(v4)]);
  }

  beforeAll(async () => {
    server = await startGateway(dir.path, clock);
    const seed = await server.gateway.identity.createOrganisation('Seed', 'test');
    users = await createUsers(server, seed, [{ username: 'olga' }, { username: 'arne' }, { username: 'vera' }, { username: 'rita' }]);
    for (const [name, user] of Object.entries(users)) {
      tokens[name] = (await server.gateway.identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 86_400, now: clock.now() })).token;
    }
    olga = await signedIn('olga');
    organisation = await idOf(olga, 'admin_organisation_create', { data: { name: 'Notice Org' } });
    eventId = await idOf(olga, 'admin_event_create', { data: { organisation, name: 'Notice Fest', public: true, ...DATES } });
    privateEventId = await idOf(olga, 'admin_event_create', { data: { organisation, name: 'Staff only', ...DATES } });
    otherEventId = await idOf(olga, 'admin_event_create', { data: { organisation, name: 'Elsewhere', public: true, ...DATES } });
    // Vera is a member who may view events but not send notices; Rita may send them.
    await command(olga, 'admin_group_grant', { organisation, group: 'viewers', permissions: ['view_event'] }, WAIT_MS);
    await command(olga, 'admin_group_grant', { organisation, group: 'announcers', permissions: ['send_notice'] }, WAIT_MS);
    await server.gateway.identity.addToGroup(users.vera!.userId, organisation, 'viewers', 'test');
    await server.gateway.identity.addToGroup(users.rita!.userId, organisation, 'announcers', 'test');

    // The audience: a signed-in native client, an anonymous one, MessagePack, Socket.IO 2.x (x-auth) and 4.x.
    arne = await signedIn('arne');
    anonymous = await TestClient.connect(server.wsUrl());
    msgpack = await TestClient.connect(server.wsUrl(), { protocols: ['switchyard.v1.msgpack'] });
    bystander = await TestClient.connect(server.wsUrl());
    open.push(anonymous, msgpack, bystander);
    expect((await command(arne, 'consumer_notice_get', { event: eventId })).result.data).toMatchObject({ status: 200, response: [] });
    expect((await command(anonymous, 'consumer_event_get', { id: eventId })).result.data).toMatchObject({ status: 200 });
    msgpack.sendMsgpack({ event: 'consumer_notice_get', data: { event: eventId }, id: 1 });
    expect(await msgpack.next((frame) => frame.id === 1, WAIT_MS)).toMatchObject({ data: { status: 200 } });
    expect((await command(bystander, 'consumer_notice_get', { event: otherEventId })).result.data).toMatchObject({ status: 200 });
    v2 = await connectV2(server.port, { query: { 'x-auth': tokens.arne! } });
    await v2.log.next('authorized', WAIT_MS);
    v4 = await connectV4(server.port);
    open.push({ close: () => v2.socket.close() }, { close: () => v4.socket.close() });
    v2.socket.emit('consumer_notice_get', { event: eventId });
    expect((await v2.log.next('consumer_notice_get', WAIT_MS)).args[0]).toMatchObject({ status: 200 });
    expect(await v4.socket.timeout(WAIT_MS).emitWithAck('consumer_itinerary_get', { event: eventId })).toMatchObject({ status: 200 });
  }, 180_000);

  // A minute between tests: each starts with a full send budget (the rate-limit test counts within one).
  beforeEach(() => clock.advance(60_000));

  afterAll(async () => {
    for (const client of open) client.close();
    await server?.close();
    dir.remove();
  });

  let firstId: string;
  let firstSeq: number;

  it('client_notice_send: receipt (ex-notification) after the commit, 201 with the notice, and one push to each client on the event', async () => {
    const message = '<script>alert(1)</script> Doors open';
    const sent = await command(olga, 'client_notice_send', { event: eventId, title: 'Welcome', message, level: 'warning', data: { hall: 'B' } }, WAIT_MS);
    expect(sent.receipt?.data).toMatchObject({ status: 202, topic: 'ex-notification', messageId: expect.any(Number) });
    firstSeq = (sent.receipt!.data as Data).messageId;
    const notice = responseOf<Data>(sent);
    firstId = notice.id;
    const expected = { id: firstId, event: eventId, title: 'Welcome', message, level: 'warning', data: { hall: 'B' }, sent_at: new Date(clock.now()).toISOString(), seq: firstSeq };
    expect(sent.result.data).toMatchObject({ status: 201, domain: 'client', action: 'notice', command: 'send', meta: { permitted: true, requiresLogin: true } });
    expect(notice).toEqual(expected);
    // HTML is text: stored and sent exactly as written, neither stripped nor escaped.
    for (const data of await everyoneGets(firstSeq)) expect(data).toEqual(expected);
    expect(noticesSent().at(-1)).toMatchObject({ position: firstSeq, streamId: `notice-${firstId}`, metadata: { actor: `user:${users.olga!.userId}` } });
  });

  it('a notice sent over HTTP POST /v1/commands/client_notice_send reaches the sockets the same way', async () => {
    const response = await fetch(server.url('/v1/commands/client_notice_send'), {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.rita}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event: eventId, message: 'Over HTTP' }),
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as Data;
    expect(body.response).toMatchObject({ event: eventId, title: null, message: 'Over HTTP', level: 'info', data: null });
    for (const data of await everyoneGets(body.response.seq)) expect(data).toMatchObject({ id: body.response.id, message: 'Over HTTP' });
  });

  it('a notice another process appends to the log reaches the sockets', async () => {
    const operator = openOperatorContext(loadConfig({ flags: { data: dir.path }, env: {} }));
    try {
      operator.runtime.register(noticeAggregate);
      const notices = new Notices({ runtime: operator.runtime, board: new NoticeBoard(operator.store.readModels) });
      const { position } = await notices.send(
        { eventId, organisationId: organisation, title: null, message: 'From the operator', level: 'info', data: null },
        { actor: 'operator' },
        clock.now(),
      );
      for (const data of await everyoneGets(position)) expect(data).toMatchObject({ message: 'From the operator', seq: position });
    } finally {
      await operator.close();
    }
  });

  it('nobody off the event hears of its notices (the bystander gets its own event’s, as the barrier)', async () => {
    const other = await command(olga, 'client_notice_send', { event: otherEventId, message: 'Elsewhere' }, WAIT_MS);
    const seq = (other.receipt!.data as Data).messageId;
    const barrier = await bystander.next((frame) => frame.event === PUSH, WAIT_MS);
    expect(barrier.data).toMatchObject({ event: otherEventId, seq });
    expect(bystander.frames.filter((frame) => frame.event === PUSH)).toEqual([]);
  });

  it('consumer_notice_get: the newest last, paged with before/limit, read false for an anonymous caller', async () => {
    const all = await command(anonymous, 'consumer_notice_get', { event: eventId });
    expect(all.receipt).toBeUndefined();
    const list = responseOf<Data[]>(all);
    expect(list.map((notice) => notice.message)).toEqual(['<script>alert(1)</script> Doors open', 'Over HTTP', 'From the operator']);
    expect(list.every((notice) => notice.read === false)).toBe(true);
    expect(all.result.data).toMatchObject({ meta: { requiresLogin: false, items: 3, page: { limit: 50, before: null, next: null } } });

    const newest = await command(anonymous, 'consumer_notice_get', { event: eventId, limit: 2 });
    expect(responseOf<Data[]>(newest).map((notice) => notice.message)).toEqual(['Over HTTP', 'From the operator']);
    const next = (newest.result.data as Data).meta.page.next;
    expect(next).toBe(list[1]!.seq);
    const older = await command(anonymous, 'consumer_notice_get', { event: eventId, before: next, limit: 2 });
    expect(responseOf<Data[]>(older).map((notice) => notice.id)).toEqual([firstId]);
    expect((older.result.data as Data).meta.page).toEqual({ limit: 2, before: next, next: null });
  });

  it('consumer_notice_read: recorded once per reader (a second read answers 200 without a receipt), shown in the list', async () => {
    const first = await command(arne, 'consumer_notice_read', { id: firstId });
    expect(first.receipt?.data).toMatchObject({ status: 202, topic: 'ex-notification' });
    expect(first.result.data).toMatchObject({ status: 200, meta: { permitted: true, requiresLogin: true }, response: { read: [firstId] } });
    const before = noticesRead().length;
    const again = await command(arne, 'consumer_notice_read', { id: firstId });
    expect(again.receipt).toBeUndefined();
    expect(again.result.data).toMatchObject({ status: 200, response: { read: [firstId] } });
    expect(noticesRead()).toHaveLength(before);

    const list = responseOf<Data[]>(await command(arne, 'consumer_notice_get', { event: eventId }));
    expect(list.map((notice) => notice.read)).toEqual([true, false, false]);
    // Several at once: only the unread ones are recorded.
    const both = await command(arne, 'consumer_notice_read', { ids: list.map((notice) => notice.id) });
    expect(both.receipt).toBeDefined();
    expect(noticesRead()).toHaveLength(before + 2);
    expect(responseOf<Data[]>(await command(arne, 'consumer_notice_get', { event: eventId })).map((notice) => notice.read)).toEqual([true, true, true]);
    // Someone else's read state is their own.
    expect(responseOf<Data[]>(await command(olga, 'consumer_notice_get', { event: eventId })).map((notice) => notice.read)).toEqual([false, false, false]);
  });

  describe('refusals append nothing', () => {
    const expectNothingAppended = async (client: TestClient, topic: string, data: unknown): Promise<Data> => {
      const head = server.gateway.store.readAll().at(-1)!.position;
      const { receipt, result } = await command(client, topic, data, WAIT_MS);
      expect(receipt, topic).toBeUndefined();
      expect(server.gateway.store.readAll().at(-1)!.position, topic).toBe(head);
      return result.data as Data;
    };

    it('a sender without send_notice: 403; anonymous: 401 requiresLogin; unknown event: 404', async () => {
      const vera = await signedIn('vera');
      expect(await expectNothingAppended(vera, 'client_notice_send', { event: eventId, message: 'hi' })).toMatchObject({ status: 403, meta: { permitted: false, reason: 'unauthorized' } });
      expect(await expectNothingAppended(arne, 'client_notice_send', { event: eventId, message: 'hi' })).toMatchObject({ status: 403, meta: { permitted: false } });
      expect(await expectNothingAppended(anonymous, 'client_notice_send', { event: eventId, message: 'hi' })).toMatchObject({
        status: 401,
        meta: { permitted: false, reason: 'unauthorized', requiresLogin: true },
      });
      expect(await expectNothingAppended(olga, 'client_notice_send', { event: '0b7c6f0e-2d7a-4a4f-9a51-9d3f0f5c1a99', message: 'hi' })).toMatchObject({
        status: 404,
        meta: { message: 'not_found' },
        response: { errors: [{ path: 'event' }] },
      });
    });

    it('a message over noticeMaxBytes (64 here, counted in UTF-8 bytes): PAYLOAD_TOO_LARGE; bad fields: 400 naming them', async () => {
      // 22 characters, 66 bytes.
      expect(await expectNothingAppended(olga, 'client_notice_send', { event: eventId, message: '€'.repeat(22) })).toMatchObject({
        status: 413,
        meta: { permitted: true, message: 'payload_too_large' },
        response: { errors: [{ path: 'message' }] },
      });
      // 64 bytes exactly: accepted.
      expect((await command(olga, 'client_notice_send', { event: eventId, message: '€'.repeat(21) + 'x' }, WAIT_MS)).result.data).toMatchObject({ status: 201 });
      expect(await expectNothingAppended(olga, 'client_notice_send', { event: eventId, message: '   ' })).toMatchObject({ status: 400, response: { errors: [{ path: 'message' }] } });
      expect(await expectNothingAppended(olga, 'consumer_notice_get', { event: eventId, limit: 0 })).toMatchObject({ status: 400, response: { errors: [{ path: 'limit' }] } });
    });

    it('reading: anonymous 401 requiresLogin; unknown notice 404; a notice of an event the reader may not see 403', async () => {
      expect(await expectNothingAppended(anonymous, 'consumer_notice_read', { id: firstId })).toMatchObject({ status: 401, meta: { permitted: false, requiresLogin: true } });
      const unknown = '0b7c6f0e-2d7a-4a4f-9a51-9d3f0f5c1a98';
      expect(await expectNothingAppended(arne, 'consumer_notice_read', { ids: [firstId, unknown] })).toMatchObject({ status: 404, response: { errors: [{ path: 'ids.1' }] } });
      const staffOnly = responseOf<Data>(await command(olga, 'client_notice_send', { event: privateEventId, message: 'Staff briefing' }, WAIT_MS));
      expect(await expectNothingAppended(arne, 'consumer_notice_read', { id: staffOnly.id })).toMatchObject({ status: 403, meta: { permitted: false } });
      expect(await expectNothingAppended(arne, 'consumer_notice_get', { event: privateEventId })).toMatchObject({ status: 403 });
      expect(await expectNothingAppended(anonymous, 'consumer_notice_get', { event: privateEventId })).toMatchObject({ status: 401, meta: { requiresLogin: true } });
      // A member reads it.
      const vera = await signedIn('vera');
      expect(responseOf<Data[]>(await command(vera, 'consumer_notice_get', { event: privateEventId }))).toEqual([expect.objectContaining({ id: staffOnly.id, read: false })]);
      expect((await command(vera, 'consumer_notice_read', { id: staffOnly.id })).receipt).toBeDefined();
    });

    it('past noticeSendsPerMinute (3 here) a sender is RATE_LIMITED, others are not, and a minute later it may again', async () => {
      const rita = await signedIn('rita');
      for (let sent = 0; sent < 3; sent += 1) expect((await command(rita, 'client_notice_send', { event: eventId, message: `n${sent}` }, WAIT_MS)).result.data).toMatchObject({ status: 201 });
      expect(await expectNothingAppended(rita, 'client_notice_send', { event: eventId, message: 'one too many' })).toMatchObject({ status: 429, meta: { message: 'rate_limited' } });
      clock.advance(60_000);
      expect((await command(rita, 'client_notice_send', { event: eventId, message: 'a minute later' }, WAIT_MS)).result.data).toMatchObject({ status: 201 });
      expect((await command(olga, 'client_notice_send', { event: eventId, message: 'olga is not rita' }, WAIT_MS)).result.data).toMatchObject({ status: 201 });
    });
  });

  it('replay rebuilds notices and notice_reads equal to the live read models', () => {
    const report = replay({ dataDir: dir.path });
    const ours = report.tables.filter((table) => table.projection === 'notices');
    expect(ours.map((table) => table.table).sort()).toEqual(['notice_reads', 'notices']);
    for (const table of ours) {
      expect(table.differences, table.table).toBe(0);
      expect(table.liveRows, table.table).toBeGreaterThan(0);
    }
  });

  it('a restart on the same data keeps the notices and what each reader read', async () => {
    const before = responseOf<Data[]>(await command(arne, 'consumer_notice_get', { event: eventId }));
    for (const client of open) client.close();
    open.length = 0;
    await server.close();
    server = await startGateway(dir.path, clock);
    arne = await signedIn('arne');
    const after = await command(arne, 'consumer_notice_get', { event: eventId });
    expect(responseOf<Data[]>(after)).toEqual(before);
    expect(before.slice(0, 3).map((notice) => notice.read)).toEqual([true, true, true]);
    // Read before the restart: still read, nothing appended.
    const again = await command(arne, 'consumer_notice_read', { id: firstId });
    expect(again.receipt).toBeUndefined();
    expect(again.result.data).toMatchObject({ status: 200 });
    // And a new notice reaches the new socket.
    const sent = await command(await signedIn('olga'), 'client_notice_send', { event: eventId, message: 'After the restart' }, WAIT_MS);
    const seq = (sent.receipt!.data as Data).messageId;
    expect((await arne.next((frame) => frame.event === PUSH && (frame.data as Data).seq === seq, WAIT_MS)).data).toMatchObject({ message: 'After the restart' });
  });
});
