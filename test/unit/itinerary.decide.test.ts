import { describe, expect, it } from 'vitest';
import {
  itineraryAggregate,
  type ItemAddedData,
  type ItineraryCommand,
  type ItineraryEvent,
} from '../../src/modules/itineraries/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

/**
 * An itinerary and its items (stream `itinerary-<id>`): given its events, when a command,
 * then the events decided or the refusal, with the wire's field paths in `details.errors`.
 */

const spec = deciderSpec(itineraryAggregate);
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 4, 4, 8);
const END = T0 + 10 * HOUR;
const ITINERARY = '11111111-1111-4111-8111-111111111111';
const EVENT = '22222222-2222-4222-8222-222222222222';
const ORGANISATION = '33333333-3333-4333-8333-333333333333';
const ITEM_A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const ITEM_B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';

const created: ItineraryEvent = {
  type: 'ItineraryCreated',
  data: {
    itineraryId: ITINERARY,
    eventId: EVENT,
    organisationId: ORGANISATION,
    name: 'Day one',
    description: null,
    startDate: T0,
    endDate: END,
    data: {},
    createdAt: T0 - HOUR,
  },
};
const create = (startDate = T0, endDate = END): ItineraryCommand => ({
  type: 'CreateItinerary',
  itineraryId: ITINERARY,
  eventId: EVENT,
  organisationId: ORGANISATION,
  name: 'Day one',
  description: null,
  startDate,
  endDate,
  data: {},
  now: T0 - HOUR,
});

const added = (itemId: string, startDate: number | null, endDate: number | null, order = 0): ItineraryEvent => ({
  type: 'ItemAdded',
  data: {
    itineraryId: ITINERARY,
    eventId: EVENT,
    itemId,
    type: 'rtmp',
    name: 'Keynote',
    description: null,
    startDate,
    endDate,
    order,
    configuration: {},
    addedAt: T0 - HOUR,
  } satisfies ItemAddedData,
});
const add = (itemId: string, startDate: number | null, endDate: number | null, order?: number): ItineraryCommand => ({
  type: 'AddItem',
  itemId,
  itemType: 'rtmp',
  name: 'Keynote',
  description: null,
  startDate,
  endDate,
  ...(order === undefined ? {} : { order }),
  configuration: {},
  now: T0 - HOUR,
});
const deleted: ItineraryEvent = { type: 'ItineraryDeleted', data: { itineraryId: ITINERARY, eventId: EVENT, deletedAt: T0 } };

/** The field paths of a refusal. */
const pathsOf = (error: { details: Record<string, unknown> | undefined }) => (error.details?.errors as { path: string }[]).map((problem) => problem.path);

describe('itinerary: creation', () => {
  it('creates once, with its dates', () => {
    const after = spec.given().when(create()).then([created]);
    expect(after.state.value).toBe('active');
    expect(after.state.context).toMatchObject({ itineraryId: ITINERARY, startDate: T0, endDate: END, items: {} });
  });

  it('refuses an end before the start, naming data.end_date', () => {
    const error = spec.given().when(create(END, T0)).thenThrows('BAD_REQUEST', /^data\.end_date: /);
    expect(pathsOf(error)).toEqual(['data.end_date']);
  });

  it('takes an itinerary of no length (start equals end)', () => {
    spec.given().when(create(T0, T0)).then([{ ...created, data: { ...created.data, endDate: T0 } }]);
  });

  it('refuses a second creation on the stream, and one after deletion', () => {
    spec.given([created]).when(create()).thenThrows('CONFLICT');
    spec.given([created, deleted]).when(create()).thenThrows('CONFLICT');
  });
});

