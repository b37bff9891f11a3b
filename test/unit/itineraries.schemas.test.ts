import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import {
  ITEM_TYPES,
  ITINERARY_TOPICS,
  checkItemConfiguration,
  consumerItemGet,
  consumerItineraryGet,
  itemCreate,
  itemDelete,
  itemRead,
  itemUpdate,
  itineraryCreate,
  itineraryDelete,
  itineraryRead,
  itineraryUpdate,
  type ItemType,
} from '../../src/protocol/topics/itineraries.js';
import { validate, type TopicSchema } from '../../src/runtime/index.js';

/** The wire schemas of the itinerary and item topics: what passes, and which field each refusal names. */

const EVENT = '22222222-2222-4222-8222-222222222222';
const ITINERARY = '11111111-1111-4111-8111-111111111111';
const ITEM = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const START = '2026-05-04T09:00:00Z';
const END = '2026-05-04 18:00:00';

/** The paths a schema refuses the value with ([] when it passes). */
function refusals(schema: TopicSchema<unknown>, value: unknown): string[] {
  const parsed = schema.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((issue) => issue.path.map(String).join('.'));
}

const itinerary = (data: Record<string, unknown> = {}) => ({ data: { event: EVENT, name: 'Day one', start_date: START, end_date: END, ...data } });
const item = (data: Record<string, unknown> = {}) => ({ data: { itinerary: ITINERARY, type: 'video', name: 'Film', ...data } });
const configured = (type: ItemType, configuration: unknown) => refusals(itemCreate, item({ type, configuration }));

describe('topic names', () => {
  it('has an admin CRUD per entity and a consumer get per item type', () => {
    expect(ITINERARY_TOPICS.itineraryCreate).toBe('admin_itinerary_create');
    expect(ITINERARY_TOPICS.itemDelete).toBe('admin_item_delete');
    expect(Object.values(ITINERARY_TOPICS.consumerItemGet)).toEqual(ITEM_TYPES.map((type) => `consumer_${type}_get`));
  });
});

describe('itinerary schemas', () => {
  it('takes a creation and turns its datetimes into epoch ms', () => {
    const parsed = itineraryCreate.parse(itinerary({ description: 'talks', data: { room: 'A' } }));
    expect(parsed.data).toEqual({ event: EVENT, name: 'Day one', description: 'talks', start_date: Date.UTC(2026, 4, 4, 9), end_date: Date.UTC(2026, 4, 4, 18), data: { room: 'A' } });
  });

  it('refuses missing and wrong-typed fields, naming each', () => {
    expect(refusals(itineraryCreate, {})).toEqual(['data']);
    expect(refusals(itineraryCreate, { data: {} })).toEqual(['data.event', 'data.name', 'data.start_date', 'data.end_date']);
    expect(refusals(itineraryCreate, itinerary({ name: 42 }))).toEqual(['data.name']);
    expect(refusals(itineraryCreate, itinerary({ description: 5 }))).toEqual(['data.description']);
    expect(refusals(itineraryCreate, itinerary({ data: 'x' }))).toEqual(['data.data']);
    expect(refusals(itineraryCreate, itinerary({ data: { big: 'x'.repeat(20_000) } }))).toEqual(['data.data']);
  });

  it('refuses names too short or too long, and a bad event uuid', () => {
    expect(refusals(itineraryCreate, itinerary({ name: 'a' }))).toEqual(['data.name']);
    expect(refusals(itineraryCreate, itinerary({ name: '  a  ' }))).toEqual(['data.name']);
    expect(refusals(itineraryCreate, itinerary({ name: 'x'.repeat(251) }))).toEqual(['data.name']);
    expect(refusals(itineraryCreate, itinerary({ name: 'x'.repeat(250) }))).toEqual([]);
    expect(refusals(itineraryCreate, itinerary({ event: 'not-a-uuid' }))).toEqual(['data.event']);
  });

  it('refuses bad datetimes and an end before the start', () => {
    expect(refusals(itineraryCreate, itinerary({ start_date: '2026-02-30T10:00:00Z' }))).toEqual(['data.start_date']);
    expect(refusals(itineraryCreate, itinerary({ start_date: 'tomorrow' }))).toEqual(['data.start_date']);
    expect(refusals(itineraryCreate, itinerary({ end_date: '2026-05-04T25:00:00Z' }))).toEqual(['data.end_date']);
    expect(refusals(itineraryCreate, itinerary({ end_date: 1_777_000_000_000 }))).toEqual(['data.end_date']);
    expect(refusals(itineraryCreate, itinerary({ end_date: '2026-05-04T08:59:59Z' }))).toEqual(['data.end_date']);
  });

  it('updates: partial, at least one field, never the event', () => {
    expect(itineraryUpdate.parse({ id: ITINERARY, data: { name: 'Day 1' } }).data).toEqual({ name: 'Day 1' });
    expect(refusals(itineraryUpdate, { id: ITINERARY, data: {} })).toEqual(['data']);
    expect(refusals(itineraryUpdate, { id: 'x', data: { name: 'Day 1' } })).toEqual(['id']);
    expect(refusals(itineraryUpdate, { id: ITINERARY, data: { event: EVENT } })).toEqual(['data.event']);
    expect(refusals(itineraryUpdate, { id: ITINERARY, data: { start_date: END, end_date: START } })).toEqual(['data.end_date']);
    expect(refusals(itineraryUpdate, { id: ITINERARY, data: { name: 'x' } })).toEqual(['data.name']);
  });

  it('reads by id or by event, one of the two; deletes by id', () => {
    expect(refusals(itineraryRead, { id: ITINERARY })).toEqual([]);
    expect(refusals(itineraryRead, { event: EVENT })).toEqual([]);
    expect(refusals(itineraryRead, {})).toEqual(['id']);
    expect(refusals(itineraryRead, { id: ITINERARY, event: EVENT })).toEqual(['id']);
    expect(refusals(itineraryRead, { event: 'x' })).toEqual(['event']);
    expect(refusals(itineraryDelete, { id: 'x' })).toEqual(['id']);
    expect(refusals(consumerItineraryGet, { event: EVENT })).toEqual([]);
    expect(refusals(consumerItineraryGet, {})).toEqual(['id']);
  });
});

