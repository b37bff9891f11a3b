import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import {
  EVENT_LISTING_TOPICS,
  eventCreateData,
  eventDeleteData,
  eventGetData,
  eventReadData,
  eventUpdateData,
} from '../../src/protocol/topics/event-listings.js';
import { validate, type TopicSchema } from '../../src/runtime/index.js';

/**
 * The wire schemas of the Extream event topics (PROTOCOL.md section 8): every malformed
 * input is refused with the field it names, as the topic pipeline reports it (BAD_REQUEST,
 * `details.errors[].path`); datetimes come out as epoch milliseconds.
 */

const ORG = '0b8a4c52-9f0e-4a8e-8c61-52e3a1d7b9c0';
const EVENT = '7d1c3e0a-3b7e-4f7e-9a51-1f0c2d3e4f50';

const creation = (data: Record<string, unknown> = {}) => ({
  data: { organisation: ORG, name: 'Launch day', start_date: '2026-05-04T09:00:00Z', end_date: '2026-05-04 17:00:00', ...data },
});

/** The paths the pipeline's validation names for this input, or [] when it passes. */
function refusedPaths<Data>(schema: TopicSchema<Data>, input: unknown): string[] {
  try {
    validate({ name: 'topic', schema, handle: () => undefined }, input);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    const refusal = error as AppError;
    expect(refusal.code).toBe('BAD_REQUEST');
    return (refusal.details?.errors as { path: string }[]).map((entry) => entry.path);
  }
}

describe('admin_event_create', () => {
  it('names the topics as Extream does', () => {
    expect(Object.values(EVENT_LISTING_TOPICS)).toEqual(['admin_event_create', 'admin_event_read', 'admin_event_update', 'admin_event_delete', 'consumer_event_get']);
  });

  it('accepts the required fields, defaults public to false, and turns both datetime formats into epoch ms', () => {
    const parsed = eventCreateData.parse(creation());
    expect(parsed.data).toEqual({ organisation: ORG, name: 'Launch day', start_date: Date.UTC(2026, 4, 4, 9), end_date: Date.UTC(2026, 4, 4, 17), public: false });
  });

  it('accepts every optional field', () => {
    const parsed = eventCreateData.parse(
      creation({
        slug: 'launch-day',
        description: 'All day',
        website: 'https://example.org',
        parent: EVENT,
        public: true,
        data: { room: 4 },
        timezone: 'Europe/Berlin',
        start_date: '2026-05-04T11:00:00+02:00',
      }),
    );
    expect(parsed.data).toMatchObject({ slug: 'launch-day', parent: EVENT, public: true, data: { room: 4 }, timezone: 'Europe/Berlin', start_date: Date.UTC(2026, 4, 4, 9) });
  });

  it('keeps payload.correlationId', () => {
    expect(eventCreateData.parse({ ...creation(), payload: { correlationId: 'c-1' } }).payload).toEqual({ correlationId: 'c-1' });
  });

  const bad: [string, unknown, string][] = [
    ['no data', {}, 'data'],
    ['data not an object', { data: 'x' }, 'data'],
    ['organisation missing', { data: { ...creation().data, organisation: undefined } }, 'data.organisation'],
    ['organisation not a uuid', creation({ organisation: 'acme' }), 'data.organisation'],
    ['name missing', { data: { ...creation().data, name: undefined } }, 'data.name'],
    ['name a number', creation({ name: 42 }), 'data.name'],
    ['name of 1 character', creation({ name: 'A' }), 'data.name'],
    ['name of 251 characters', creation({ name: 'n'.repeat(251) }), 'data.name'],
    ['name of spaces around one character', creation({ name: '  A  ' }), 'data.name'],
    ['website of 3 characters', creation({ website: 'a.b' }), 'data.website'],
    ['website of 251 characters', creation({ website: `https://${'w'.repeat(243)}` }), 'data.website'],
    ['slug with capitals', creation({ slug: 'Launch' }), 'data.slug'],
    ['slug with a double dash', creation({ slug: 'launch--day' }), 'data.slug'],
    ['parent not a uuid', creation({ parent: 'p-1' }), 'data.parent'],
    ['public a string', creation({ public: 'yes' }), 'data.public'],
    ['data an array', creation({ data: [1, 2] }), 'data.data'],
    ['data too large', creation({ data: { blob: 'x'.repeat(20_000) } }), 'data.data'],
    ['timezone of 65 characters', creation({ timezone: 'z'.repeat(65) }), 'data.timezone'],
    ['timezone empty', creation({ timezone: '' }), 'data.timezone'],
    ['description a number', creation({ description: 7 }), 'data.description'],
    ['start_date missing', { data: { ...creation().data, start_date: undefined } }, 'data.start_date'],
    ['start_date a number', creation({ start_date: 1_777_000_000_000 }), 'data.start_date'],
    ['start_date on 30 February', creation({ start_date: '2026-02-30 10:00:00' }), 'data.start_date'],
    ['start_date at 25:00:00', creation({ start_date: '2026-05-04 25:00:00' }), 'data.start_date'],
    ['start_date in month 13', creation({ start_date: '2026-13-01T00:00:00Z' }), 'data.start_date'],
    ['start_date as words', creation({ start_date: 'tomorrow' }), 'data.start_date'],
    ['end_date at minute 60', creation({ end_date: '2026-05-04T10:60:00Z' }), 'data.end_date'],
    ['end_date with an offset past 14 hours', creation({ end_date: '2026-05-04T10:00:00+15:00' }), 'data.end_date'],
  ];

  for (const [what, input, path] of bad) {
    it(`refuses ${what}, naming ${path}`, () => {
      expect(refusedPaths(eventCreateData, input)).toContain(path);
    });
  }
});

