import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/conditions.js';
import { createUsers, startIdentityGateway, type IdentityGateway, type TestUser } from '../helpers/identity.js';
import { connectV2, connectV4, emitWithAckV2, type EventLog, type ReceivedEvent } from '../helpers/socketio.js';

/**
 * Issue 9 over Socket.IO (PROTOCOL.md sections 3, 4 and 8): every live-events topic from
 * socket.io-client 2.x with its token in `x-auth` (as Extream's SDK does) and from 4.x (token
 * in CONNECT `auth`, and one client with `x-auth`), against one gateway: the two answers on
 * the topic name or on `payload.correlationId`, acks, Extream's shapes, public and private
 * events, and soft deletes. Bounds are hang guards for a loaded machine, not timing claims.
 */

const WAIT_MS = 60_000;
const ITEM_TYPES = ['rtmp', 'zoom', 'webrtc', 'video', 'vod', 'forum', 'chat', 'html', 'poll', 'presentation'] as const;
type ItemType = (typeof ITEM_TYPES)[number];
type Data = Record<string, any>;

/** A configuration per type, and what its join answer (`consumer_{type}_get`) must hold. */
const ITEMS: Record<ItemType, { configuration: Data; join: (id: string) => Data; dated: boolean }> = {
  rtmp: { configuration: { mode: 'live', broadcast: 'rtmp://ingest.example/live' }, join: (id) => ({ stream_url: expect.stringContaining(id), status: expect.any(String) }), dated: true },
  zoom: { configuration: { mode: 'group', meeting_number: '123456789', join_url: 'https://zoom.example/j/123456789' }, join: () => ({ meeting_number: '123456789' }), dated: true },
  webrtc: { configuration: { mode: 'group', max_participants: 8 }, join: (id) => ({ room: `item-${id}`, token: expect.any(String), mode: 'group', max_participants: 8 }), dated: true },
  video: { configuration: { url: 'https://cdn.example/keynote.mp4' }, join: () => ({ url: 'https://cdn.example/keynote.mp4' }), dated: false },
  vod: { configuration: { url: 'https://cdn.example/replay.mp4' }, join: () => ({ url: 'https://cdn.example/replay.mp4' }), dated: false },
  forum: { configuration: { moderation: 'trust', threads: true }, join: (id) => ({ room: `chat-${id}`, moderation: 'trust', threads: true }), dated: true },
  chat: { configuration: { moderation: 'post-moderate', private: false }, join: (id) => ({ room: `chat-${id}`, moderation: 'post-moderate', private: false }), dated: true },
  html: { configuration: { html: '<p>Welcome</p><script>alert(1)</script>' }, join: () => ({ html: '<p>Welcome</p>' }), dated: false },
  poll: {
    configuration: { mode: 'quiz', questions: [{ question: '2 + 2?', order: 0, answers: [{ text: '4', order: 0, correct: true }] }] },
    join: () => ({ mode: 'quiz', questions: [{ question: '2 + 2?', order: 0, answers: [{ text: '4', order: 0 }] }] }),
    dated: true,
  },
  presentation: { configuration: { slides: 12 }, join: () => ({ configuration: { slides: 12 } }), dated: false },
};

/** One Socket.IO client of either major version, behind the same few calls. */
interface SioClient {
  log: EventLog;
  peerId: string;
  emit(event: string, data: unknown): void;
  emitWithAck(event: string, data: unknown): Promise<unknown>;
  close(): void;
}

type Flavour = '2.x' | '4.x';