describe('item schemas', () => {
  it('takes an item without dates and without a configuration', () => {
    expect(itemCreate.parse(item()).data).toEqual({ itinerary: ITINERARY, type: 'video', name: 'Film', configuration: {} });
  });

  it('takes a dated, ordered item with a configuration, keeping unknown fields', () => {
    const parsed = itemCreate.parse(item({ type: 'rtmp', start_date: START, end_date: END, order: 2, configuration: { mode: 'live', extra: { a: 1 } } }));
    expect(parsed.data).toMatchObject({ start_date: Date.UTC(2026, 4, 4, 9), order: 2, configuration: { mode: 'live', extra: { a: 1 } } });
  });

  it('refuses an unknown type naming data.type, and missing or wrong-typed fields', () => {
    expect(refusals(itemCreate, item({ type: 'hologram' }))).toEqual(['data.type']);
    expect(refusals(itemCreate, item({ type: undefined }))).toEqual(['data.type']);
    expect(refusals(itemCreate, { data: {} })).toEqual(['data.itinerary', 'data.type', 'data.name']);
    expect(refusals(itemCreate, item({ itinerary: 'x' }))).toEqual(['data.itinerary']);
    expect(refusals(itemCreate, item({ name: 'F' }))).toEqual(['data.name']);
    expect(refusals(itemCreate, item({ name: 'x'.repeat(251) }))).toEqual(['data.name']);
    expect(refusals(itemCreate, item({ order: -1 }))).toEqual(['data.order']);
    expect(refusals(itemCreate, item({ order: 1.5 }))).toEqual(['data.order']);
    expect(refusals(itemCreate, item({ order: '1' }))).toEqual(['data.order']);
    expect(refusals(itemCreate, item({ configuration: 'x' }))).toEqual(['data.configuration']);
    expect(refusals(itemCreate, item({ configuration: [] }))).toEqual(['data.configuration']);
  });

  it('refuses one date only, bad datetimes and an end before the start', () => {
    expect(refusals(itemCreate, item({ start_date: START }))).toEqual(['data.end_date']);
    expect(refusals(itemCreate, item({ end_date: END }))).toEqual(['data.start_date']);
    expect(refusals(itemCreate, item({ start_date: 'soon', end_date: END }))).toEqual(['data.start_date']);
    expect(refusals(itemCreate, item({ start_date: END, end_date: START }))).toEqual(['data.end_date']);
  });

  it('updates: partial, nullable dates, never the itinerary or the type', () => {
    expect(itemUpdate.parse({ id: ITEM, data: { start_date: null, end_date: null } }).data).toEqual({ start_date: null, end_date: null });
    expect(refusals(itemUpdate, { id: ITEM, data: {} })).toEqual(['data']);
    expect(refusals(itemUpdate, { id: ITEM, data: { type: 'chat' } })).toEqual(['data.type']);
    expect(refusals(itemUpdate, { id: ITEM, data: { itinerary: ITINERARY } })).toEqual(['data.itinerary']);
    expect(refusals(itemUpdate, { id: ITEM, data: { start_date: END, end_date: START } })).toEqual(['data.end_date']);
    expect(refusals(itemUpdate, { id: ITEM, data: { configuration: 7 } })).toEqual(['data.configuration']);
    expect(refusals(itemRead, { itinerary: ITINERARY })).toEqual([]);
    expect(refusals(itemRead, { id: ITEM, itinerary: ITINERARY })).toEqual(['id']);
    expect(refusals(itemDelete, {})).toEqual(['id']);
    expect(refusals(consumerItemGet, { id: 'x' })).toEqual(['id']);
  });

  it('answers a refusal as BAD_REQUEST naming the fields (the topic pipeline)', () => {
    const topic = { name: ITINERARY_TOPICS.itemCreate, schema: itemCreate, handle: () => undefined };
    try {
      validate(topic, item({ type: 'hologram' }));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/^admin_item_create: data\.type: /), details: { errors: [{ path: 'data.type' }] } });
    }
  });
});

