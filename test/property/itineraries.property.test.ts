import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/core/clock.js';
import { AppError } from '../../src/core/errors.js';
import { itineraryAggregate, type ItineraryCommand, type itineraryMachine } from '../../src/modules/itineraries/domain/index.js';
import { itineraryProcessors } from '../../src/modules/itineraries/processors.js';
import { ItineraryDirectory, itinerariesProjection } from '../../src/modules/itineraries/projection.js';
import { Itineraries } from '../../src/modules/itineraries/service.js';
import { ActorRuntime } from '../../src/runtime/index.js';
import { InMemoryEventStore, openScratchDatabase, tableRows } from '../../src/store/index.js';

/**
 * Random sequences of itinerary and item commands, on few ids so that conflicts, unknown ids,
 * deleted itineraries and dates that clash all occur, through the actor runtime over the
 * in-memory log with the inline projection and the push processor. After each step the read
 * model holds no orphaned item and no item outside its itinerary; at the end the log replays to
 * the same actors and the same tables.
 */

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 4, 4);
const ITINERARIES = ['i0', 'i1', 'i2'].map((_, index) => `0000000${index}-0000-4000-8000-000000000000`);
/**
 * Item ids per itinerary: the service draws them as random UUIDs, so no two itineraries share
 * one (the read model keys items by id alone); on one stream an id can still come twice.
 */
const itemId = (itinerary: number, item: number) => `${'abcde'[item]!.repeat(8)}-aaaa-4aaa-8aaa-${String(itinerary).padStart(12, '0')}`;
const ITEMS_PER_ITINERARY = 3;
const EVENTS = ['e0000000-0000-4000-8000-000000000000', 'e1000000-0000-4000-8000-000000000000'];

type Step =
  | { kind: 'create'; itinerary: number; event: number; start: number; length: number }
  | { kind: 'update'; itinerary: number; start: number | null; end: number | null; rename: boolean }
  | { kind: 'delete'; itinerary: number }
  | { kind: 'add'; itinerary: number; item: number; start: number | null; length: number; oneDate: boolean; order: number | null }
  | { kind: 'updateItem'; itinerary: number; item: number; start: number | null; length: number; clear: boolean; order: number | null }
  | { kind: 'remove'; itinerary: number; item: number };

const itinerary = fc.integer({ min: 0, max: ITINERARIES.length - 1 });
const itemIndex = fc.integer({ min: 0, max: ITEMS_PER_ITINERARY - 1 });
/** Itineraries mostly span the day's first 8-12 hours and items mostly fit in them: refusals stay the exception. */
const itineraryStart = fc.constantFrom(0, 0, 0, 1, 2);
const itineraryLength = fc.constantFrom(8, 10, 12, 12, -1);
const hour = fc.integer({ min: -1, max: 12 });
const maybeHour = fc.option(hour, { nil: null, freq: 4 });
const length = fc.integer({ min: 0, max: 3 });
const order = fc.option(fc.integer({ min: 0, max: 3 }), { nil: null });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('create' as const), itinerary, event: fc.integer({ min: 0, max: EVENTS.length - 1 }), start: itineraryStart, length: itineraryLength }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('update' as const),
      itinerary,
      start: fc.option(fc.integer({ min: -1, max: 6 }), { nil: null }),
      end: fc.option(fc.integer({ min: 6, max: 14 }), { nil: null }),
      rename: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), itinerary }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('add' as const), itinerary, item: itemIndex, start: maybeHour, length, oneDate: fc.constantFrom(false, false, false, false, true), order }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('updateItem' as const), itinerary, item: itemIndex, start: maybeHour, length, clear: fc.constantFrom(false, false, false, true), order }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), itinerary, item: itemIndex }) },
);

const at = (hours: number) => T0 + hours * HOUR;

function commandOf(action: Step, now: number): ItineraryCommand {
  switch (action.kind) {
    case 'create':
      return {
        type: 'CreateItinerary',
        itineraryId: ITINERARIES[action.itinerary]!,
        eventId: EVENTS[action.event]!,
        organisationId: 'org',
        name: `Itinerary ${action.itinerary}`,
        description: null,
        startDate: at(action.start),
        endDate: at(action.start + action.length),
        data: { step: action.start },
        now,
      };
    case 'update':
      return {
        type: 'UpdateItinerary',
        changes: {
          ...(action.start === null ? {} : { startDate: at(action.start) }),
          ...(action.end === null ? {} : { endDate: at(action.end) }),
          ...(action.rename ? { name: `Renamed at ${now}` } : {}),
        },
        now,
      };
    case 'delete':
      return { type: 'DeleteItinerary', now };
    case 'add': {
      const start = action.start === null ? null : at(action.start);
      const end = start === null ? null : start + action.length * HOUR;
      return {
        type: 'AddItem',
        itemId: itemId(action.itinerary, action.item),
        itemType: 'rtmp',
        name: `Item ${action.item}`,
        description: null,
        startDate: start,
        endDate: action.oneDate ? null : end,
        ...(action.order === null ? {} : { order: action.order }),
        configuration: { mode: 'live' },
        now,
      };
    }
    case 'updateItem': {
      const start = action.clear ? null : action.start === null ? undefined : at(action.start);
      const end = action.clear ? null : start === undefined || start === null ? undefined : start + action.length * HOUR;
      return {
        type: 'UpdateItem',
        itemId: itemId(action.itinerary, action.item),
        changes: {
          ...(start === undefined ? {} : { startDate: start }),
          ...(end === undefined ? {} : { endDate: end }),
          ...(action.order === null ? {} : { order: action.order }),
          name: `Item at ${now}`,
        },
        now,
      };
    }
    case 'remove':
      return { type: 'RemoveItem', itemId: itemId(action.itinerary, action.item), now };
  }
}