async function open(flavour: Flavour, port: number, token?: string, via: 'auth' | 'x-auth' = 'auth'): Promise<SioClient> {
  if (flavour === '2.x') {
    const client = await connectV2(port, token ? { query: { 'x-auth': token } } : {});
    const welcome = await client.log.next('welcome', WAIT_MS);
    if (token) await client.log.next('authorized', WAIT_MS);
    return {
      log: client.log,
      peerId: (welcome.args[0] as { peer_id: string }).peer_id,
      emit: (event, data) => void client.socket.emit(event, data),
      emitWithAck: (event, data) => emitWithAckV2(client.socket, event, data),
      close: () => void client.socket.close(),
    };
  }
  const options = token ? (via === 'auth' ? { auth: { token } } : { query: { 'x-auth': token } }) : {};
  const client = await connectV4(port, options);
  const welcome = await client.log.next('welcome', WAIT_MS);
  if (token) await client.log.next('authorized', WAIT_MS);
  return {
    log: client.log,
    peerId: (welcome.args[0] as { peer_id: string }).peer_id,
    emit: (event, data) => void client.socket.emit(event, data),
    emitWithAck: (event, data) => client.socket.timeout(WAIT_MS).emitWithAck(event, data),
    close: () => void client.socket.close(),
  };
}

interface Answers {
  receipt: Data | undefined;
  result: Data;
}

const statusOf = (event: ReceivedEvent): unknown => (event.args[0] as Data | undefined)?.status;

/** Emits a command and collects its answers on `on` (the topic name unless a correlation id says otherwise). */
async function send(client: SioClient, event: string, data: Data, on = event): Promise<Answers> {
  client.emit(event, data);
  const result = await client.log.next((received) => received.event === on && statusOf(received) !== 202, WAIT_MS);
  // The receipt goes out before the result: by now it is in the log if there was one.
  const at = client.log.events.findIndex((received) => received.event === on && statusOf(received) === 202);
  const receipt = at === -1 ? undefined : (client.log.events.splice(at, 1)[0]!.args[0] as Data);
  return { receipt, result: result.args[0] as Data };
}

const split = (name: string) => {
  const [domain, action, ...rest] = name.split('_');
  return { domain, action, command: rest.join('_') };
};

