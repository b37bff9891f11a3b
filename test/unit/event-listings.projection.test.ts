import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError, fixedClock, streamId, type Principal } from '../../src/core/index.js';
import { ClientConnection } from '../../src/edge/connection.js';
import {
  EVENT_LISTING_CATEGORY,
  EventAudiences,
  EventListingDirectory,
  EventListings,
  eventListingAggregate,
  eventListingsModule,
  eventListingsProjection,
  slugOf,
  type EventListingEvent,
  type ScheduleInput,
} from '../../src/modules/event-listings/index.js';
import type { OrganisationAccess } from '../../src/modules/organisations/access.js';
import type { OutboundFrame } from '../../src/protocol/index.js';
import { ActorRuntime, runTopic, type AnyTopic } from '../../src/runtime/index.js';
import { InMemoryEventStore, SqliteEventStore, openScratchDatabase, tableRows, type EventStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The event-listings read model over real stores: the service's checks before the append,
 * the projection's guards inside it (a refused append leaves neither log nor read model
 * changed), the directory's queries, replay equality, and the topics over the module.
 */

const T0 = Date.UTC(2026, 4, 4, 9);
const HOUR = 3_600_000;
const ORG = '0b8a4c52-9f0e-4a8e-8c61-52e3a1d7b9c0';
const OTHER_ORG = '9c1d2e3f-4a5b-4c6d-8e7f-a0b1c2d3e4f5';
const CONTEXT = { actor: 'user:u1', correlationId: 'corr-1' };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const stores: { name: string; open(): EventStore }[] = [
  { name: 'memory', open: () => new InMemoryEventStore({ projections: [eventListingsProjection] }) },
  {
    name: 'sqlite',
    open() {
      const dir = tempDir();
      cleanups.push(() => dir.remove());
      return new SqliteEventStore({ path: join(dir.path, 'log.db'), projections: [eventListingsProjection], walCheckpointIntervalMs: 0 });
    },
  },
];

function harness(store: EventStore = stores[0]!.open()) {
  cleanups.push(() => store.close());
  const runtime = new ActorRuntime(store);
  runtime.register(eventListingAggregate);
  const directory = new EventListingDirectory(store.readModels);
  const audiences = new EventAudiences({ onClosed: () => undefined }, 64);
  const organisations = new Set([ORG, OTHER_ORG]);
  const listings = new EventListings({ runtime, directory, audiences, clock: fixedClock(T0, 1), organisationExists: (id) => organisations.has(id) });
  const schedule = (input: Partial<ScheduleInput> = {}) =>
    listings.schedule({ organisationId: ORG, name: 'Launch day', startDate: T0, endDate: T0 + 8 * HOUR, ...input }, CONTEXT);
  return { store, runtime, directory, audiences, listings, schedule };
}

/** The field paths of a BAD_REQUEST. */
async function refusal(work: Promise<unknown>): Promise<{ code: string; paths: string[]; messages: string[] }> {
  const error = await work.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AppError);
  const { code, details } = error as AppError;
  const errors = (details?.errors ?? []) as { path: string; message: string }[];
  return { code, paths: errors.map((entry) => entry.path), messages: errors.map((entry) => entry.message) };
}

