import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import type { ItineraryCommand } from './itinerary.commands.js';
import type { ItemChanges, ItineraryChanges, ItineraryEvent } from './itinerary.events.js';
import type { ItineraryContext, itineraryMachine } from './itinerary.machine.js';

export type ItinerarySnapshot = SnapshotFrom<typeof itineraryMachine>;

/** A refused field, with the wire's path (`data.end_date`), as Extream's error answers list them. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** BAD_REQUEST naming every refused field; the message is the first one's. */
export function invalidFields(problems: readonly FieldProblem[]): AppError {
  const first = problems[0]!;
  return new AppError('BAD_REQUEST', `${first.path}: ${first.message}`, { errors: [...problems] });
}

/** NOT_FOUND naming the field that named the missing thing. */
export function notFound(path: string, message: string): AppError {
  return new AppError('NOT_FOUND', message, { errors: [{ path, message }] });
}

const iso = (epochMs: number): string => new Date(epochMs).toISOString();

/** Copies only the fields that are set: the log's JSON drops undefined ones, and changes must read the same before and after. */
function definedOnly<Changes extends object>(changes: Changes): Changes {
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined)) as Changes;
}

/**
 * The problems of an item's schedule in its itinerary: both dates or none, end not before
 * start, and within the itinerary's dates.
 */
function scheduleProblems(startDate: number | null, endDate: number | null, context: ItineraryContext): FieldProblem[] {
  if (startDate === null && endDate === null) return [];
  if (startDate === null) return [{ path: 'data.start_date', message: 'an item with an end_date needs a start_date' }];
  if (endDate === null) return [{ path: 'data.end_date', message: 'an item with a start_date needs an end_date' }];
  if (endDate < startDate) return [{ path: 'data.end_date', message: 'must not be before start_date' }];
  const problems: FieldProblem[] = [];
  if (startDate < context.startDate) problems.push({ path: 'data.start_date', message: `must not be before its itinerary's start (${iso(context.startDate)})` });
  if (endDate > context.endDate) problems.push({ path: 'data.end_date', message: `must not be after its itinerary's end (${iso(context.endDate)})` });
  return problems;
}

/** The live itinerary of the stream, or NOT_FOUND naming the field that led here. */
function requireActive(snapshot: ItinerarySnapshot, path: string): ItineraryContext & { itineraryId: string; eventId: string } {
  const { context } = snapshot;
  if (!snapshot.matches('active') || context.itineraryId === null || context.eventId === null) {
    throw notFound(path, snapshot.matches('deleted') ? 'this itinerary was deleted' : 'unknown itinerary');
  }
  return { ...context, itineraryId: context.itineraryId, eventId: context.eventId };
}

function requireItem(context: ItineraryContext, itemId: string) {
  const item = context.items[itemId];
  if (!item) throw notFound('id', context.itemIds.includes(itemId) ? 'this item was removed' : 'unknown item');
  return item;
}

