import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { openOperatorContext, type OperatorContext } from '../../src/cli/context.js';
import type { EventAudiences } from '../../src/modules/event-listings/audiences.js';
import { EventListingDirectory } from '../../src/modules/event-listings/projection.js';
import { itineraryAggregate } from '../../src/modules/itineraries/domain/index.js';
import { ItineraryDirectory } from '../../src/modules/itineraries/projection.js';
import { Itineraries } from '../../src/modules/itineraries/service.js';
import { until } from '../helpers/conditions.js';
import { command, responseOf } from '../helpers/extream.js';
import { ask, createUsers, startIdentityGateway, type IdentityGateway, type TestUser } from '../helpers/identity.js';
import { connectV2, connectV4, type EventLog, type V2Client, type V4Client } from '../helpers/socketio.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/**
 * `consumer_itinerary_update` (PROTOCOL.md section 8): whoever is on an event (after
 * `consumer_itinerary_get {event}` or `consumer_event_get {id}`) hears one push per changed
 * itinerary, with the itinerary, its items and the log position as `seq`, over native JSON,
 * native MessagePack, Socket.IO 2.x and 4.x, whether the change came over a socket, over
 * HTTP, or from an operator process appending to the same log. There is no CLI command that
 * edits items, so the operator path opens src/cli/context.ts `openOperatorContext` on the
 * gateway's data dir (a second store and actor runtime on the same SQLite log, as the CLI
 * would) and calls the itineraries service there. Waits are on conditions; bounds are hang guards.
 */

const WAIT_MS = 60_000;
const PUSH = 'consumer_itinerary_update';
type Data = Record<string, any>;

/** Pushes received by one attendee, whatever its transport. */
interface Attendee {
  name: string;
  pushes(): Data[];
  /** Waits for a push whose data matches. */
  waitPush(match: (data: Data) => boolean): Promise<Data>;
  close(): void;
}

function nativeAttendee(name: string, client: TestClient): Attendee {
  // `next` takes a frame off the client's queue: those taken are kept here, so every push stays counted.
  const taken: Data[] = [];
  const pushes = () => [...taken, ...client.frames.filter((frame: Frame) => frame.event === PUSH).map((frame) => frame.data as Data)];
  return {
    name,
    pushes,
    waitPush: async (match) => {
      const have = pushes().find(match);
      if (have) return have;
      const frame = await client.next((candidate) => candidate.event === PUSH && match(candidate.data as Data), WAIT_MS);
      taken.push(frame.data as Data);
      return frame.data as Data;
    },
    close: () => client.close(),
  };
}

function socketIoAttendee(name: string, client: V2Client | V4Client): Attendee {
  const log: EventLog = client.log;
  const pushes = () => log.events.filter((event) => event.event === PUSH).map((event) => event.args[0] as Data);
  return {
    name,
    pushes,
    waitPush: async (match) => {
      await log.until(() => pushes().some(match), `${name} gets a matching ${PUSH}`, WAIT_MS);
      return pushes().find(match)!;
    },
    close: () => void client.socket.close(),
  };
}