describe('configurations per type', () => {
  it('chat and forum', () => {
    for (const type of ['chat', 'forum'] as const) {
      expect(configured(type, { moderation: 'pre-moderate', moderators: ['u1'], threads: true, private: true, mode: 'round-robin', participants: [], participants_only: false, operators: ['u2'], x: 1 })).toEqual([]);
      expect(configured(type, { moderation: 'strict' })).toEqual(['data.configuration.moderation']);
      expect(configured(type, { moderators: 'u1' })).toEqual(['data.configuration.moderators']);
      expect(configured(type, { moderators: [''] })).toEqual(['data.configuration.moderators.0']);
      expect(configured(type, { threads: 'yes' })).toEqual(['data.configuration.threads']);
      expect(configured(type, { mode: 'broadcast' })).toEqual(['data.configuration.mode']);
      expect(configured(type, { operators: Array.from({ length: 1001 }, (_, index) => `u${index}`) })).toEqual(['data.configuration.operators']);
    }
  });

  it('poll', () => {
    const question = { question: 'Why?', answers: [{ text: 'Because', order: 0 }], order: 0, time: 30 };
    expect(configured('poll', { mode: 'quiz', show_responses: true, questions: [question] })).toEqual([]);
    expect(configured('poll', { mode: 'lottery' })).toEqual(['data.configuration.mode']);
    expect(configured('poll', { show_responses: 1 })).toEqual(['data.configuration.show_responses']);
    expect(configured('poll', { questions: [{ ...question, question: '' }] })).toEqual(['data.configuration.questions.0.question']);
    expect(configured('poll', { questions: [{ ...question, question: 'x'.repeat(1001) }] })).toEqual(['data.configuration.questions.0.question']);
    expect(configured('poll', { questions: [{ ...question, answers: [{ text: 'x'.repeat(501), order: 0 }] }] })).toEqual(['data.configuration.questions.0.answers.0.text']);
    expect(configured('poll', { questions: [{ ...question, answers: [{ text: 'a' }] }] })).toEqual(['data.configuration.questions.0.answers.0.order']);
    expect(configured('poll', { questions: [{ ...question, order: 0.5 }] })).toEqual(['data.configuration.questions.0.order']);
    expect(configured('poll', { questions: [{ ...question, time: -1 }] })).toEqual(['data.configuration.questions.0.time']);
    expect(configured('poll', { questions: Array.from({ length: 101 }, () => question) })).toEqual(['data.configuration.questions']);
    const answers = Array.from({ length: 51 }, (_, order) => ({ text: `a${order}`, order }));
    expect(configured('poll', { questions: [{ ...question, answers }] })).toEqual(['data.configuration.questions.0.answers']);
  });

  it('webrtc and zoom', () => {
    for (const type of ['webrtc', 'zoom'] as const) {
      const call = { mode: 'group', operators: ['u1'], participants: ['u2'], max_participants: 50, criteria: { groups: ['g1'], emails: ['a@example.com'], domains: ['example.com'], guests: true }, instance: 'blue-fox', generator: 'memorable' };
      expect(configured(type, call)).toEqual([]);
      expect(configured(type, { mode: 'broadcast' })).toEqual(['data.configuration.mode']);
      expect(configured(type, { max_participants: 0 })).toEqual(['data.configuration.max_participants']);
      expect(configured(type, { max_participants: 10_001 })).toEqual(['data.configuration.max_participants']);
      expect(configured(type, { criteria: { emails: ['not an email'] } })).toEqual(['data.configuration.criteria.emails.0']);
      expect(configured(type, { criteria: { guests: 'yes' } })).toEqual(['data.configuration.criteria.guests']);
      expect(configured(type, { instance: 'x'.repeat(201) })).toEqual(['data.configuration.instance']);
      expect(configured(type, { generator: 'uuid' })).toEqual(['data.configuration.generator']);
    }
    expect(configured('zoom', { meeting_number: '123456789', join_url: 'https://zoom.us/j/123456789' })).toEqual([]);
    expect(configured('zoom', { meeting_number: 'abc' })).toEqual(['data.configuration.meeting_number']);
    expect(configured('zoom', { join_url: 'javascript:alert(1)' })).toEqual(['data.configuration.join_url']);
  });

  it('rtmp', () => {
    expect(configured('rtmp', { mode: 'record', broadcast: 'rtmp://ingest/key', actor: 'u1' })).toEqual([]);
    expect(configured('rtmp', { mode: 'rehearse' })).toEqual(['data.configuration.mode']);
    expect(configured('rtmp', { actor: 7 })).toEqual(['data.configuration.actor']);
  });

  it('video and vod', () => {
    for (const type of ['video', 'vod'] as const) {
      expect(configured(type, { mode: 'loop', url: 'https://cdn.example.com/a.mp4', crew: ['u1'] })).toEqual([]);
      expect(configured(type, { crew: true })).toEqual([]);
      expect(configured(type, { url: 'javascript:alert(1)' })).toEqual(['data.configuration.url']);
      expect(configured(type, { url: `https://example.com/${'x'.repeat(2048)}` })).toEqual(['data.configuration.url']);
      expect(configured(type, { url: 'not a url' })).toEqual(['data.configuration.url']);
    }
  });

  it('html: html or a url, bounded', () => {
    expect(configured('html', { html: '<p>hi</p>' })).toEqual([]);
    expect(configured('html', { url: 'https://example.com/page' })).toEqual([]);
    expect(configured('html', { html: '<p>hi</p>', url: 'https://example.com/page' })).toEqual(['data.configuration.url']);
    expect(configured('html', { html: 'x'.repeat(100_001) })).toEqual(['data.configuration.html']);
    expect(configured('html', { html: 5 })).toEqual(['data.configuration.html']);
    expect(configured('html', { url: 'data:text/html,<script>x</script>' })).toEqual(['data.configuration.url']);
  });

  it('presentation: anything, as given', () => {
    expect(configured('presentation', { deck: 'https://slides.example.com/1', pages: [1, 2] })).toEqual([]);
  });

  it('bounds any configuration as JSON', () => {
    expect(configured('presentation', { blob: 'x'.repeat(140_000) })).toEqual(['data.configuration']);
  });

  it('checks a configuration against a type given apart (what an update uses)', () => {
    expect(checkItemConfiguration('poll', { mode: 'quiz' })).toEqual({ ok: true, configuration: { mode: 'quiz' } });
    expect(checkItemConfiguration('chat', { moderation: 'x' })).toEqual({ ok: false, errors: [{ path: 'data.configuration.moderation', message: expect.any(String) }] });
  });
});