/** Checks a command against the itinerary's state and returns the events it causes. */
export function decideItinerary(command: ItineraryCommand, snapshot: ItinerarySnapshot): ItineraryEvent[] {
  switch (command.type) {
    case 'CreateItinerary': {
      if (!snapshot.matches('none')) throw new AppError('CONFLICT', 'this itinerary exists already');
      if (command.endDate < command.startDate) throw invalidFields([{ path: 'data.end_date', message: 'must not be before start_date' }]);
      return [
        {
          type: 'ItineraryCreated',
          data: {
            itineraryId: command.itineraryId,
            eventId: command.eventId,
            organisationId: command.organisationId,
            name: command.name,
            description: command.description,
            startDate: command.startDate,
            endDate: command.endDate,
            data: command.data,
            createdAt: command.now,
          },
        },
      ];
    }
    case 'UpdateItinerary': {
      const context = requireActive(snapshot, 'id');
      const changes: ItineraryChanges = definedOnly(command.changes);
      if (Object.keys(changes).length === 0) throw invalidFields([{ path: 'data', message: 'names no field to change' }]);
      const startDate = changes.startDate ?? context.startDate;
      const endDate = changes.endDate ?? context.endDate;
      if (endDate < startDate) {
        // Name the date the client changed: moving only the start past the end is the start's fault.
        const path = changes.endDate !== undefined ? 'data.end_date' : 'data.start_date';
        throw invalidFields([{ path, message: changes.endDate !== undefined ? 'must not be before start_date' : 'must not be after end_date' }]);
      }
      const problems: FieldProblem[] = [];
      for (const [itemId, item] of Object.entries(context.items)) {
        if (item.startDate !== null && item.startDate < startDate) {
          problems.push({ path: 'data.start_date', message: `item ${itemId} starts before it (${iso(item.startDate)}); move or remove the item first` });
        }
        if (item.endDate !== null && item.endDate > endDate) {
          problems.push({ path: 'data.end_date', message: `item ${itemId} ends after it (${iso(item.endDate)}); move or remove the item first` });
        }
      }
      if (problems.length > 0) throw invalidFields(problems);
      return [{ type: 'ItineraryUpdated', data: { itineraryId: context.itineraryId, eventId: context.eventId, changes, updatedAt: command.now } }];
    }
    case 'DeleteItinerary': {
      const context = requireActive(snapshot, 'id');
      const { itineraryId, eventId } = context;
      // Its items go with it, each as its own event: the log says what disappeared, and no
      // read model is left with a live item in a deleted itinerary.
      const removed: ItineraryEvent[] = Object.keys(context.items).map((itemId) => ({
        type: 'ItemRemoved',
        data: { itineraryId, eventId, itemId, removedAt: command.now },
      }));
      return [...removed, { type: 'ItineraryDeleted', data: { itineraryId, eventId, deletedAt: command.now } }];
    }
    case 'AddItem': {
      const context = requireActive(snapshot, 'data.itinerary');
      if (context.itemIds.includes(command.itemId)) throw new AppError('CONFLICT', `item ${command.itemId} was added already`);
      const problems = scheduleProblems(command.startDate, command.endDate, context);
      if (problems.length > 0) throw invalidFields(problems);
      const orders = Object.values(context.items).map((item) => item.order);
      const order = command.order ?? (orders.length === 0 ? 0 : Math.max(...orders) + 1);
      return [
        {
          type: 'ItemAdded',
          data: {
            itineraryId: context.itineraryId,
            eventId: context.eventId,
            itemId: command.itemId,
            type: command.itemType,
            name: command.name,
            description: command.description,
            startDate: command.startDate,
            endDate: command.endDate,
            order,
            configuration: command.configuration,
            addedAt: command.now,
          },
        },
      ];
    }
    case 'UpdateItem': {
      const context = requireActive(snapshot, 'id');
      const item = requireItem(context, command.itemId);
      const changes: ItemChanges = definedOnly(command.changes);
      if (Object.keys(changes).length === 0) throw invalidFields([{ path: 'data', message: 'names no field to change' }]);
      const startDate = changes.startDate === undefined ? item.startDate : changes.startDate;
      const endDate = changes.endDate === undefined ? item.endDate : changes.endDate;
      const problems = scheduleProblems(startDate, endDate, context);
      if (problems.length > 0) throw invalidFields(problems);
      return [{ type: 'ItemUpdated', data: { itineraryId: context.itineraryId, eventId: context.eventId, itemId: command.itemId, changes, updatedAt: command.now } }];
    }
    case 'RemoveItem': {
      const context = requireActive(snapshot, 'id');
      requireItem(context, command.itemId);
      return [{ type: 'ItemRemoved', data: { itineraryId: context.itineraryId, eventId: context.eventId, itemId: command.itemId, removedAt: command.now } }];
    }
  }
}