describe('consumer_itinerary_update pushes', { timeout: 180_000 }, () => {
  let server: IdentityGateway;
  let users: Record<string, TestUser>;
  let organiserToken: string;
  let organiser: TestClient;
  let eventId: string;
  let otherEventId: string;
  let itineraryId: string;
  let secondItineraryId: string;
  let itemId: string;
  let attendees: Attendee[];
  let bystander: TestClient;
  let v4: V4Client;
  let v4PeerId: string;
  /** Frames the MessagePack socket got as text: none may be, its codec is MessagePack. */
  const msgpackTextFrames: string[] = [];

  const audiences = (): EventAudiences =>
    (server.gateway as unknown as { modules: { eventListings: { api: { audiences: EventAudiences } } } }).modules.eventListings.api.audiences;

  /** Waits until every attendee holds a push for `itinerary` at `seq`, then checks each got exactly one and returns them. */
  async function pushesAt(seq: number, itinerary: string): Promise<Data[]> {
    const received = await Promise.all(attendees.map((attendee) => attendee.waitPush((data) => data.seq === seq && data.itinerary.id === itinerary)));
    for (const attendee of attendees) expect(attendee.pushes().filter((data) => data.seq === seq), attendee.name).toHaveLength(1);
    return received;
  }

  beforeAll(async () => {
    server = await startIdentityGateway({ badFrameLimit: '10000' });
    const seed = await server.gateway.identity.createOrganisation('Seed Org', 'test');
    users = await createUsers(server, seed, [{ username: 'petra' }]);
    organiserToken = (await server.gateway.identity.tokens.issue('access', { subject: users.petra!.userId, ttlSeconds: 3600, now: server.clock.now() })).token;
    organiser = await TestClient.connect(server.wsUrl());
    expect(await ask(organiser, 'authorize', { method: 'oauth2', token: organiserToken })).toMatchObject({ event: 'authorized' });
    const organisation = responseOf<{ id: string }>(await command(organiser, 'admin_organisation_create', { data: { name: 'Pushing Org' } })).id;
    const dates = { start_date: '2026-06-01T08:00:00Z', end_date: '2026-06-02T20:00:00Z' };
    eventId = responseOf<{ id: string }>(await command(organiser, 'admin_event_create', { data: { organisation, name: 'Push Fest', public: true, ...dates } })).id;
    otherEventId = responseOf<{ id: string }>(await command(organiser, 'admin_event_create', { data: { organisation, name: 'Elsewhere', public: true, ...dates } })).id;
    const day = { start_date: '2026-06-01T08:00:00Z', end_date: '2026-06-01T20:00:00Z' };
    itineraryId = responseOf<{ id: string }>(await command(organiser, 'admin_itinerary_create', { data: { event: eventId, name: 'Day 1', ...day } })).id;
    secondItineraryId = responseOf<{ id: string }>(await command(organiser, 'admin_itinerary_create', { data: { event: eventId, name: 'Day 1b', ...day } })).id;

    // The attendees, anonymous (the event is public), each joining the event one of the two ways.
    const json = await TestClient.connect(server.wsUrl());
    const msgpack = await TestClient.connect(server.wsUrl(), { protocols: ['switchyard.v1.msgpack'] });
    msgpack.socket.on('message', (data, isBinary) => {
      if (!isBinary) msgpackTextFrames.push(String(data));
    });
    const v2 = await connectV2(server.port);
    v4 = await connectV4(server.port);
    v4PeerId = ((await v4.log.next('welcome', WAIT_MS)).args[0] as { peer_id: string }).peer_id;
    expect((await command(json, 'consumer_itinerary_get', { event: eventId })).result.data).toMatchObject({ status: 200 });
    msgpack.sendMsgpack({ event: 'consumer_event_get', data: { id: eventId }, id: 1 });
    expect(await msgpack.next((frame) => frame.id === 1, WAIT_MS)).toMatchObject({ event: 'consumer_event_get', data: { status: 200 } });
    v2.socket.emit('consumer_itinerary_get', { event: eventId });
    expect((await v2.log.next('consumer_itinerary_get', WAIT_MS)).args[0]).toMatchObject({ status: 200 });
    expect(await v4.socket.timeout(WAIT_MS).emitWithAck('consumer_event_get', { id: eventId })).toMatchObject({ status: 200 });
    attendees = [nativeAttendee('native json', json), nativeAttendee('native msgpack', msgpack), socketIoAttendee('socket.io 2.x', v2), socketIoAttendee('socket.io 4.x', v4)];

    // Someone on another event only.
    bystander = await TestClient.connect(server.wsUrl());
    expect((await command(bystander, 'consumer_itinerary_get', { event: otherEventId })).result.data).toMatchObject({ status: 200 });
  }, 120_000);

  afterAll(async () => {
    for (const attendee of attendees ?? []) attendee.close();
    bystander?.close();
    organiser?.close();
    await server?.close();
  });

  it('an item added over a socket: one push each, with the itinerary, its items and seq = the receipt messageId', async () => {
    const added = await command(organiser, 'admin_item_create', {
      data: { itinerary: itineraryId, type: 'chat', name: 'Lobby chat', start_date: '2026-06-01 09:00:00', end_date: '2026-06-01 10:00:00' },
    });
    const seq = (added.receipt!.data as { messageId: number }).messageId;
    itemId = responseOf<{ id: string }>(added).id;
    const pushes = await pushesAt(seq, itineraryId);
    for (const data of pushes) {
      expect(data).toMatchObject({ event: eventId, seq, itinerary: { id: itineraryId, event: eventId, name: 'Day 1', items: [{ id: itemId, type: 'chat', name: 'Lobby chat' }] } });
      expect(typeof data.seq).toBe('number');
    }
    // The MessagePack socket got a binary frame decoded to the same push as the JSON one.
    expect(pushes[1]).toEqual(pushes[0]);
    expect(msgpackTextFrames).toEqual([]);
  });

  it('an item updated over a socket, then removed: a push for each change', async () => {
    const updated = await command(organiser, 'admin_item_update', { id: itemId, data: { name: 'Lobby' } });
    const updateSeq = (updated.receipt!.data as { messageId: number }).messageId;
    for (const data of await pushesAt(updateSeq, itineraryId)) expect(data.itinerary.items).toMatchObject([{ id: itemId, name: 'Lobby' }]);

    const temporary = await command(organiser, 'admin_item_create', { data: { itinerary: itineraryId, type: 'video', name: 'Teaser' } });
    const temporaryId = responseOf<{ id: string }>(temporary).id;
    await pushesAt((temporary.receipt!.data as { messageId: number }).messageId, itineraryId);
    const removed = await command(organiser, 'admin_item_delete', { id: temporaryId });
    const removeSeq = (removed.receipt!.data as { messageId: number }).messageId;
    for (const data of await pushesAt(removeSeq, itineraryId)) expect(data.itinerary.items.map((item: Data) => item.id)).toEqual([itemId]);
  });

  it('a change over HTTP POST /v1/commands/admin_item_update with a Bearer token pushes the same way', async () => {
    const response = await fetch(server.url('/v1/commands/admin_item_update'), {
      method: 'POST',
      headers: { authorization: `Bearer ${organiserToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: itemId, data: { name: 'Lobby (HTTP)' } }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 200, domain: 'admin', action: 'item', command: 'update', response: { name: 'Lobby (HTTP)' } });
    const seq = server.gateway.store.readAll({ type: 'ItemUpdated' }).at(-1)!.position;
    for (const data of await pushesAt(seq, itineraryId)) expect(data.itinerary.items).toMatchObject([{ id: itemId, name: 'Lobby (HTTP)' }]);
  });

  it('a change an operator process appends to the log (openOperatorContext on the data dir) reaches the audience', async () => {
    const operator: OperatorContext = openOperatorContext(loadConfig({ flags: { data: server.dataDir }, env: {} }));
    try {
      operator.runtime.register(itineraryAggregate);
      const listings = new EventListingDirectory(operator.store.readModels);
      const itineraries = new Itineraries({
        runtime: operator.runtime,
        directory: new ItineraryDirectory(operator.store.readModels),
        events: {
          get: (id) => {
            const listing = listings.get(id);
            return listing && { organisation_id: listing.organisationId, start_date: listing.startDate, end_date: listing.endDate, public: listing.public };
          },
        },
        clock: operator.clock,
        config: { itemHtmlIframeHostnames: [] },
      });
      const { position } = await itineraries.updateItem(itemId, { name: 'Lobby (operator)' }, { actor: 'operator' });
      expect(position).toBeGreaterThan(0);
      for (const data of await pushesAt(position!, itineraryId)) expect(data.itinerary.items).toMatchObject([{ id: itemId, name: 'Lobby (operator)' }]);
    } finally {
      await operator.close();
    }
    expect(server.gateway.store.readAll({ type: 'ItemUpdated' }).at(-1)!.metadata).toMatchObject({ actor: 'operator' });
  });

  it('one command touching one itinerary (deleting it with its items) is one push, the itinerary marked deleted', async () => {
    for (const name of ['Talk A', 'Talk B']) await command(organiser, 'admin_item_create', { data: { itinerary: secondItineraryId, type: 'html', name, configuration: { html: '<p>x</p>' } } });
    const lastAdd = server.gateway.store.readAll({ type: 'ItemAdded' }).at(-1)!.position;
    await pushesAt(lastAdd, secondItineraryId);
    const deleted = await command(organiser, 'admin_itinerary_delete', { id: secondItineraryId });
    const seq = (deleted.receipt!.data as { messageId: number }).messageId;
    expect(server.gateway.store.readStream(`itinerary-${secondItineraryId}`).slice(-3).map((event) => event.type)).toEqual(['ItemRemoved', 'ItemRemoved', 'ItineraryDeleted']);
    for (const data of await pushesAt(seq, secondItineraryId)) expect(data).toMatchObject({ event: eventId, seq, itinerary: { id: secondItineraryId, deleted: true } });
    for (const attendee of attendees) {
      const afterAdd = attendee.pushes().filter((data) => data.itinerary.id === secondItineraryId && data.seq > lastAdd);
      expect(afterAdd, attendee.name).toHaveLength(1);
    }
  });

  it('a client not on the event receives nothing of it (its own event pushes arrive, as the barrier)', async () => {
    const elsewhere = await command(organiser, 'admin_itinerary_create', {
      data: { event: otherEventId, name: 'Elsewhere day', start_date: '2026-06-01T08:00:00Z', end_date: '2026-06-01T20:00:00Z' },
    });
    const seq = (elsewhere.receipt!.data as { messageId: number }).messageId;
    // Pushes go out in log order: once this one is here, every earlier one would have been too.
    const barrier = await bystander.next((frame) => frame.event === PUSH, WAIT_MS);
    expect(barrier.data).toMatchObject({ event: otherEventId, seq });
    expect(bystander.frames.filter((frame) => frame.event === PUSH)).toEqual([]);
    // And the attendees of the first event did not hear of the other one.
    for (const attendee of attendees) expect(attendee.pushes().filter((data) => data.event === otherEventId), attendee.name).toEqual([]);
  });

  it('a closed client is no longer held by the event audience, and the others still get pushes', async () => {
    const held = () => [...audiences().members(eventId)].map((connection) => connection.id);
    expect(held()).toContain(v4PeerId);
    const before = audiences().size.connections;
    v4.socket.close();
    await until(() => !held().includes(v4PeerId), 'the closed 4.x client leaves the audience');
    expect(audiences().size.connections).toBe(before - 1);
    attendees = attendees.filter((attendee) => attendee.name !== 'socket.io 4.x');
    const updated = await command(organiser, 'admin_item_update', { id: itemId, data: { name: 'Lobby (after close)' } });
    await pushesAt((updated.receipt!.data as { messageId: number }).messageId, itineraryId);
    expect(held()).toHaveLength(3);
  });
});