describe('itinerary: updates', () => {
  const update = (changes: Extract<ItineraryCommand, { type: 'UpdateItinerary' }>['changes']): ItineraryCommand => ({ type: 'UpdateItinerary', changes, now: T0 });

  it('records only the fields named', () => {
    spec
      .given([created])
      .when(update({ name: 'Day 1', description: undefined }))
      .then([{ type: 'ItineraryUpdated', data: { itineraryId: ITINERARY, eventId: EVENT, changes: { name: 'Day 1' }, updatedAt: T0 } }]);
  });

  it('refuses an update that names no field (data)', () => {
    expect(pathsOf(spec.given([created]).when(update({ name: undefined })).thenThrows('BAD_REQUEST'))).toEqual(['data']);
    const withItem = spec.given([created, added(ITEM_A, null, null)]);
    expect(pathsOf(withItem.when({ type: 'UpdateItem', itemId: ITEM_A, changes: {}, now: T0 }).thenThrows('BAD_REQUEST'))).toEqual(['data']);
  });

  it('moves the dates, and decides later items against the new ones', () => {
    const after = spec.given([created]).when(update({ startDate: T0 + HOUR })).after;
    expect(after.state.context.startDate).toBe(T0 + HOUR);
    after.when(add(ITEM_A, T0, T0 + 2 * HOUR)).thenThrows('BAD_REQUEST', /^data\.start_date: /);
  });

  it('refuses a new end before the start (data.end_date) and a new start after the end (data.start_date)', () => {
    expect(pathsOf(spec.given([created]).when(update({ endDate: T0 - 1 })).thenThrows('BAD_REQUEST'))).toEqual(['data.end_date']);
    expect(pathsOf(spec.given([created]).when(update({ startDate: END + 1 })).thenThrows('BAD_REQUEST'))).toEqual(['data.start_date']);
    expect(pathsOf(spec.given([created]).when(update({ startDate: T0 + 2 * HOUR, endDate: T0 + HOUR })).thenThrows('BAD_REQUEST'))).toEqual(['data.end_date']);
  });

  it('refuses dates that would leave an item outside, naming the item and the date', () => {
    const given = spec.given([created, added(ITEM_A, T0, T0 + HOUR), added(ITEM_B, END - HOUR, END, 1)]);
    const early = given.when(update({ startDate: T0 + 30 * 60_000 })).thenThrows('BAD_REQUEST');
    expect(pathsOf(early)).toEqual(['data.start_date']);
    expect(early.message).toContain(ITEM_A);
    const both = given.when(update({ startDate: T0 + 30 * 60_000, endDate: END - 30 * 60_000 })).thenThrows('BAD_REQUEST');
    expect(pathsOf(both)).toEqual(['data.start_date', 'data.end_date']);
    expect(JSON.stringify(both.details)).toContain(ITEM_B);
  });

  it('lets the dates move around items without a schedule, and around removed items', () => {
    const removed: ItineraryEvent = { type: 'ItemRemoved', data: { itineraryId: ITINERARY, eventId: EVENT, itemId: ITEM_A, removedAt: T0 } };
    spec
      .given([created, added(ITEM_A, T0, T0 + HOUR), removed, added(ITEM_B, null, null)])
      .when(update({ startDate: T0 + 2 * HOUR }))
      .then([{ type: 'ItineraryUpdated', data: { itineraryId: ITINERARY, eventId: EVENT, changes: { startDate: T0 + 2 * HOUR }, updatedAt: T0 } }]);
  });

  it('refuses updates of an unknown or deleted itinerary (NOT_FOUND)', () => {
    spec.given().when(update({ name: 'x' })).thenThrows('NOT_FOUND', 'unknown itinerary');
    spec.given([created, deleted]).when(update({ name: 'x' })).thenThrows('NOT_FOUND', 'this itinerary was deleted');
  });
});

describe('itinerary: deletion', () => {
  it('removes its live items with it, then deletes it (soft: a final state)', () => {
    const removedB: ItineraryEvent = { type: 'ItemRemoved', data: { itineraryId: ITINERARY, eventId: EVENT, itemId: ITEM_B, removedAt: T0 } };
    const after = spec
      .given([created, added(ITEM_A, T0, T0 + HOUR), added(ITEM_B, null, null, 1), { type: 'ItemRemoved', data: { itineraryId: ITINERARY, eventId: EVENT, itemId: ITEM_A, removedAt: T0 } }])
      .when({ type: 'DeleteItinerary', now: T0 })
      .then([removedB, deleted]);
    expect(after.state.status).toBe('done');
    expect(after.state.context.items).toEqual({});
  });

  it('refuses every later command with NOT_FOUND', () => {
    const gone = spec.given([created, deleted]);
    gone.when({ type: 'DeleteItinerary', now: T0 }).thenThrows('NOT_FOUND');
    const error = gone.when(add(ITEM_A, null, null)).thenThrows('NOT_FOUND');
    expect(pathsOf(error)).toEqual(['data.itinerary']);
    gone.when({ type: 'UpdateItem', itemId: ITEM_A, changes: { name: 'x' }, now: T0 }).thenThrows('NOT_FOUND');
    gone.when({ type: 'RemoveItem', itemId: ITEM_A, now: T0 }).thenThrows('NOT_FOUND');
  });
});