describe('event listings: service and directory', () => {
  it('schedules a listing into the read model and shows it as the wire does', async () => {
    const { schedule, directory, store } = harness();
    const { position, view } = await schedule({ description: 'All day', timezone: 'Europe/Berlin', data: { hall: 2 } });
    expect(position).toBe(store.headPosition());
    expect(view).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      organisation: ORG,
      parent: null,
      name: 'Launch day',
      slug: 'launch-day',
      description: 'All day',
      website: null,
      timezone: 'Europe/Berlin',
      start_date: '2026-05-04T09:00:00.000Z',
      end_date: '2026-05-04T17:00:00.000Z',
      public: false,
      data: { hall: 2 },
      children: [],
    });
    const [recorded] = store.readAll();
    expect(recorded).toMatchObject({ streamId: streamId(EVENT_LISTING_CATEGORY, view.id), type: 'EventScheduled', metadata: CONTEXT });
    expect(directory.get(view.id)).toMatchObject({ eventId: view.id, public: false, deletedAt: null });
  });

  it('nests listings: children, ancestors, un-nesting', async () => {
    const { schedule, listings, directory } = harness();
    const festival = (await schedule({ name: 'Festival' })).view;
    const day = (await schedule({ name: 'Day one', parentId: festival.id })).view;
    const talk = (await schedule({ name: 'Keynote', parentId: day.id, startDate: T0 + HOUR })).view;
    expect(listings.view(festival.id)?.children).toEqual([day.id]);
    expect(directory.ancestors(talk.id)).toEqual([day.id, festival.id]);
    await listings.update(talk.id, { parentId: null }, [], CONTEXT);
    expect(directory.ancestors(talk.id)).toEqual([]);
    expect(directory.children(day.id)).toEqual([]);
  });

  it('lists an organisation, public only for outsiders, never deleted ones; roles default to audience', async () => {
    const { schedule, listings, directory } = harness();
    const later = (await schedule({ name: 'Later', public: true, startDate: T0 + 48 * HOUR, endDate: T0 + 50 * HOUR })).view;
    const first = (await schedule({ name: 'First', public: true })).view;
    const hidden = (await schedule({ name: 'Hidden', startDate: T0 + HOUR })).view;
    await schedule({ name: 'Elsewhere', organisationId: OTHER_ORG, public: true });
    expect(directory.listByOrganisation(ORG).map((listing) => listing.eventId)).toEqual([first.id, hidden.id, later.id]);
    expect(directory.listByOrganisation(ORG, { publicOnly: true }).map((listing) => listing.eventId)).toEqual([first.id, later.id]);
    await listings.update(first.id, {}, [{ userId: 'u7', userType: 'chief' }], CONTEXT);
    expect(directory.userTypeOf(first.id, 'u7')).toBe('chief');
    expect(directory.userTypeOf(first.id, 'u8')).toBe('audience');
    await listings.delete(first.id, CONTEXT);
    expect(directory.get(first.id)).toBeUndefined();
    expect(directory.get(first.id, { includeDeleted: true })?.deletedAt).toBe(T0 + 5);
    expect(directory.listByOrganisation(ORG).map((listing) => listing.eventId)).toEqual([hidden.id, later.id]);
    await expect(listings.update(first.id, { name: 'Back' }, [], CONTEXT)).rejects.toMatchObject({ code: 'NOT_FOUND', message: `event ${first.id} was deleted` });
  });

  it('derives slugs unique per organisation, refuses a taken one, frees a deleted one', async () => {
    const { schedule, listings, directory } = harness();
    const one = (await schedule()).view;
    expect((await schedule()).view.slug).toBe('launch-day-2');
    expect((await schedule()).view.slug).toBe('launch-day-3');
    expect((await schedule({ organisationId: OTHER_ORG })).view.slug).toBe('launch-day');
    expect(await refusal(schedule({ slug: 'launch-day-2' }))).toMatchObject({ code: 'BAD_REQUEST', paths: ['data.slug'] });
    expect(await refusal(listings.update(one.id, { slug: 'launch-day-3' }, [], CONTEXT))).toMatchObject({ paths: ['data.slug'] });
    // Its own slug is no clash.
    await listings.update(one.id, { slug: 'launch-day', name: 'Renamed' }, [], CONTEXT);
    await listings.delete(one.id, CONTEXT);
    expect(directory.slugTaken(ORG, 'launch-day')).toBe(false);
    expect((await schedule({ slug: 'launch-day' })).view.slug).toBe('launch-day');
  });

  it('makes slugs of any name', () => {
    expect(slugOf('  Über Café: 2026!  ')).toBe('uber-cafe-2026');
    expect(slugOf('!!')).toBe('event');
    expect(slugOf('A!')).toBe('event-a');
    const long = slugOf(`${'word '.repeat(60)}end`);
    expect(long.length).toBeLessThanOrEqual(128);
    expect(long).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/);
  });

  it('refuses, naming the field, an unknown organisation and a parent unknown, deleted, elsewhere or below', async () => {
    const { schedule, listings } = harness();
    expect(await refusal(schedule({ organisationId: '11111111-1111-4111-8111-111111111111' }))).toMatchObject({ code: 'BAD_REQUEST', paths: ['data.organisation'] });
    expect(await refusal(schedule({ parentId: '22222222-2222-4222-8222-222222222222' }))).toMatchObject({ paths: ['data.parent'], messages: ['names no event'] });
    const gone = (await schedule({ name: 'Gone' })).view;
    await listings.delete(gone.id, CONTEXT);
    expect(await refusal(schedule({ parentId: gone.id }))).toMatchObject({ paths: ['data.parent'], messages: ['names a deleted event'] });
    const foreign = (await schedule({ organisationId: OTHER_ORG })).view;
    expect(await refusal(schedule({ parentId: foreign.id }))).toMatchObject({ paths: ['data.parent'], messages: ['names an event of another organisation'] });
    const top = (await schedule({ name: 'Top' })).view;
    const below = (await schedule({ name: 'Below', parentId: top.id })).view;
    const cycle = { paths: ['data.parent'], messages: ['would make the event its own ancestor'] };
    expect(await refusal(listings.update(top.id, { parentId: below.id }, [], CONTEXT))).toMatchObject(cycle);
    expect(await refusal(listings.update(top.id, { parentId: top.id }, [], CONTEXT))).toMatchObject(cycle);
    expect(await refusal(listings.update(top.id, { endDate: T0 - 1 }, [], CONTEXT))).toMatchObject({ paths: ['data.end_date'] });
    await expect(listings.delete('33333333-3333-4333-8333-333333333333', CONTEXT)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('lets only one of two racing nestings commit, and two racing creations take two slugs', async () => {
    const { schedule, listings, directory } = harness();
    const a = (await schedule({ name: 'A' })).view;
    const b = (await schedule({ name: 'B' })).view;
    // Both pass the service's check (neither is nested yet); the projection refuses the second.
    const results = await Promise.allSettled([listings.update(a.id, { parentId: b.id }, [], CONTEXT), listings.update(b.id, { parentId: a.id }, [], CONTEXT)]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = results.find((result) => result.status === 'rejected');
    expect((rejected as PromiseRejectedResult).reason).toMatchObject({ code: 'BAD_REQUEST', details: { errors: [{ path: 'data.parent', message: 'would make the event its own ancestor' }] } });
    expect([directory.ancestors(a.id), directory.ancestors(b.id)].map((chain) => chain.length).sort()).toEqual([0, 1]);
    const twins = await Promise.all([schedule({ name: 'Twin' }), schedule({ name: 'Twin' })]);
    expect(twins.map((twin) => twin.view.slug).sort()).toEqual(['twin', 'twin-2']);
  });
});

describe.each(stores)('event listings projection guards ($name store)', ({ open }) => {
  const scheduled = (eventId: string, organisationId: string, parentId: string | null, slug = eventId): EventListingEvent => ({
    type: 'EventScheduled',
    data: {
      eventId,
      organisationId,
      parentId,
      name: eventId,
      slug,
      description: null,
      website: null,
      timezone: null,
      startDate: T0,
      endDate: T0 + HOUR,
      public: true,
      data: null,
      scheduledAt: T0,
    },
  });
  const reparent = (eventId: string, parentId: string): EventListingEvent => ({ type: 'EventUpdated', data: { eventId, organisationId: ORG, changes: { parentId }, updatedAt: T0 + 1 } });
  const stream = (id: string) => streamId(EVENT_LISTING_CATEGORY, id);

  it('rolls back an append that would close a nesting cycle, a foreign parent, or a taken slug', async () => {
    const store = open();
    cleanups.push(() => store.close());
    await store.append(stream('a'), [scheduled('a', ORG, null)], 'no_stream');
    await store.append(stream('b'), [scheduled('b', ORG, 'a')], 'no_stream');
    await store.append(stream('c'), [scheduled('c', ORG, 'b')], 'no_stream');
    await store.append(stream('x'), [scheduled('x', OTHER_ORG, null)], 'no_stream');
    const head = store.headPosition();
    const before = tableRows(store.readModels, 'event_listings');

    const cycle = await refusal(store.append(stream('a'), [reparent('a', 'c')], 1));
    expect(cycle).toEqual({ code: 'BAD_REQUEST', paths: ['data.parent'], messages: ['would make the event its own ancestor'] });
    expect(await refusal(store.append(stream('d'), [scheduled('d', ORG, 'x')], 'no_stream'))).toMatchObject({ paths: ['data.parent'] });
    expect(await refusal(store.append(stream('e'), [scheduled('e', ORG, null, 'a')], 'no_stream'))).toMatchObject({ paths: ['data.slug'] });

    expect(store.headPosition()).toBe(head);
    expect(store.streamVersion(stream('a'))).toBe(1);
    expect(tableRows(store.readModels, 'event_listings')).toEqual(before);
    // The log goes on after a refusal.
    await store.append(stream('c'), [reparent('c', 'a')], 1);
    expect(new EventListingDirectory(store.readModels).ancestors('c')).toEqual(['a']);
  });

  it('rebuilds from the log to the same rows (replay)', async () => {
    const { store, schedule, listings } = harness(open());
    const parent = (await schedule({ name: 'Parent', data: { a: [1, 2] } })).view;
    const child = (await schedule({ name: 'Child', parentId: parent.id, public: true })).view;
    await listings.update(child.id, { website: 'https://example.org', data: null, parentId: null }, [{ userId: 'u1', userType: 'crew' }], CONTEXT);
    await listings.delete(parent.id, CONTEXT);
    const scratch = openScratchDatabase();
    cleanups.push(() => scratch.close());
    eventListingsProjection.setup(scratch);
    for (const event of store.readAll()) eventListingsProjection.apply(scratch, event);
    for (const table of eventListingsProjection.tables) expect(tableRows(scratch, table)).toEqual(tableRows(store.readModels, table));
  });
});

describe('event listing topics', () => {
  const USER = '44444444-4444-4444-8444-444444444444';
  const member = (userId: string): Principal => ({ kind: 'user', userId, organisationId: ORG, groups: [], external: false });
  const grants = new Set([`${USER}:edit_event`, `${USER}:view_event`, `${USER}:delete_event`]);
  const access: OrganisationAccess = {
    require(principal, organisationId, permission) {
      if (principal.kind !== 'user') throw new AppError('UNAUTHORIZED', 'sign in', { reason: 'unauthorized', requiresLogin: true });
      if (organisationId !== ORG || !grants.has(`${principal.userId}:${permission}`)) throw new AppError('FORBIDDEN', 'no', { reason: 'unauthorized' });
    },
    can: () => false,
    isMember: (principal, organisationId) => principal.kind === 'user' && principal.organisationId === organisationId,
    requireLogin: () => undefined,
    participant: () => undefined,
  };

  function gateway() {
    const store = new InMemoryEventStore({ projections: [eventListingsProjection] });
    cleanups.push(() => store.close());
    const runtime = new ActorRuntime(store);
    runtime.register(eventListingAggregate);
    const module = eventListingsModule.create({
      runtime,
      store,
      clock: fixedClock(T0, 1),
      config: { eventSubscriptionsPerConnection: 64 },
      connections: { onClosed: () => undefined },
      access,
      organisationExists: (id) => id === ORG,
    });
    const topics = new Map<string, AnyTopic<ClientConnection>>((module.topics ?? []).map((topic) => [topic.name, topic]));
    let connectionCount = 0;
    const client = (principal: Principal) => {
      const sent: OutboundFrame[] = [];
      const connection = new ClientConnection(
        { id: `c${(connectionCount += 1)}`, codec: 'json', transport: 'native', remoteAddress: '127.0.0.1', userAgent: null, origin: null },
        { send: (message) => (sent.push(JSON.parse(String(message)) as OutboundFrame), 1), end: () => undefined, bufferedAmount: () => 0 },
        { maxBackpressureBytes: 1 << 20, badFrameLimit: 1000, badFrameWindowMs: 1000 },
        () => undefined,
      );
      connection.principal = principal;
      return Object.assign(connection, { sent });
    };
    /** Runs a frame; returns the frames sent, or the error thrown (the dispatcher would map it). */
    const send = async (connection: ReturnType<typeof client>, event: string, data: unknown) => {
      connection.sent.length = 0;
      await runTopic(topics.get(event)!, connection, { event, data, id: 1 }, T0);
      return connection.sent.map((frame) => frame.data as Record<string, unknown>);
    };
    return { module, client, send };
  }
  const creation = (extra: Record<string, unknown> = {}) => ({ data: { organisation: ORG, name: 'Launch day', start_date: '2026-05-04 09:00:00', end_date: '2026-05-04 17:00:00', ...extra } });

  it('creates with a receipt then a 201 result, reads, updates, deletes', async () => {
    const { client, send } = gateway();
    const admin = client(member(USER));
    const [receipt, result] = await send(admin, 'admin_event_create', creation());
    expect(receipt).toMatchObject({ status: 202, topic: 'ex-manage', messageId: 1 });
    expect(result).toMatchObject({ status: 201, domain: 'admin', action: 'event', command: 'create', meta: { requiresLogin: true }, response: { name: 'Launch day', slug: 'launch-day' } });
    const id = (result!.response as { id: string }).id;
    expect((await send(admin, 'admin_event_read', { organisation: ORG }))[0]).toMatchObject({ meta: { items: 1 }, response: [{ id }] });
    const updated = await send(admin, 'admin_event_update', { id, data: { public: true, user_types: [{ user: USER, user_type: 'chief' }] } });
    expect(updated.map((frame) => frame.status)).toEqual([202, 200]);
    expect(updated[1]).toMatchObject({ response: { id, public: true } });
    expect((await send(admin, 'admin_event_delete', { id }))[1]).toMatchObject({ status: 200, response: { id, deleted: true } });
    await expect(send(admin, 'admin_event_read', { id })).rejects.toMatchObject({ code: 'NOT_FOUND', message: `event ${id} was deleted` });
  });

  it('refuses an unknown id as NOT_FOUND before any permission, and a caller without one', async () => {
    const { client, send } = gateway();
    const stranger = client(member('55555555-5555-4555-8555-555555555555'));
    await expect(send(stranger, 'admin_event_update', { id: ORG, data: { name: 'New' } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(send(stranger, 'admin_event_create', creation())).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(send(client({ kind: 'anonymous' }), 'admin_event_create', creation())).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('consumer_event_get: public to anyone, private to members, joins the audience', async () => {
    const { module, client, send } = gateway();
    const admin = client(member(USER));
    const open = ((await send(admin, 'admin_event_create', creation({ public: true, name: 'Open day' })))[1]!.response as { id: string }).id;
    const closed = ((await send(admin, 'admin_event_create', creation({ name: 'Board meeting' })))[1]!.response as { id: string }).id;
    await send(admin, 'admin_event_update', { id: closed, data: { user_types: [{ user: USER, user_type: 'crew' }] } });

    const anonymous = client({ kind: 'anonymous' });
    const [publicView] = await send(anonymous, 'consumer_event_get', { id: open });
    expect(publicView).toMatchObject({ status: 200, meta: { requiresLogin: false }, response: { id: open, user_type: 'audience' } });
    expect(module.api.audiences.members(open).has(anonymous)).toBe(true);
    await expect(send(anonymous, 'consumer_event_get', { id: closed })).rejects.toMatchObject({ code: 'UNAUTHORIZED', details: { requiresLogin: true } });
    const outsider = client({ kind: 'user', userId: 'u9', organisationId: OTHER_ORG, groups: [], external: false });
    await expect(send(outsider, 'consumer_event_get', { id: closed })).rejects.toMatchObject({ code: 'FORBIDDEN', details: { reason: 'unauthorized' } });
    expect(module.api.audiences.members(closed).size).toBe(0);

    const [privateView] = await send(admin, 'consumer_event_get', { id: closed });
    expect(privateView).toMatchObject({ meta: { requiresLogin: true }, response: { id: closed, user_type: 'crew' } });
    expect(module.api.audiences.members(closed).has(admin)).toBe(true);

    expect((await send(anonymous, 'consumer_event_get', { organisation: ORG }))[0]).toMatchObject({ meta: { items: 1 }, response: [{ id: open }] });
    expect((await send(admin, 'consumer_event_get', { organisation: ORG }))[0]).toMatchObject({ meta: { items: 2 } });
    await expect(send(anonymous, 'consumer_event_get', { organisation: OTHER_ORG })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