async function runScenario(steps: Step[]): Promise<void> {
  const clock = fixedClock(T0 - 24 * HOUR, 1000);
  const store = new InMemoryEventStore({ projections: [itinerariesProjection], clock });
  const runtime = new ActorRuntime(store);
  runtime.register(itineraryAggregate);
  const directory = new ItineraryDirectory(store.readModels);
  const itineraries = new Itineraries({ runtime, directory, events: { get: () => undefined }, clock, config: { itemHtmlIframeHostnames: [] } });
  const pushes: { eventId: string; itinerary: { id: string; deleted?: true; items?: unknown[] } }[][] = [];
  const [processor] = itineraryProcessors({
    itineraries,
    audiences: {
      push: (eventId, frame) => {
        pushes.at(-1)!.push({ eventId, itinerary: (frame.data as { itinerary: { id: string } }).itinerary });
        return 1;
      },
    },
  });
  store.onCommitted((events) => {
    pushes.push([]);
    void processor!.handle(events.filter((event) => processor!.canHandle(event)));
  });

  const violations: string[] = [];
  for (const action of steps) {
    const streamId = `itinerary-${ITINERARIES[action.itinerary]!}`;
    try {
      await runtime.execute(streamId, commandOf(action, clock.now()), { actor: 'property' });
    } catch (error) {
      // Refusals are part of the game; anything else is a bug.
      if (!(error instanceof AppError) || !['BAD_REQUEST', 'NOT_FOUND', 'CONFLICT'].includes(error.code)) throw error;
    }
    if (directory.orphanedItems().length > 0) violations.push(`orphans after ${JSON.stringify(action)}`);
    for (const itineraryId of ITINERARIES) {
      const record = directory.itinerary(itineraryId);
      const items = directory.itemsOf(itineraryId);
      if (!record) {
        if (items.length > 0) violations.push(`items of missing itinerary ${itineraryId}`);
        continue;
      }
      if (record.endDate < record.startDate) violations.push(`itinerary ${itineraryId} ends before it starts`);
      for (const item of items) {
        if ((item.startDate === null) !== (item.endDate === null)) violations.push(`item ${item.itemId} has one date`);
        if (item.startDate !== null && (item.startDate < record.startDate || item.endDate! > record.endDate || item.endDate! < item.startDate)) {
          violations.push(`item ${item.itemId} lies outside itinerary ${itineraryId}`);
        }
      }
      // The read model and the stream's state agree on the live items.
      const context = runtime.read<typeof itineraryMachine>(`itinerary-${itineraryId}`).context;
      expect(Object.keys(context.items).sort()).toEqual(items.map((item) => item.itemId).sort());
    }
  }
  expect(violations).toEqual([]);

  // One push per itinerary touched per committed batch, carrying the read model's view.
  for (const batch of pushes) {
    const ids = batch.map((push) => push.itinerary.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const push of batch) {
      if (push.itinerary.deleted) expect(directory.itinerary(push.itinerary.id)).toBeUndefined();
    }
  }

  // Replay: the actors and the read model rebuilt from the log equal the live ones.
  const rebuilt = new ActorRuntime(store);
  rebuilt.register(itineraryAggregate);
  rebuilt.rebuild();
  for (const itineraryId of ITINERARIES) {
    const stream = `itinerary-${itineraryId}`;
    expect(rebuilt.read<typeof itineraryMachine>(stream).context).toEqual(runtime.read<typeof itineraryMachine>(stream).context);
  }
  const fresh = openScratchDatabase();
  itinerariesProjection.setup(fresh);
  for (const event of store.readAll()) itinerariesProjection.apply(fresh, event);
  for (const table of itinerariesProjection.tables) expect(tableRows(fresh, table)).toEqual(tableRows(store.readModels, table));
  expect(new ItineraryDirectory(fresh).orphanedItems()).toEqual([]);
  fresh.close();
  await store.close();
}

describe('itineraries under random commands (fast-check)', () => {
  it('never orphans an item or leaves one outside its itinerary, and replays to the same state', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 10, maxLength: 60, size: 'max' }), (steps) => runScenario(steps)),
      { numRuns: 150 },
    );
  });
});