describe('itinerary: items', () => {
  it('adds an item within the dates, after the last one unless an order is given', () => {
    const first = spec.given([created]).when(add(ITEM_A, T0, T0 + HOUR)).then([added(ITEM_A, T0, T0 + HOUR, 0)]);
    first.when(add(ITEM_B, null, null)).then([added(ITEM_B, null, null, 1)]);
    first.when(add(ITEM_B, null, null, 7)).then([added(ITEM_B, null, null, 7)]);
  });

  it('takes an item without dates (a video), and one exactly at the itinerary bounds', () => {
    spec.given([created]).when(add(ITEM_A, null, null)).then([added(ITEM_A, null, null)]);
    spec.given([created]).when(add(ITEM_A, T0, END)).then([added(ITEM_A, T0, END)]);
  });

  it('refuses an item with only one of its dates, naming the missing one', () => {
    expect(pathsOf(spec.given([created]).when(add(ITEM_A, T0, null)).thenThrows('BAD_REQUEST'))).toEqual(['data.end_date']);
    expect(pathsOf(spec.given([created]).when(add(ITEM_A, null, END)).thenThrows('BAD_REQUEST'))).toEqual(['data.start_date']);
  });

  it('refuses an item ending before it starts', () => {
    expect(pathsOf(spec.given([created]).when(add(ITEM_A, T0 + HOUR, T0)).thenThrows('BAD_REQUEST'))).toEqual(['data.end_date']);
  });

  it('refuses an item outside its itinerary, naming each date outside', () => {
    expect(pathsOf(spec.given([created]).when(add(ITEM_A, T0 - 1, T0 + HOUR)).thenThrows('BAD_REQUEST', /^data\.start_date: /))).toEqual(['data.start_date']);
    expect(pathsOf(spec.given([created]).when(add(ITEM_A, T0, END + 1)).thenThrows('BAD_REQUEST', /^data\.end_date: /))).toEqual(['data.end_date']);
    expect(pathsOf(spec.given([created]).when(add(ITEM_A, T0 - 1, END + 1)).thenThrows('BAD_REQUEST'))).toEqual(['data.start_date', 'data.end_date']);
  });

  it('refuses an item on an itinerary that does not exist (NOT_FOUND data.itinerary)', () => {
    expect(pathsOf(spec.given().when(add(ITEM_A, null, null)).thenThrows('NOT_FOUND'))).toEqual(['data.itinerary']);
  });

  it('refuses an item id added twice, even once removed (CONFLICT)', () => {
    spec.given([created, added(ITEM_A, null, null)]).when(add(ITEM_A, null, null)).thenThrows('CONFLICT');
    spec
      .given([created, added(ITEM_A, null, null), { type: 'ItemRemoved', data: { itineraryId: ITINERARY, eventId: EVENT, itemId: ITEM_A, removedAt: T0 } }])
      .when(add(ITEM_A, null, null))
      .thenThrows('CONFLICT');
  });

  it('updates an item, checking the merged schedule against the itinerary', () => {
    const given = spec.given([created, added(ITEM_A, T0, T0 + HOUR)]);
    given
      .when({ type: 'UpdateItem', itemId: ITEM_A, changes: { endDate: T0 + 2 * HOUR, name: undefined }, now: T0 })
      .then([{ type: 'ItemUpdated', data: { itineraryId: ITINERARY, eventId: EVENT, itemId: ITEM_A, changes: { endDate: T0 + 2 * HOUR }, updatedAt: T0 } }]);
    expect(pathsOf(given.when({ type: 'UpdateItem', itemId: ITEM_A, changes: { endDate: END + 1 }, now: T0 }).thenThrows('BAD_REQUEST'))).toEqual(['data.end_date']);
    expect(pathsOf(given.when({ type: 'UpdateItem', itemId: ITEM_A, changes: { startDate: T0 + 2 * HOUR }, now: T0 }).thenThrows('BAD_REQUEST'))).toEqual(['data.end_date']);
    // One date cleared, the other kept: an item with one date.
    expect(pathsOf(given.when({ type: 'UpdateItem', itemId: ITEM_A, changes: { startDate: null }, now: T0 }).thenThrows('BAD_REQUEST'))).toEqual(['data.start_date']);
  });

  it('clears a schedule when both dates become null, and the machine follows', () => {
    const after = spec
      .given([created, added(ITEM_A, T0, T0 + HOUR)])
      .when({ type: 'UpdateItem', itemId: ITEM_A, changes: { startDate: null, endDate: null }, now: T0 })
      .then([{ type: 'ItemUpdated', data: { itineraryId: ITINERARY, eventId: EVENT, itemId: ITEM_A, changes: { startDate: null, endDate: null }, updatedAt: T0 } }]);
    expect(after.state.context.items[ITEM_A]).toMatchObject({ startDate: null, endDate: null });
  });

  it('refuses updates and removals of unknown or removed items (NOT_FOUND id)', () => {
    const given = spec.given([created, added(ITEM_A, null, null), { type: 'ItemRemoved', data: { itineraryId: ITINERARY, eventId: EVENT, itemId: ITEM_A, removedAt: T0 } }]);
    expect(pathsOf(given.when({ type: 'UpdateItem', itemId: ITEM_A, changes: { name: 'x' }, now: T0 }).thenThrows('NOT_FOUND', 'this item was removed'))).toEqual(['id']);
    given.when({ type: 'UpdateItem', itemId: ITEM_B, changes: { name: 'x' }, now: T0 }).thenThrows('NOT_FOUND', 'unknown item');
    given.when({ type: 'RemoveItem', itemId: ITEM_A, now: T0 }).thenThrows('NOT_FOUND');
    given.when({ type: 'RemoveItem', itemId: ITEM_B, now: T0 }).thenThrows('NOT_FOUND');
  });

  it('removes an item: it no longer holds the itinerary dates back', () => {
    const after = spec
      .given([created, added(ITEM_A, T0, T0 + HOUR)])
      .when({ type: 'RemoveItem', itemId: ITEM_A, now: T0 })
      .then([{ type: 'ItemRemoved', data: { itineraryId: ITINERARY, eventId: EVENT, itemId: ITEM_A, removedAt: T0 } }]);
    expect(after.state.context.items).toEqual({});
    expect(after.state.context.itemIds).toEqual([ITEM_A]);
  });
});
