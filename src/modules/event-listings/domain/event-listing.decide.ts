import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/errors.js';
import type { EventListingCommand, EventUserTypeAssignment } from './event-listing.commands.js';
import type { EventListingEvent } from './event-listing.events.js';
import type { eventListingMachine } from './event-listing.machine.js';

export type EventListingSnapshot = SnapshotFrom<typeof eventListingMachine>;

/** A field's refusal as Extream's clients read it: BAD_REQUEST naming the wire field. */
export function fieldError(path: string, message: string): AppError {
  return new AppError('BAD_REQUEST', `${path}: ${message}`, { errors: [{ path, message }] });
}

export const eventNotFound = (eventId: string): AppError => new AppError('NOT_FOUND', `event ${eventId} does not exist`);
export const eventWasDeleted = (eventId: string): AppError => new AppError('NOT_FOUND', `event ${eventId} was deleted`);

/** Why a command cannot reach this listing, or undefined when it is scheduled. */
function notLive(snapshot: EventListingSnapshot, eventId: string): AppError | undefined {
  if (snapshot.matches('none')) return eventNotFound(eventId);
  if (snapshot.matches('deleted')) return eventWasDeleted(eventId);
  return undefined;
}

function checkDates(startDate: number, endDate: number): void {
  // Equal dates are a moment (a deadline, a premiere): only an end before the start is wrong.
  if (endDate < startDate) throw fieldError('data.end_date', 'must not be before start_date');
}

/** One event per user, the last assignment winning: a list naming a user twice sets one role. */
function userTypeEvents(eventId: string, userTypes: readonly EventUserTypeAssignment[], now: number): EventListingEvent[] {
  const last = new Map<string, EventUserTypeAssignment>();
  for (const assignment of userTypes) {
    last.delete(assignment.userId);
    last.set(assignment.userId, assignment);
  }
  return [...last.values()].map(({ userId, userType }) => ({ type: 'EventUserTypeSet', data: { eventId, userId, userType, setAt: now } }));
}

/** Checks a command against the listing's state and returns the events it causes. */
export function decideEventListing(command: EventListingCommand, snapshot: EventListingSnapshot): EventListingEvent[] {
  const { context } = snapshot;
  switch (command.type) {
    case 'ScheduleEvent': {
      if (!snapshot.matches('none')) throw new AppError('CONFLICT', `event ${command.eventId} exists already`);
      const { fields } = command;
      checkDates(fields.startDate, fields.endDate);
      if (fields.parentId === command.eventId) throw fieldError('data.parent', 'would make the event its own ancestor');
      return [{ type: 'EventScheduled', data: { eventId: command.eventId, organisationId: command.organisationId, ...fields, scheduledAt: command.now } }];
    }
    case 'UpdateEvent': {
      const refusal = notLive(snapshot, command.eventId);
      if (refusal) throw refusal;
      const { changes } = command;
      checkDates(changes.startDate ?? context.startDate, changes.endDate ?? context.endDate);
      if (changes.parentId === command.eventId) throw fieldError('data.parent', 'would make the event its own ancestor');
      // An update naming only roles records only roles: no empty EventUpdated in the log.
      const named = Object.values(changes).some((value) => value !== undefined);
      const updated: EventListingEvent[] = named
        ? [{ type: 'EventUpdated', data: { eventId: command.eventId, organisationId: context.organisationId!, changes, updatedAt: command.now } }]
        : [];
      return [...updated, ...userTypeEvents(command.eventId, command.userTypes, command.now)];
    }
    case 'SetEventUserTypes': {
      const refusal = notLive(snapshot, command.eventId);
      if (refusal) throw refusal;
      return userTypeEvents(command.eventId, command.userTypes, command.now);
    }
    case 'DeleteEvent': {
      const refusal = notLive(snapshot, command.eventId);
      if (refusal) throw refusal;
      return [{ type: 'EventDeleted', data: { eventId: command.eventId, organisationId: context.organisationId!, deletedAt: command.now } }];
    }
  }
}
