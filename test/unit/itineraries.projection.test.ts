import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { fixedClock } from '../../src/core/clock.js';
import { itineraryAggregate } from '../../src/modules/itineraries/domain/index.js';
import { ItineraryDirectory, itinerariesProjection } from '../../src/modules/itineraries/projection.js';
import { Itineraries } from '../../src/modules/itineraries/service.js';
import type { ItineraryEventsPort } from '../../src/modules/itineraries/index.js';
import { ActorRuntime } from '../../src/runtime/index.js';
import { InMemoryEventStore, openScratchDatabase, tableRows } from '../../src/store/index.js';

/**
 * The itineraries read model and its directory, fed by the service's commands through the
 * actor runtime over the in-memory log, and rebuilt from that log into a fresh database.
 */

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 4, 4, 8);
const EVENT = '22222222-2222-4222-8222-222222222222';
const OTHER_EVENT = '44444444-4444-4444-8444-444444444444';
const ORGANISATION = '33333333-3333-4333-8333-333333333333';
const as = { actor: 'user:admin', correlationId: 'c1' };

describe('itineraries projection and directory', () => {
  let store: InMemoryEventStore;
  let directory: ItineraryDirectory;
  let service: Itineraries;
  let listings: Map<string, ReturnType<ItineraryEventsPort['get']>>;

  beforeEach(() => {
    const clock = fixedClock(T0 - 24 * HOUR, 1000);
    store = new InMemoryEventStore({ projections: [itinerariesProjection], clock });
    const runtime = new ActorRuntime(store);
    runtime.register(itineraryAggregate);
    directory = new ItineraryDirectory(store.readModels);
    listings = new Map([
      [EVENT, { organisation_id: ORGANISATION, start_date: T0, end_date: T0 + 48 * HOUR, public: true }],
      [OTHER_EVENT, { organisation_id: ORGANISATION, start_date: null, end_date: null, public: false }],
    ]);
    service = new Itineraries({ runtime, directory, events: { get: (id) => listings.get(id) }, clock, config: { itemHtmlIframeHostnames: [] } });
  });

  afterEach(async () => {
    await store.close();
  });

  const day = (eventId: string, offsetHours: number, name = `Day at ${offsetHours}`) =>
    service.createItinerary({ eventId, name, startDate: T0 + offsetHours * HOUR, endDate: T0 + (offsetHours + 10) * HOUR }, as);

  it('answers a creation with the view read back, in Extream snake_case with ISO dates', async () => {
    const { position, view } = await service.createItinerary({ eventId: EVENT, name: 'Day one', description: 'talks', startDate: T0, endDate: T0 + HOUR, data: { room: 'A' } }, as);
    expect(position).toBe(store.headPosition());
    expect(view).toEqual({
      id: expect.any(String),
      event: EVENT,
      name: 'Day one',
      description: 'talks',
      start_date: new Date(T0).toISOString(),
      end_date: new Date(T0 + HOUR).toISOString(),
      data: { room: 'A' },
      items: [],
    });
    expect(directory.itinerary(view.id)).toMatchObject({ organisationId: ORGANISATION, eventId: EVENT, startDate: T0 });
    expect(store.readAll().at(-1)?.metadata).toMatchObject({ actor: 'user:admin', correlationId: 'c1' });
  });

  it('lists an event’s itineraries by start, and hides deleted ones', async () => {
    const late = (await day(EVENT, 24)).view;
    const early = (await day(EVENT, 0)).view;
    await day(OTHER_EVENT, 0);
    expect(directory.byEvent(EVENT).map((itinerary) => itinerary.itineraryId)).toEqual([early.id, late.id]);
    await service.deleteItinerary(early.id, as);
    expect(directory.byEvent(EVENT).map((itinerary) => itinerary.itineraryId)).toEqual([late.id]);
    expect(directory.itinerary(early.id)).toBeUndefined();
    // Soft: the row stays, with when it went.
    expect(store.readModels.prepare('SELECT deleted_at FROM itineraries WHERE itinerary_id = ?').get(early.id)).toEqual({ deleted_at: expect.any(Number) });
  });

  it('orders items by order, then start; items of the event by itinerary; hides removed ones', async () => {
    const first = (await day(EVENT, 0)).view;
    const second = (await day(EVENT, 24)).view;
    const c = (await service.addItem({ itineraryId: first.id, type: 'video', name: 'Recording', order: 2 }, as)).view;
    const b = (await service.addItem({ itineraryId: first.id, type: 'rtmp', name: 'Late talk', order: 1, startDate: T0 + 2 * HOUR, endDate: T0 + 3 * HOUR }, as)).view;
    const a = (await service.addItem({ itineraryId: first.id, type: 'rtmp', name: 'Early talk', order: 1, startDate: T0 + HOUR, endDate: T0 + 2 * HOUR }, as)).view;
    const d = (await service.addItem({ itineraryId: second.id, type: 'chat', name: 'Lobby' }, as)).view;
    expect(d.order).toBe(0);
    expect(directory.itemsOf(first.id).map((item) => item.itemId)).toEqual([a.id, b.id, c.id]);
    expect(directory.itemsOfEvent(EVENT).map((item) => item.itemId)).toEqual([a.id, b.id, c.id, d.id]);
    await service.removeItem(b.id, as);
    expect(directory.item(b.id)).toBeUndefined();
    expect(directory.itemsOf(first.id).map((item) => item.itemId)).toEqual([a.id, c.id]);
    expect(service.itinerariesOfEvent(EVENT).map((view) => view.items.map((item) => item.id))).toEqual([[a.id, c.id], [d.id]]);
  });

  it('applies updates field by field: an absent field keeps its value, a null date clears it', async () => {
    const itinerary = (await day(EVENT, 0)).view;
    const item = (await service.addItem({ itineraryId: itinerary.id, type: 'html', name: 'Welcome', startDate: T0, endDate: T0 + HOUR, configuration: { html: '<p>hi</p>' } }, as)).view;
    await service.updateItinerary(itinerary.id, { name: 'Renamed', data: { color: 'red' } }, as);
    expect(service.itinerary(itinerary.id)).toMatchObject({ name: 'Renamed', data: { color: 'red' }, start_date: new Date(T0).toISOString() });
    const updated = await service.updateItem(item.id, { startDate: null, endDate: null, configuration: { html: '<b>bold</b><script>x()</script>' } }, as);
    expect(updated.view).toMatchObject({ name: 'Welcome', start_date: null, end_date: null, configuration: { html: '<b>bold</b>' } });
    expect(directory.item(item.id)?.updatedAt).toEqual(expect.any(Number));
  });

  it('refuses, before the append, an unknown event, dates outside the event, an unknown itinerary and a bad configuration', async () => {
    const refusal = async (work: Promise<unknown>) => {
      const error = await work.then(() => undefined, (thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(AppError);
      return { code: (error as AppError).code, paths: ((error as AppError).details?.errors as { path: string }[]).map((problem) => problem.path) };
    };
    const head = store.headPosition();
    expect(await refusal(service.createItinerary({ eventId: '55555555-5555-4555-8555-555555555555', name: 'x', startDate: T0, endDate: T0 }, as))).toEqual({ code: 'NOT_FOUND', paths: ['data.event'] });
    expect(await refusal(service.createItinerary({ eventId: EVENT, name: 'x', startDate: T0 - 1, endDate: T0 + 49 * HOUR }, as))).toEqual({
      code: 'BAD_REQUEST',
      paths: ['data.start_date', 'data.end_date'],
    });
    expect(await refusal(service.addItem({ itineraryId: '55555555-5555-4555-8555-555555555555', type: 'video', name: 'x' }, as))).toEqual({ code: 'NOT_FOUND', paths: ['data.itinerary'] });
    expect(store.headPosition()).toBe(head);
    const itinerary = (await day(EVENT, 0)).view;
    expect(await refusal(service.updateItinerary(itinerary.id, { endDate: T0 + 49 * HOUR }, as))).toEqual({ code: 'BAD_REQUEST', paths: ['data.end_date'] });
    const poll = (await service.addItem({ itineraryId: itinerary.id, type: 'poll', name: 'Vote' }, as)).view;
    // The update names no type: the stored item's is used.
    expect(await refusal(service.updateItem(poll.id, { configuration: { mode: 'lottery' } }, as))).toEqual({ code: 'BAD_REQUEST', paths: ['data.configuration.mode'] });
    expect(await refusal(service.addItem({ itineraryId: itinerary.id, type: 'webrtc', name: 'Call', configuration: { max_participants: 0 } }, as))).toEqual({
      code: 'BAD_REQUEST',
      paths: ['data.configuration.max_participants'],
    });
  });

  it('takes any dates on an event without dates', async () => {
    const { view } = await service.createItinerary({ eventId: OTHER_EVENT, name: 'Any day', startDate: 0, endDate: T0 * 2 }, as);
    expect(view.start_date).toBe(new Date(0).toISOString());
  });

  it('deleting an itinerary removes its items: no orphans, and later commands are NOT_FOUND', async () => {
    const itinerary = (await day(EVENT, 0)).view;
    const item = (await service.addItem({ itineraryId: itinerary.id, type: 'video', name: 'Film' }, as)).view;
    await service.deleteItinerary(itinerary.id, as);
    expect(directory.orphanedItems()).toEqual([]);
    expect(directory.item(item.id)).toBeUndefined();
    await expect(service.addItem({ itineraryId: itinerary.id, type: 'video', name: 'Film 2' }, as)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(service.updateItinerary(itinerary.id, { name: 'Back' }, as)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // An orphan written behind the log's back is what the query is for.
    store.readModels
      .prepare(`INSERT INTO itinerary_items (item_id, itinerary_id, event_id, organisation_id, type, name, item_order, configuration, added_at) VALUES ('x', 'gone', ?, ?, 'video', 'x', 0, '{}', 0)`)
      .run(EVENT, ORGANISATION);
    expect(directory.orphanedItems().map((orphan) => orphan.itemId)).toEqual(['x']);
  });

  it('rebuilds from the log into a fresh database to the same rows', async () => {
    const first = (await day(EVENT, 0)).view;
    const item = (await service.addItem({ itineraryId: first.id, type: 'rtmp', name: 'Talk', startDate: T0, endDate: T0 + HOUR, configuration: { mode: 'live' } }, as)).view;
    await service.updateItem(item.id, { order: 3, name: 'Talk 2' }, as);
    await service.updateItinerary(first.id, { description: 'now described' }, as);
    const second = (await day(EVENT, 24)).view;
    await service.addItem({ itineraryId: second.id, type: 'presentation', name: 'Slides', configuration: { deck: 'x' } }, as);
    await service.deleteItinerary(second.id, as);
    const fresh = openScratchDatabase();
    itinerariesProjection.setup(fresh);
    for (const event of store.readAll()) itinerariesProjection.apply(fresh, event);
    for (const table of itinerariesProjection.tables) expect(tableRows(fresh, table)).toEqual(tableRows(store.readModels, table));
    fresh.close();
  });
});
