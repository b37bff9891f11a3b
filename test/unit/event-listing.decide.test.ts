import { describe, expect, it } from 'vitest';
import {
  eventListingAggregate,
  type EventListingCommand,
  type EventListingEvent,
  type EventListingFields,
} from '../../src/modules/event-listings/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

/**
 * An event listing (stream `event_listing-<eventId>`): given its events, when a command
 * (schedule, update, set roles, delete), then the events decided or the code refused with.
 * The id and `now` come in the commands: decide draws none and reads no clock.
 */

const spec = deciderSpec(eventListingAggregate);
const T0 = Date.UTC(2026, 4, 4, 9, 0, 0);
const HOUR = 3_600_000;
const EVENT = '7d1c3e0a-3b7e-4f7e-9a51-1f0c2d3e4f50';
const ORG = '0b8a4c52-9f0e-4a8e-8c61-52e3a1d7b9c0';
const PARENT = '5a2f9e61-0c4d-4b1a-b3e2-7f6a5d4c3b21';

const fields = (overrides: Partial<EventListingFields> = {}): EventListingFields => ({
  parentId: null,
  name: 'Launch day',
  slug: 'launch-day',
  description: null,
  website: null,
  timezone: 'Europe/Berlin',
  startDate: T0,
  endDate: T0 + 8 * HOUR,
  public: false,
  data: null,
  ...overrides,
});

const schedule = (overrides: Partial<EventListingFields> = {}): EventListingCommand => ({ type: 'ScheduleEvent', eventId: EVENT, organisationId: ORG, fields: fields(overrides), now: T0 - HOUR });
const scheduled = (overrides: Partial<EventListingFields> = {}): EventListingEvent => ({
  type: 'EventScheduled',
  data: { eventId: EVENT, organisationId: ORG, ...fields(overrides), scheduledAt: T0 - HOUR },
});
const deleted: EventListingEvent = { type: 'EventDeleted', data: { eventId: EVENT, organisationId: ORG, deletedAt: T0 } };
const update = (changes: Extract<EventListingCommand, { type: 'UpdateEvent' }>['changes'], userTypes: Extract<EventListingCommand, { type: 'UpdateEvent' }>['userTypes'] = []): EventListingCommand => ({
  type: 'UpdateEvent',
  eventId: EVENT,
  changes,
  userTypes,
  now: T0 + 1,
});

describe('event listing: scheduling', () => {
  it('schedules a new listing with its fields, and the listing is then scheduled', () => {
    const after = spec.given().when(schedule()).then([scheduled()]);
    expect(after.state.value).toBe('scheduled');
    expect(after.state.context).toEqual({ eventId: EVENT, organisationId: ORG, startDate: T0, endDate: T0 + 8 * HOUR });
  });

  it('accepts a nested listing and one that starts and ends at the same moment', () => {
    spec.given().when(schedule({ parentId: PARENT })).then([scheduled({ parentId: PARENT })]);
    spec.given().when(schedule({ endDate: T0 })).then([scheduled({ endDate: T0 })]);
  });

  it('refuses an end before the start, naming data.end_date', () => {
    const refusal = spec.given().when(schedule({ endDate: T0 - 1 })).thenThrows('BAD_REQUEST', /end_date/);
    expect(refusal.details).toEqual({ errors: [{ path: 'data.end_date', message: 'must not be before start_date' }] });
  });

  it('refuses a listing as its own parent', () => {
    const refusal = spec.given().when(schedule({ parentId: EVENT })).thenThrows('BAD_REQUEST');
    expect(refusal.details).toEqual({ errors: [{ path: 'data.parent', message: 'would make the event its own ancestor' }] });
  });

  it('refuses to schedule twice, and to schedule a deleted listing again', () => {
    spec.given([scheduled()]).when(schedule()).thenThrows('CONFLICT', `event ${EVENT} exists already`);
    spec.given([scheduled(), deleted]).when(schedule()).thenThrows('CONFLICT');
  });
});

