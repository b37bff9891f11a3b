import type { EventListingChanges, EventListingFields, UserType } from './event-listing.events.js';

/**
 * Commands on one listing's stream. Each names the listing (for its refusals) and carries
 * `now`; the id of a new listing is drawn by the service, so decide reads neither a clock nor
 * a random source. Checks that need other listings (parent, slug) run in the service before
 * the append and again in the projection inside it.
 */

export interface ScheduleEvent {
  type: 'ScheduleEvent';
  eventId: string;
  organisationId: string;
  fields: EventListingFields;
  now: number;
}

export interface EventUserTypeAssignment {
  userId: string;
  userType: UserType;
}

/** Changes and roles in one command, so one `admin_event_update` is one append. */
export interface UpdateEvent {
  type: 'UpdateEvent';
  eventId: string;
  changes: EventListingChanges;
  userTypes: readonly EventUserTypeAssignment[];
  now: number;
}

export interface SetEventUserTypes {
  type: 'SetEventUserTypes';
  eventId: string;
  userTypes: readonly EventUserTypeAssignment[];
  now: number;
}

export interface DeleteEvent {
  type: 'DeleteEvent';
  eventId: string;
  now: number;
}

export type EventListingCommand = ScheduleEvent | UpdateEvent | SetEventUserTypes | DeleteEvent;