describe('live events over Socket.IO 2.x and 4.x', { timeout: 180_000 }, () => {
  let server: IdentityGateway;
  let users: Record<string, TestUser>;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    server = await startIdentityGateway({ badFrameLimit: '10000' });
    const seed = await server.gateway.identity.createOrganisation('Seed Org', 'test');
    users = await createUsers(server, seed, [{ username: 'olga' }, { username: 'arne' }]);
    for (const [name, user] of Object.entries(users)) {
      tokens[name] = (await server.gateway.identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 3600, now: server.clock.now() })).token;
    }
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  /** The receipt's messageId is the log position of the command's last event, and that event is of `type`. */
  function expectReceipt(answers: Answers, type: string): void {
    expect(answers.receipt).toEqual({ status: 202, topic: 'ex-manage', messageId: expect.any(Number) });
    const messageId = answers.receipt!.messageId as number;
    // Committed (at or below the head; a module's reaction to it, such as a stream item's
    // status, may already follow it by the time both answers are read) and of that type.
    expect(messageId).toBeLessThanOrEqual(server.gateway.store.headPosition());
    expect(server.gateway.store.readAll({ after: messageId - 1, limit: 1 })[0]!.type).toBe(type);
  }

  /** The result in Extream's shape: status, the name split, meta. */
  function expectResult(answers: Answers, name: string, status: 200 | 201, requiresLogin: boolean): Data {
    expect(answers.result).toMatchObject({ status, ...split(name), meta: { permitted: true, message: 'success', requiresLogin } });
    return answers.result.response as Data;
  }

  describe.each<Flavour>(['2.x', '4.x'])('socket.io-client %s', (flavour) => {
    let organiser: SioClient;
    let attendee: SioClient;
    let anonymous: SioClient;
    let organisationId: string;
    let publicEventId: string;
    let privateEventId: string;
    let itineraryId: string;
    let privateItineraryId: string;
    const itemIds = {} as Record<ItemType, string>;
    let privateChatId: string;

    beforeAll(async () => {
      organiser = await open(flavour, server.port, tokens.olga, 'auth');
      // 4.x: the attendee's token rides in x-auth, as on 2.x, so both ways are covered.
      attendee = await open(flavour, server.port, tokens.arne, 'x-auth');
      anonymous = await open(flavour, server.port);
    }, 120_000);

    afterAll(async () => {
      const clients = [organiser, attendee, anonymous].filter((client) => client !== undefined);
      for (const client of clients) client.close();
      // The closes are in the log before the next block checks receipts against the log's head.
      const closed = (peerId: string) => server.gateway.store.readStream(`connection-${peerId}`).some((event) => event.type === 'ConnectionClosed');
      await until(() => clients.every((client) => closed(client.peerId)), 'the clients of this block are closed in the log');
    });

    it('admin_organisation_create: receipt 202 ex-manage with the log position, then 201; the creator is in `admins`', async () => {
      const answers = await send(organiser, 'admin_organisation_create', { data: { name: `Fjord Live ${flavour}`, website: 'https://fjord.example' } });
      expectReceipt(answers, 'PermissionsGranted');
      const response = expectResult(answers, 'admin_organisation_create', 201, true);
      expect(response).toMatchObject({ name: `Fjord Live ${flavour}`, website: 'https://fjord.example', id: expect.any(String) });
      organisationId = response.id;
      expect(server.gateway.identity.directory.organisationsOf(users.olga!.userId)).toContain(organisationId);
    });

    it('admin_organisation_read answers without a receipt; admin_organisation_update with one', async () => {
      const read = await send(organiser, 'admin_organisation_read', { id: organisationId });
      expect(read.receipt).toBeUndefined();
      expect(expectResult(read, 'admin_organisation_read', 200, true)).toMatchObject({ id: organisationId, website: 'https://fjord.example' });
      const updated = await send(organiser, 'admin_organisation_update', { id: organisationId, data: { description: 'Northern events' } });
      expectReceipt(updated, 'OrganisationUpdated');
      expect(expectResult(updated, 'admin_organisation_update', 200, true)).toMatchObject({ id: organisationId, description: 'Northern events' });
    });

    it('admin_event_create (public and private), admin_event_read, admin_event_update', async () => {
      const dates = { start_date: '2026-05-04 09:00:00', end_date: '2026-05-06T18:00:00Z' };
      const created = await send(organiser, 'admin_event_create', { data: { organisation: organisationId, name: 'Open Day', public: true, ...dates } });
      expectReceipt(created, 'EventScheduled');
      const publicView = expectResult(created, 'admin_event_create', 201, true);
      expect(publicView).toMatchObject({ organisation: organisationId, name: 'Open Day', slug: 'open-day', public: true, start_date: '2026-05-04T09:00:00.000Z' });
      publicEventId = publicView.id;
      const closed = await send(organiser, 'admin_event_create', { data: { organisation: organisationId, name: 'Board Meeting', ...dates } });
      privateEventId = expectResult(closed, 'admin_event_create', 201, true).id;
      expect(closed.result.response).toMatchObject({ public: false });

      const read = await send(organiser, 'admin_event_read', { id: publicEventId });
      expect(read.receipt).toBeUndefined();
      expect(expectResult(read, 'admin_event_read', 200, true)).toMatchObject({ id: publicEventId, name: 'Open Day' });
      const listed = await send(organiser, 'admin_event_read', { organisation: organisationId });
      expect(listed.result).toMatchObject({ status: 200, meta: { items: 2 } });

      const updated = await send(organiser, 'admin_event_update', { id: publicEventId, data: { description: 'Everyone welcome' } });
      expectReceipt(updated, 'EventUpdated');
      expect(expectResult(updated, 'admin_event_update', 200, true)).toMatchObject({ id: publicEventId, description: 'Everyone welcome' });
    });

    it('admin_itinerary_create, admin_itinerary_read, admin_itinerary_update', async () => {
      const day = { start_date: '2026-05-04T09:00:00Z', end_date: '2026-05-04T18:00:00Z' };
      const created = await send(organiser, 'admin_itinerary_create', { data: { event: publicEventId, name: 'Day One', ...day } });
      expectReceipt(created, 'ItineraryCreated');
      itineraryId = expectResult(created, 'admin_itinerary_create', 201, true).id;
      expect(created.result.response).toMatchObject({ event: publicEventId, name: 'Day One', items: [] });
      const hidden = await send(organiser, 'admin_itinerary_create', { data: { event: privateEventId, name: 'Closed Session', ...day } });
      privateItineraryId = expectResult(hidden, 'admin_itinerary_create', 201, true).id;

      const read = await send(organiser, 'admin_itinerary_read', { event: publicEventId });
      expect(read.receipt).toBeUndefined();
      expect(read.result).toMatchObject({ status: 200, ...split('admin_itinerary_read'), meta: { items: 1 }, response: [{ id: itineraryId }] });
      const updated = await send(organiser, 'admin_itinerary_update', { id: itineraryId, data: { description: 'Talks and workshops' } });
      expectReceipt(updated, 'ItineraryUpdated');
      expect(expectResult(updated, 'admin_itinerary_update', 200, true)).toMatchObject({ id: itineraryId, description: 'Talks and workshops' });
    });

    it('admin_item_create for every item type, admin_item_read, admin_item_update', async () => {
      for (const type of ITEM_TYPES) {
        const { configuration, dated } = ITEMS[type];
        const dates = dated ? { start_date: '2026-05-04 10:00:00', end_date: '2026-05-04 11:00:00' } : {};
        const created = await send(organiser, 'admin_item_create', { data: { itinerary: itineraryId, type, name: `The ${type} item`, configuration, ...dates } });
        expectReceipt(created, 'ItemAdded');
        const item = expectResult(created, 'admin_item_create', 201, true);
        expect(item, type).toMatchObject({ itinerary: itineraryId, event: publicEventId, type, name: `The ${type} item` });
        itemIds[type] = item.id;
      }
      expect((await send(organiser, 'admin_item_read', { id: itemIds.html })).result.response.configuration.html).toBe('<p>Welcome</p>');
      const listed = await send(organiser, 'admin_item_read', { itinerary: itineraryId });
      expect(listed.receipt).toBeUndefined();
      expect(listed.result).toMatchObject({ status: 200, ...split('admin_item_read'), meta: { items: ITEM_TYPES.length } });
      const updated = await send(organiser, 'admin_item_update', { id: itemIds.chat, data: { name: 'Hallway chat' } });
      expectReceipt(updated, 'ItemUpdated');
      expect(expectResult(updated, 'admin_item_update', 200, true)).toMatchObject({ id: itemIds.chat, name: 'Hallway chat', type: 'chat' });
      const hidden = await send(organiser, 'admin_item_create', { data: { itinerary: privateItineraryId, type: 'chat', name: 'Board chat' } });
      privateChatId = expectResult(hidden, 'admin_item_create', 201, true).id;
    });

    it('public event: the anonymous socket gets consumer_event_get, consumer_itinerary_get and every consumer_{type}_get, requiresLogin false', async () => {
      const event = await send(anonymous, 'consumer_event_get', { id: publicEventId });
      expect(event.receipt).toBeUndefined();
      expect(expectResult(event, 'consumer_event_get', 200, false)).toMatchObject({ id: publicEventId, user_type: 'audience' });
      const itineraries = await send(anonymous, 'consumer_itinerary_get', { event: publicEventId });
      expect(itineraries.receipt).toBeUndefined();
      expect(itineraries.result).toMatchObject({ status: 200, ...split('consumer_itinerary_get'), meta: { permitted: true, requiresLogin: false, items: 1 } });
      expect((itineraries.result.response as Data[])[0]!.items).toHaveLength(ITEM_TYPES.length);
      for (const type of ITEM_TYPES) {
        const joined = await send(anonymous, `consumer_${type}_get`, { id: itemIds[type] });
        expect(joined.receipt, type).toBeUndefined();
        const response = expectResult(joined, `consumer_${type}_get`, 200, false);
        expect(response.item, type).toMatchObject({ id: itemIds[type], type });
        expect(response.join, type).toMatchObject(ITEMS[type].join(itemIds[type]));
      }
      // The quiz's key never reaches the audience.
      expect(JSON.stringify((await send(anonymous, 'consumer_poll_get', { id: itemIds.poll })).result.response.join)).not.toContain('correct');
    });

    it('private event: anonymous gets 401 requiresLogin true, a signed-in non-member 403, the organiser 200 requiresLogin true', async () => {
      const refusals: [string, Data][] = [
        ['consumer_event_get', { id: privateEventId }],
        ['consumer_itinerary_get', { event: privateEventId }],
        ['consumer_chat_get', { id: privateChatId }],
      ];
      for (const [name, data] of refusals) {
        const anon = await send(anonymous, name, data);
        expect(anon.receipt).toBeUndefined();
        expect(anon.result, name).toMatchObject({ status: 401, error: expect.any(String), meta: { permitted: false, reason: 'unauthorized', requiresLogin: true } });
        const stranger = await send(attendee, name, data);
        expect(stranger.result, name).toMatchObject({ status: 403, error: expect.any(String), meta: { permitted: false, reason: 'unauthorized' } });
      }
      const member = await send(organiser, 'consumer_event_get', { id: privateEventId });
      expect(expectResult(member, 'consumer_event_get', 200, true)).toMatchObject({ id: privateEventId });
      const chat = await send(organiser, 'consumer_chat_get', { id: privateChatId });
      expect(expectResult(chat, 'consumer_chat_get', 200, true).join).toMatchObject({ room: `chat-${privateChatId}` });
    });

    it('the attendee cannot administer: 403 permitted:false, nothing appended', async () => {
      const before = server.gateway.store.headPosition();
      const refused = await send(attendee, 'admin_event_update', { id: publicEventId, data: { name: 'Hijacked' } });
      expect(refused.receipt).toBeUndefined();
      expect(refused.result).toMatchObject({ status: 403, meta: { permitted: false, reason: 'unauthorized' } });
      expect(server.gateway.store.headPosition()).toBe(before);
    });

    it('with payload.correlationId both answers come on that name, none on the topic name', async () => {
      const correlationId = `corr-${flavour}-${Date.now()}`;
      const answers = await send(organiser, 'admin_item_update', { id: itemIds.video, data: { name: 'Keynote replay' }, payload: { correlationId } }, correlationId);
      expectReceipt(answers, 'ItemUpdated');
      expect(expectResult(answers, 'admin_item_update', 200, true)).toMatchObject({ id: itemIds.video, name: 'Keynote replay' });
      const read = await send(anonymous, 'consumer_video_get', { id: itemIds.video, payload: { correlationId } }, correlationId);
      expect(read.receipt).toBeUndefined();
      expect(expectResult(read, 'consumer_video_get', 200, false).item).toMatchObject({ name: 'Keynote replay' });
      const event = server.gateway.store.readAll({ type: 'ItemUpdated' }).at(-1)!;
      expect(event.metadata).toMatchObject({ correlationId });
      expect(organiser.log.events.filter((received) => received.event === 'admin_item_update')).toEqual([]);
      expect(anonymous.log.events.filter((received) => received.event === 'consumer_video_get')).toEqual([]);
    });

    it('acks: a command acked gets its result as the ack (the receipt comes only as an event, before it); a read gets the result as the ack', async () => {
      const ack = (await organiser.emitWithAck('admin_item_update', { id: itemIds.rtmp, data: { name: 'Main stage' } })) as Data;
      expect(ack).toMatchObject({ status: 200, ...split('admin_item_update'), response: { id: itemIds.rtmp, name: 'Main stage' } });
      // Both answers still come as events: the receipt first, then the result the ack carried.
      const receipt = await organiser.log.next((received) => received.event === 'admin_item_update' && statusOf(received) === 202, WAIT_MS);
      expect(receipt.args[0]).toEqual({ status: 202, topic: 'ex-manage', messageId: server.gateway.store.headPosition() });
      const result = await organiser.log.next((received) => received.event === 'admin_item_update' && statusOf(received) === 200, WAIT_MS);
      expect(result.args[0]).toEqual(ack);

      const readAck = (await anonymous.emitWithAck('consumer_rtmp_get', { id: itemIds.rtmp })) as Data;
      expect(readAck).toMatchObject({ status: 200, ...split('consumer_rtmp_get'), meta: { requiresLogin: false }, response: { item: { name: 'Main stage' } } });
      expect((await anonymous.log.next('consumer_rtmp_get', WAIT_MS)).args[0]).toEqual(readAck);

      const refusalAck = (await anonymous.emitWithAck('consumer_event_get', { id: privateEventId })) as Data;
      expect(refusalAck).toMatchObject({ status: 401, meta: { permitted: false, requiresLogin: true } });
      expect((await anonymous.log.next('consumer_event_get', WAIT_MS)).args[0]).toEqual(refusalAck);
    });

    it('admin_item_delete and admin_itinerary_delete: gone from the reads, kept in the log', async () => {
      const removed = await send(organiser, 'admin_item_delete', { id: itemIds.presentation });
      expectReceipt(removed, 'ItemRemoved');
      expect(expectResult(removed, 'admin_item_delete', 200, true)).toEqual({ id: itemIds.presentation, deleted: true });
      const gone = await send(anonymous, 'consumer_presentation_get', { id: itemIds.presentation });
      expect(gone.result).toMatchObject({ status: 404, meta: { permitted: true, message: 'not_found' }, response: { errors: [{ path: 'id' }] } });

      const dropped = await send(organiser, 'admin_itinerary_delete', { id: privateItineraryId });
      expectReceipt(dropped, 'ItineraryDeleted');
      expect(expectResult(dropped, 'admin_itinerary_delete', 200, true)).toEqual({ id: privateItineraryId, deleted: true });
      expect((await send(organiser, 'admin_itinerary_read', { id: privateItineraryId })).result).toMatchObject({ status: 404 });
      const logged = server.gateway.store.readStream(`itinerary-${privateItineraryId}`).map((event) => event.type);
      expect(logged).toEqual(['ItineraryCreated', 'ItemAdded', 'ItemRemoved', 'ItineraryDeleted']);
    });

    it('admin_event_delete is soft: consumer_event_get answers 404, the log keeps EventScheduled and EventDeleted', async () => {
      const deleted = await send(organiser, 'admin_event_delete', { id: privateEventId });
      expectReceipt(deleted, 'EventDeleted');
      expect(expectResult(deleted, 'admin_event_delete', 200, true)).toEqual({ id: privateEventId, deleted: true });
      const gone = await send(organiser, 'consumer_event_get', { id: privateEventId });
      expect(gone.receipt).toBeUndefined();
      expect(gone.result).toMatchObject({ status: 404, error: expect.any(String), meta: { permitted: true, message: 'not_found' }, response: { errors: expect.any(Array) } });
      const listed = await send(organiser, 'admin_event_read', { organisation: organisationId });
      expect((listed.result.response as Data[]).map((event) => event.id)).toEqual([publicEventId]);
      const ofEvent = (type: string) => server.gateway.store.readAll({ type }).filter((event) => (event.data as Data).eventId === privateEventId);
      expect(ofEvent('EventScheduled')).toHaveLength(1);
      expect(ofEvent('EventDeleted')).toHaveLength(1);
    });

    it('admin_organisation_delete is soft too: reads answer 404, the log keeps it', async () => {
      const deleted = await send(organiser, 'admin_organisation_delete', { id: organisationId });
      expectReceipt(deleted, 'OrganisationDeleted');
      expect(expectResult(deleted, 'admin_organisation_delete', 200, true)).toEqual({ id: organisationId, deleted: true });
      const gone = await send(organiser, 'admin_organisation_read', { id: organisationId });
      expect(gone.result).toMatchObject({ status: 404, meta: { permitted: true, message: 'not_found' }, response: { errors: [{ path: 'id' }] } });
      const logged = server.gateway.store.readAll({ type: 'OrganisationDeleted' }).filter((event) => (event.data as Data).organisationId === organisationId);
      expect(logged).toHaveLength(1);
    });
  });
});