describe('admin_event_update', () => {
  it('accepts any one field, parent null to un-nest, and user types', () => {
    expect(eventUpdateData.parse({ id: EVENT, data: { name: 'Launch week' } }).data).toEqual({ name: 'Launch week' });
    expect(eventUpdateData.parse({ id: EVENT, data: { parent: null } }).data).toEqual({ parent: null });
    expect(eventUpdateData.parse({ id: EVENT, data: { end_date: '2026-05-05 18:30:00' } }).data).toEqual({ end_date: Date.UTC(2026, 4, 5, 18, 30) });
    expect(eventUpdateData.parse({ id: EVENT, data: { user_types: [{ user: 'u1', user_type: 'crew' }] } }).data.user_types).toEqual([{ user: 'u1', user_type: 'crew' }]);
  });

  const bad: [string, unknown, string][] = [
    ['no id', { data: { name: 'Launch week' } }, 'id'],
    ['an id that is no uuid', { id: '42', data: { name: 'Launch week' } }, 'id'],
    ['no data', { id: EVENT }, 'data'],
    ['data naming no field', { id: EVENT, data: {} }, 'data'],
    ['data naming only unknown fields', { id: EVENT, data: { colour: 'red' } }, 'data'],
    ['name of 1 character', { id: EVENT, data: { name: 'A' } }, 'data.name'],
    ['website of 3 characters', { id: EVENT, data: { website: 'a.b' } }, 'data.website'],
    ['parent not a uuid', { id: EVENT, data: { parent: 'p' } }, 'data.parent'],
    ['start_date on 30 February', { id: EVENT, data: { start_date: '2026-02-30T10:00:00Z' } }, 'data.start_date'],
    ['public null', { id: EVENT, data: { public: null } }, 'data.public'],
    ['user_types not a list', { id: EVENT, data: { user_types: { user: 'u1' } } }, 'data.user_types'],
    ['an unknown user_type', { id: EVENT, data: { user_types: [{ user: 'u1', user_type: 'vip' }] } }, 'data.user_types.0.user_type'],
    ['a user_types entry without user', { id: EVENT, data: { user_types: [{ user_type: 'crew' }] } }, 'data.user_types.0.user'],
    ['a user of 201 characters', { id: EVENT, data: { user_types: [{ user: 'u'.repeat(201), user_type: 'crew' }] } }, 'data.user_types.0.user'],
    ['501 user_types', { id: EVENT, data: { user_types: Array.from({ length: 501 }, (_, n) => ({ user: `u${n}`, user_type: 'actor' })) } }, 'data.user_types'],
  ];

  for (const [what, input, path] of bad) {
    it(`refuses ${what}, naming ${path}`, () => {
      expect(refusedPaths(eventUpdateData, input)).toContain(path);
    });
  }

  it('does not let an update move the event to another organisation', () => {
    expect(eventUpdateData.parse({ id: EVENT, data: { organisation: ORG, name: 'Launch week' } }).data).toEqual({ name: 'Launch week' });
  });
});

describe('admin_event_read, admin_event_delete, consumer_event_get', () => {
  for (const [topic, schema] of [
    ['admin_event_read', eventReadData],
    ['consumer_event_get', eventGetData],
  ] as const) {
    it(`${topic} takes an id or an organisation`, () => {
      expect(schema.parse({ id: EVENT })).toEqual({ id: EVENT });
      expect(schema.parse({ organisation: ORG, payload: { correlationId: 'c' } })).toEqual({ organisation: ORG, payload: { correlationId: 'c' } });
    });

    it(`${topic} refuses both, neither, and ids that are no uuid`, () => {
      expect(refusedPaths(schema, { id: EVENT, organisation: ORG })).toEqual(['']);
      expect(refusedPaths(schema, {})).toEqual(['']);
      expect(refusedPaths(schema, { id: 'e-1' })).toContain('id');
      expect(refusedPaths(schema, { organisation: 12 })).toContain('organisation');
      expect(refusedPaths(schema, null)).toEqual(['']);
    });
  }

  it('admin_event_delete takes an id only', () => {
    expect(eventDeleteData.parse({ id: EVENT })).toEqual({ id: EVENT });
    expect(refusedPaths(eventDeleteData, {})).toContain('id');
    expect(refusedPaths(eventDeleteData, { id: 'nope' })).toContain('id');
    expect(refusedPaths(eventDeleteData, { id: EVENT, payload: 'c' })).toContain('payload');
  });
});