describe('event listing: updates and roles', () => {
  it('records only the fields named', () => {
    spec
      .given([scheduled()])
      .when(update({ name: 'Launch week', public: true }))
      .then([{ type: 'EventUpdated', data: { eventId: EVENT, organisationId: ORG, changes: { name: 'Launch week', public: true }, updatedAt: T0 + 1 } }]);
  });

  it('un-nests with parentId null and nests with a parent id', () => {
    const nested = spec.given([scheduled({ parentId: PARENT })]);
    expect(nested.when(update({ parentId: null })).events).toEqual([
      { type: 'EventUpdated', data: { eventId: EVENT, organisationId: ORG, changes: { parentId: null }, updatedAt: T0 + 1 } },
    ]);
    expect(spec.given([scheduled()]).when(update({ parentId: PARENT })).events).toHaveLength(1);
  });

  it('checks one changed date against the other as it stands, and the new dates once moved', () => {
    spec.given([scheduled()]).when(update({ endDate: T0 - 1 })).thenThrows('BAD_REQUEST', /end_date/);
    spec.given([scheduled()]).when(update({ startDate: T0 + 9 * HOUR })).thenThrows('BAD_REQUEST', /end_date/);
    const moved = spec
      .given([scheduled()])
      .when(update({ startDate: T0 + 24 * HOUR, endDate: T0 + 30 * HOUR }))
      .then([{ type: 'EventUpdated', data: { eventId: EVENT, organisationId: ORG, changes: { startDate: T0 + 24 * HOUR, endDate: T0 + 30 * HOUR }, updatedAt: T0 + 1 } }]);
    expect(moved.state.context.startDate).toBe(T0 + 24 * HOUR);
    // The moved start now bounds the end: an end between the old and new start is refused.
    moved.when(update({ endDate: T0 + 10 * HOUR })).thenThrows('BAD_REQUEST');
  });

  it('refuses an update making the listing its own parent', () => {
    spec.given([scheduled()]).when(update({ parentId: EVENT })).thenThrows('BAD_REQUEST', /parent/);
  });

  it('sets roles in the same append as the changes, one per user, the last naming winning', () => {
    spec
      .given([scheduled()])
      .when(
        update({ name: 'Launch week' }, [
          { userId: 'u1', userType: 'actor' },
          { userId: 'u2', userType: 'crew' },
          { userId: 'u1', userType: 'chief' },
        ]),
      )
      .then([
        { type: 'EventUpdated', data: { eventId: EVENT, organisationId: ORG, changes: { name: 'Launch week' }, updatedAt: T0 + 1 } },
        { type: 'EventUserTypeSet', data: { eventId: EVENT, userId: 'u2', userType: 'crew', setAt: T0 + 1 } },
        { type: 'EventUserTypeSet', data: { eventId: EVENT, userId: 'u1', userType: 'chief', setAt: T0 + 1 } },
      ]);
  });

  it('records no empty EventUpdated when an update names only roles', () => {
    spec
      .given([scheduled()])
      .when(update({}, [{ userId: 'u1', userType: 'actor' }]))
      .then([{ type: 'EventUserTypeSet', data: { eventId: EVENT, userId: 'u1', userType: 'actor', setAt: T0 + 1 } }]);
  });

  it('sets roles alone with SetEventUserTypes', () => {
    const after = spec
      .given([scheduled()])
      .when({ type: 'SetEventUserTypes', eventId: EVENT, userTypes: [{ userId: 'u3', userType: 'audience' }], now: T0 + 2 })
      .then([{ type: 'EventUserTypeSet', data: { eventId: EVENT, userId: 'u3', userType: 'audience', setAt: T0 + 2 } }]);
    expect(after.state.value).toBe('scheduled');
  });
});

describe('event listing: deletion', () => {
  it('deletes a scheduled listing; the stream then ends', () => {
    const after = spec.given([scheduled()]).when({ type: 'DeleteEvent', eventId: EVENT, now: T0 }).then([deleted]);
    expect(after.state.value).toBe('deleted');
    expect(after.state.status).toBe('done');
  });

  const commands: EventListingCommand[] = [
    update({ name: 'Again' }),
    { type: 'SetEventUserTypes', eventId: EVENT, userTypes: [{ userId: 'u1', userType: 'crew' }], now: T0 + 2 },
    { type: 'DeleteEvent', eventId: EVENT, now: T0 + 2 },
  ];

  for (const command of commands) {
    it(`refuses ${command.type} on a deleted listing as NOT_FOUND "was deleted"`, () => {
      spec.given([scheduled(), deleted]).when(command).thenThrows('NOT_FOUND', `event ${EVENT} was deleted`);
    });

    it(`refuses ${command.type} on a listing never scheduled as NOT_FOUND`, () => {
      spec.given().when(command).thenThrows('NOT_FOUND', `event ${EVENT} does not exist`);
    });
  }
});
