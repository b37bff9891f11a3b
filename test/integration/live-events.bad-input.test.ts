import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, responseOf } from '../helpers/extream.js';
import { ask, createUsers, startIdentityGateway, type IdentityGateway, type TestUser } from '../helpers/identity.js';
import { connectV2, type V2Client } from '../helpers/socketio.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * Issue 9's bad input (PROTOCOL.md section 8) on the native socket, one sample over
 * Socket.IO 2.x, and the HTTP command route: each gets its Extream error naming the field
 * (`response.errors[].path`) or its refusal, and nothing is appended to the log.
 */

const WAIT_MS = 60_000;
type Data = Record<string, any>;
type Case = [topic: string, data: unknown, path: string];

const EVENT_DATES = { start_date: '2026-05-04 09:00:00', end_date: '2026-05-06 18:00:00' };
const DAY = { start_date: '2026-05-04T09:00:00Z', end_date: '2026-05-04T18:00:00Z' };
const SLOT = { start_date: '2026-05-04T10:00:00Z', end_date: '2026-05-04T11:00:00Z' };

describe('live events: bad input is answered with the field, and nothing is appended', { timeout: 180_000 }, () => {
  let server: IdentityGateway;
  let users: Record<string, TestUser>;
  const tokens: Record<string, string> = {};
  let olga: TestClient;
  let bruno: TestClient;
  let vera: TestClient;
  let anonymous: TestClient;
  let orgA: string;
  let orgB: string;
  let eventA: string;
  let eventB: string;
  let itinerary: string;
  let chat: string;

  const head = () => server.gateway.store.headPosition();

  /** Sends a command that must change nothing; returns its only answer's data. */
  async function refused(client: TestClient, topic: string, data: unknown): Promise<Data> {
    const before = head();
    const { receipt, result } = await command(client, topic, data, WAIT_MS);
    expect(receipt, topic).toBeUndefined();
    expect(head(), `${topic} appended nothing`).toBe(before);
    return { event: result.event, ...(result.data as Data) };
  }

  /** Section 8's error: status 400, meta bad_request, the field among response.errors. */
  async function expectBadRequest(client: TestClient, [topic, data, path]: Case): Promise<void> {
    const answer = await refused(client, topic, data);
    expect(answer, `${topic} -> ${path}`).toMatchObject({
      event: topic,
      status: 400,
      error: expect.any(String),
      meta: { permitted: true, message: 'bad_request' },
      response: { errors: expect.arrayContaining([expect.objectContaining({ path, message: expect.any(String) })]) },
    });
  }

  async function expectNotFound(client: TestClient, topic: string, data: unknown): Promise<Data> {
    const answer = await refused(client, topic, data);
    expect(answer, topic).toMatchObject({ event: topic, status: 404, error: expect.any(String), meta: { permitted: true, message: 'not_found' }, response: { errors: expect.any(Array) } });
    return answer;
  }

  async function expectRefusal(client: TestClient, topic: string, data: unknown, status: 401 | 403): Promise<void> {
    const answer = await refused(client, topic, data);
    expect(answer, topic).toMatchObject({ event: topic, status, error: expect.any(String), meta: { permitted: false, reason: 'unauthorized' } });
    expect(answer.response, topic).toBeUndefined();
  }

  async function signedIn(name: string): Promise<TestClient> {
    const client = await TestClient.connect(server.wsUrl());
    expect(await ask(client, 'authorize', { method: 'oauth2', token: tokens[name] })).toMatchObject({ event: 'authorized' });
    return client;
  }

  const idOf = async (client: TestClient, topic: string, data: unknown): Promise<string> => responseOf<{ id: string }>(await command(client, topic, data, WAIT_MS)).id;

  beforeAll(async () => {
    server = await startIdentityGateway({ badFrameLimit: '10000' });
    const seed = await server.gateway.identity.createOrganisation('Seed Org', 'test');
    users = await createUsers(server, seed, [{ username: 'olga' }, { username: 'bruno' }, { username: 'vera' }]);
    for (const [name, user] of Object.entries(users)) {
      tokens[name] = (await server.gateway.identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 3600, now: server.clock.now() })).token;
    }
    [olga, bruno, vera] = await Promise.all([signedIn('olga'), signedIn('bruno'), signedIn('vera')]);
    anonymous = await TestClient.connect(server.wsUrl());
    orgA = await idOf(olga, 'admin_organisation_create', { data: { name: 'Org Alpha' } });
    orgB = await idOf(bruno, 'admin_organisation_create', { data: { name: 'Org Bravo' } });
    eventA = await idOf(olga, 'admin_event_create', { data: { organisation: orgA, name: 'Alpha Summit', ...EVENT_DATES } });
    eventB = await idOf(bruno, 'admin_event_create', { data: { organisation: orgB, name: 'Bravo Days', ...EVENT_DATES } });
    itinerary = await idOf(olga, 'admin_itinerary_create', { data: { event: eventA, name: 'Day One', ...DAY } });
    chat = await idOf(olga, 'admin_item_create', { data: { itinerary, type: 'chat', name: 'Hall chat', ...SLOT } });
    // Vera is a member of Alpha in a group that may only view events.
    const granted = await command(olga, 'admin_group_grant', { organisation: orgA, group: 'viewers', permissions: ['view_event'] }, WAIT_MS);
    expect(granted.result.data).toMatchObject({ status: 200, response: { name: 'viewers', permissions: ['view_event'] } });
    await server.gateway.identity.addToGroup(users.vera!.userId, orgA, 'viewers', 'test');
  }, 120_000);

  afterAll(async () => {
    for (const client of [olga, bruno, vera, anonymous]) client?.close();
    await server?.close();
  });

  it('missing fields', async () => {
    const cases: Case[] = [
      ['admin_organisation_create', {}, 'data'],
      ['admin_organisation_create', { data: { website: 'https://no-name.example' } }, 'data.name'],
      ['admin_event_create', { data: { organisation: orgA, name: 'No Dates' } }, 'data.start_date'],
      ['admin_event_create', { data: { name: 'No Organisation', ...EVENT_DATES } }, 'data.organisation'],
      ['admin_itinerary_create', { data: { event: eventA, name: 'Half a day', start_date: DAY.start_date } }, 'data.end_date'],
      ['admin_item_create', { data: { itinerary, name: 'Typeless' } }, 'data.type'],
      ['admin_item_create', { data: { itinerary, type: 'rtmp', name: 'Only a start', start_date: SLOT.start_date } }, 'data.end_date'],
      ['admin_event_update', { data: { name: 'Which one?' } }, 'id'],
      ['admin_event_update', { id: eventA, data: {} }, 'data'],
      ['admin_item_update', { id: chat }, 'data'],
      ['consumer_itinerary_get', {}, 'id'],
      ['consumer_chat_get', {}, 'id'],
    ];
    for (const entry of cases) await expectBadRequest(olga, entry);
  });

  it('wrong-typed fields', async () => {
    const cases: Case[] = [
      ['admin_organisation_create', { data: { name: ['Org', 'List'] } }, 'data.name'],
      ['admin_event_create', { data: { organisation: orgA, name: 42, ...EVENT_DATES } }, 'data.name'],
      ['admin_event_create', { data: { organisation: orgA, name: 'Typed', public: 'yes', ...EVENT_DATES } }, 'data.public'],
      ['admin_event_create', { data: { organisation: orgA, name: 'Typed', ...EVENT_DATES, start_date: 1_777_885_200_000 } }, 'data.start_date'],
      ['admin_item_create', { data: { itinerary, type: 'video', name: 'Ordered', order: 'first' } }, 'data.order'],
      ['admin_item_create', { data: { itinerary, type: 'video', name: 'Configured', configuration: 'loud' } }, 'data.configuration'],
      ['admin_itinerary_update', { id: itinerary, data: { data: [1, 2, 3] } }, 'data.data'],
    ];
    for (const entry of cases) await expectBadRequest(olga, entry);
  });

  it('strings past their limits: name 1 and 251 characters, website 3', async () => {
    const cases: Case[] = [
      ['admin_organisation_create', { data: { name: 'A' } }, 'data.name'],
      ['admin_organisation_create', { data: { name: 'x'.repeat(251) } }, 'data.name'],
      ['admin_organisation_create', { data: { name: 'Short Site', website: 'a.b' } }, 'data.website'],
      ['admin_organisation_update', { id: orgA, data: { name: 'x'.repeat(251) } }, 'data.name'],
      ['admin_event_create', { data: { organisation: orgA, name: 'B', ...EVENT_DATES } }, 'data.name'],
      ['admin_event_update', { id: eventA, data: { website: 'x.y' } }, 'data.website'],
      ['admin_itinerary_create', { data: { event: eventA, name: 'y'.repeat(251), ...DAY } }, 'data.name'],
      ['admin_item_update', { id: chat, data: { name: 'C' } }, 'data.name'],
    ];
    for (const entry of cases) await expectBadRequest(olga, entry);
    // The limits themselves are allowed: 2 and 250 characters, website 4.
    const edge = await command(olga, 'admin_organisation_update', { id: orgA, data: { website: 'a.bc', description: 'ok' } }, WAIT_MS);
    expect(edge.result.data).toMatchObject({ status: 200, response: { website: 'a.bc' } });
    const long = await command(olga, 'admin_item_update', { id: chat, data: { name: 'z'.repeat(250) } }, WAIT_MS);
    expect(long.result.data).toMatchObject({ status: 200 });
    expect((await command(olga, 'admin_item_update', { id: chat, data: { name: 'Hc' } }, WAIT_MS)).result.data).toMatchObject({ status: 200, response: { name: 'Hc' } });
  });

  it('bad UUIDs', async () => {
    const cases: Case[] = [
      ['admin_event_read', { id: 'not-a-uuid' }, 'id'],
      ['admin_event_create', { data: { organisation: 'acme', name: 'Bad Org Id', ...EVENT_DATES } }, 'data.organisation'],
      ['admin_event_create', { data: { organisation: orgA, name: 'Bad Parent', parent: '1234', ...EVENT_DATES } }, 'data.parent'],
      ['admin_itinerary_create', { data: { event: `${eventA}0`, name: 'Bad Event Id', ...DAY } }, 'data.event'],
      ['admin_item_create', { data: { itinerary: 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz', type: 'html', name: 'Bad Itinerary Id' } }, 'data.itinerary'],
      ['admin_item_delete', { id: 42 }, 'id'],
      ['consumer_event_get', { id: 'event-1' }, 'id'],
      ['consumer_chat_get', { id: 'chat' }, 'id'],
    ];
    for (const entry of cases) await expectBadRequest(olga, entry);
  });

  it('bad dates: 2026-02-30, 25:00, free text', async () => {
    const event = (start_date: unknown) => ({ data: { organisation: orgA, name: 'Dated', ...EVENT_DATES, start_date } });
    const cases: Case[] = [
      ['admin_event_create', event('2026-02-30 10:00:00'), 'data.start_date'],
      ['admin_event_create', event('2026-05-04 25:00:00'), 'data.start_date'],
      ['admin_event_create', event('next tuesday'), 'data.start_date'],
      ['admin_event_update', { id: eventA, data: { end_date: '2026-13-01T00:00:00Z' } }, 'data.end_date'],
      ['admin_itinerary_update', { id: itinerary, data: { start_date: '2026-05-04T09:60:00Z' } }, 'data.start_date'],
      ['admin_item_create', { data: { itinerary, type: 'zoom', name: 'Leap', start_date: '2026-02-29 10:00:00', end_date: SLOT.end_date } }, 'data.start_date'],
    ];
    for (const entry of cases) await expectBadRequest(olga, entry);
  });

  it('end before start: event, itinerary, item', async () => {
    const cases: Case[] = [
      ['admin_event_create', { data: { organisation: orgA, name: 'Backwards', start_date: '2026-05-06 09:00:00', end_date: '2026-05-05 09:00:00' } }, 'data.end_date'],
      ['admin_event_update', { id: eventA, data: { end_date: '2026-05-01 00:00:00' } }, 'data.end_date'],
      ['admin_itinerary_create', { data: { event: eventA, name: 'Backwards', start_date: DAY.end_date, end_date: DAY.start_date } }, 'data.end_date'],
      ['admin_itinerary_update', { id: itinerary, data: { start_date: '2026-05-04T19:00:00Z' } }, 'data.start_date'],
      ['admin_item_create', { data: { itinerary, type: 'webrtc', name: 'Backwards', start_date: SLOT.end_date, end_date: SLOT.start_date } }, 'data.end_date'],
      ['admin_item_update', { id: chat, data: { end_date: '2026-05-04T09:30:00Z' } }, 'data.end_date'],
    ];
    for (const entry of cases) await expectBadRequest(olga, entry);
  });

  it("items outside their itinerary's dates, itineraries outside their event's, and an itinerary update that would leave an item outside", async () => {
    const cases: Case[] = [
      ['admin_item_create', { data: { itinerary, type: 'poll', name: 'Too early', start_date: '2026-05-04T08:00:00Z', end_date: SLOT.end_date } }, 'data.start_date'],
      ['admin_item_create', { data: { itinerary, type: 'poll', name: 'Too late', start_date: SLOT.start_date, end_date: '2026-05-04T19:00:00Z' } }, 'data.end_date'],
      ['admin_item_update', { id: chat, data: { start_date: '2026-05-05T10:00:00Z', end_date: '2026-05-05T11:00:00Z' } }, 'data.end_date'],
      ['admin_itinerary_create', { data: { event: eventA, name: 'Before the event', start_date: '2026-05-03T09:00:00Z', end_date: DAY.end_date } }, 'data.start_date'],
      ['admin_itinerary_update', { id: itinerary, data: { start_date: '2026-05-04T10:30:00Z' } }, 'data.start_date'],
      ['admin_itinerary_update', { id: itinerary, data: { end_date: '2026-05-04T10:30:00Z' } }, 'data.end_date'],
      // The event's own dates must keep holding its itineraries.
      ['admin_event_update', { id: eventA, data: { end_date: '2026-05-04T12:00:00Z' } }, 'data.end_date'],
      ['admin_event_update', { id: eventA, data: { start_date: '2026-05-04T10:30:00Z' } }, 'data.start_date'],
    ];
    for (const entry of cases) await expectBadRequest(olga, entry);
    const answer = await refused(olga, 'admin_itinerary_update', { id: itinerary, data: { end_date: '2026-05-04T10:30:00Z' } });
    expect(answer.response.errors[0].message).toContain(chat);
  });

  it('unknown item types, and an item joined under the wrong type', async () => {
    await expectBadRequest(olga, ['admin_item_create', { data: { itinerary, type: 'hologram', name: 'Future' } }, 'data.type']);
    await expectBadRequest(olga, ['admin_item_update', { id: chat, data: { type: 'poll' } }, 'data.type']);
    await expectBadRequest(olga, ['consumer_video_get', { id: chat }, 'id']);
    const before = head();
    const unknown = await ask(olga, 'consumer_hologram_get', { id: chat });
    expect(unknown).toMatchObject({ event: 'error', data: { code: 'UNKNOWN_EVENT' } });
    expect(head()).toBe(before);
  });

  it('bad per-type configuration', async () => {
    const item = (type: string, configuration: unknown) => ({ data: { itinerary, type, name: `Bad ${type}`, configuration } });
    const cases: Case[] = [
      ['admin_item_create', item('chat', { moderation: 'sometimes' }), 'data.configuration.moderation'],
      ['admin_item_create', item('forum', { moderators: 'everyone' }), 'data.configuration.moderators'],
      ['admin_item_create', item('poll', { questions: [{ answers: [], order: 0 }] }), 'data.configuration.questions.0.question'],
      ['admin_item_create', item('poll', { questions: [{ question: 'Why?', order: 0, answers: [{ text: '', order: 0 }] }] }), 'data.configuration.questions.0.answers.0.text'],
      ['admin_item_create', item('webrtc', { max_participants: 0 }), 'data.configuration.max_participants'],
      ['admin_item_create', item('video', { url: 'javascript:alert(1)' }), 'data.configuration.url'],
      ['admin_item_create', item('rtmp', { mode: 'broadcast-forever' }), 'data.configuration.mode'],
      ['admin_item_create', item('html', { html: '<p>both</p>', url: 'https://example.com' }), 'data.configuration.url'],
      // An update names no type: its configuration is checked against the stored item's.
      ['admin_item_update', { id: chat, data: { configuration: { moderation: 'sometimes' } } }, 'data.configuration.moderation'],
    ];
    for (const entry of cases) await expectBadRequest(olga, entry);
  });

  it('cycles in nested events: A under B, then B under A is refused; so is an event under itself', async () => {
    const a = await idOf(olga, 'admin_event_create', { data: { organisation: orgA, name: 'Event A', ...EVENT_DATES } });
    const b = await idOf(olga, 'admin_event_create', { data: { organisation: orgA, name: 'Event B', ...EVENT_DATES } });
    const nested = await command(olga, 'admin_event_update', { id: a, data: { parent: b } }, WAIT_MS);
    expect(nested.result.data).toMatchObject({ status: 200, response: { id: a, parent: b } });
    await expectBadRequest(olga, ['admin_event_update', { id: b, data: { parent: a } }, 'data.parent']);
    await expectBadRequest(olga, ['admin_event_update', { id: a, data: { parent: a } }, 'data.parent']);
    const c = await idOf(olga, 'admin_event_create', { data: { organisation: orgA, name: 'Event C', parent: a, ...EVENT_DATES } });
    await expectBadRequest(olga, ['admin_event_update', { id: b, data: { parent: c } }, 'data.parent']);
  });

  it('commands on deleted entities answer the 404 shape', async () => {
    const gone = await idOf(olga, 'admin_event_create', { data: { organisation: orgA, name: 'Gone Event', ...EVENT_DATES } });
    const goneDay = await idOf(olga, 'admin_itinerary_create', { data: { event: eventA, name: 'Gone Day', ...DAY } });
    const goneItem = await idOf(olga, 'admin_item_create', { data: { itinerary, type: 'video', name: 'Gone Item' } });
    for (const [topic, id] of [['admin_event_delete', gone], ['admin_itinerary_delete', goneDay], ['admin_item_delete', goneItem]] as const) {
      expect((await command(olga, topic, { id }, WAIT_MS)).result.data, topic).toMatchObject({ status: 200, response: { id, deleted: true } });
    }
    await expectNotFound(olga, 'admin_event_read', { id: gone });
    await expectNotFound(olga, 'admin_event_update', { id: gone, data: { name: 'Revived' } });
    await expectNotFound(olga, 'admin_event_delete', { id: gone });
    await expectNotFound(olga, 'consumer_event_get', { id: gone });
    const underGone = await expectNotFound(olga, 'admin_itinerary_create', { data: { event: gone, name: 'Orphan', ...DAY } });
    expect(underGone.response.errors).toEqual([expect.objectContaining({ path: 'data.event' })]);
    await expectNotFound(olga, 'admin_itinerary_update', { id: goneDay, data: { name: 'Revived' } });
    await expectNotFound(olga, 'consumer_itinerary_get', { id: goneDay });
    const onGoneDay = await expectNotFound(olga, 'admin_item_create', { data: { itinerary: goneDay, type: 'html', name: 'Orphan' } });
    expect(onGoneDay.response.errors).toEqual([expect.objectContaining({ path: 'data.itinerary' })]);
    await expectNotFound(olga, 'admin_item_update', { id: goneItem, data: { name: 'Revived' } });
    await expectNotFound(olga, 'admin_item_delete', { id: goneItem });
    await expectNotFound(anonymous, 'consumer_video_get', { id: goneItem });
    // Never-existing ids alike.
    await expectNotFound(olga, 'admin_item_read', { id: '00000000-0000-4000-8000-000000000000' });
  });

  it("ids of another organisation: a parent there is a bad field, its entities are refused as forbidden", async () => {
    await expectBadRequest(olga, ['admin_event_create', { data: { organisation: orgA, name: 'Adopted', parent: eventB, ...EVENT_DATES } }, 'data.parent']);
    await expectBadRequest(olga, ['admin_event_update', { id: eventA, data: { parent: eventB } }, 'data.parent']);
    await expectRefusal(olga, 'admin_itinerary_create', { data: { event: eventB, name: 'Intruder day', ...DAY } }, 403);
    await expectRefusal(olga, 'admin_event_update', { id: eventB, data: { name: 'Mine now' } }, 403);
    await expectRefusal(olga, 'admin_event_create', { data: { organisation: orgB, name: 'Planted', ...EVENT_DATES } }, 403);
    await expectRefusal(bruno, 'admin_item_create', { data: { itinerary, type: 'chat', name: 'Spy chat' } }, 403);
    await expectRefusal(bruno, 'admin_organisation_update', { id: orgA, data: { name: 'Taken Over' } }, 403);
  });

  it('a user without the permission is refused 403 permitted:false; anonymous admin commands 401', async () => {
    // Vera may view events: the grant counts.
    expect((await command(vera, 'admin_event_read', { id: eventA }, WAIT_MS)).result.data).toMatchObject({ status: 200, response: { id: eventA } });
    await expectRefusal(vera, 'admin_event_create', { data: { organisation: orgA, name: 'Not Allowed', ...EVENT_DATES } }, 403);
    await expectRefusal(vera, 'admin_event_update', { id: eventA, data: { name: 'Renamed' } }, 403);
    await expectRefusal(vera, 'admin_event_delete', { id: eventA }, 403);
    await expectRefusal(vera, 'admin_itinerary_create', { data: { event: eventA, name: 'Not Allowed', ...DAY } }, 403);
    await expectRefusal(vera, 'admin_item_delete', { id: chat }, 403);
    await expectRefusal(vera, 'admin_group_grant', { organisation: orgA, group: 'viewers', permissions: ['edit_event'] }, 403);
    await expectRefusal(anonymous, 'admin_event_create', { data: { organisation: orgA, name: 'Anon', ...EVENT_DATES } }, 401);
    await expectRefusal(anonymous, 'admin_item_update', { id: chat, data: { name: 'Anon' } }, 401);
    const anon = await refused(anonymous, 'admin_organisation_create', { data: { name: 'Anon Org' } });
    expect(anon.meta).toMatchObject({ permitted: false, requiresLogin: true });
  });

  it('a frame that is not an object, and data that is not an object', async () => {
    const before = head();
    for (const raw of ['[1,2,3]', '"admin_event_create"', '42', 'null']) {
      olga.sendRaw(raw, false);
      const error = await olga.next('error', WAIT_MS);
      expect(error.data, raw).toMatchObject({ code: 'BAD_REQUEST', message: expect.any(String) });
    }
    expect(head()).toBe(before);
    await expectBadRequest(olga, ['admin_event_create', 'Alpha Summit 2', '']);
    await expectBadRequest(olga, ['admin_item_update', [chat, { name: 'x' }], '']);
    expect(olga.closed).toBeUndefined();
  });

  it('an unknown admin_* topic is UNKNOWN_EVENT', async () => {
    const before = head();
    for (const topic of ['admin_widget_create', 'admin_event_publish', 'admin_item']) {
      const answer = await ask(olga, topic, { data: { name: 'Widget' } });
      expect(answer, topic).toMatchObject({ event: 'error', data: { code: 'UNKNOWN_EVENT', message: expect.stringContaining(topic) } });
    }
    expect(head()).toBe(before);
  });

  describe('POST /v1/commands', () => {
    const post = (topic: string, body: string, authorization?: string) =>
      fetch(server.url(`/v1/commands/${topic}`), { method: 'POST', body, headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) } });

    it('a body that is not JSON is 400; an unknown command 404; a bad Bearer token 401 with www-authenticate', async () => {
      const before = head();
      const notJson = await post('admin_event_create', '{"data": {', `Bearer ${tokens.olga}`);
      expect(notJson.status).toBe(400);
      expect(await notJson.json()).toMatchObject({ status: 400, meta: { permitted: true, message: 'bad_request' }, response: { errors: expect.any(Array) } });
      const unknown = await post('admin_widget_create', '{}', `Bearer ${tokens.olga}`);
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toMatchObject({ status: 404, response: { errors: [{ code: 'UNKNOWN_EVENT' }] } });
      for (const authorization of ['Bearer not.a.token', `Bearer ${tokens.olga!.slice(0, -6)}AAAAAA`, 'Basic b2xnYTpwdw==']) {
        const refused = await post('admin_event_read', JSON.stringify({ id: eventA }), authorization);
        expect(refused.status, authorization).toBe(401);
        expect(refused.headers.get('www-authenticate'), authorization).toBe('Bearer');
        expect(await refused.json()).toMatchObject({ status: 401, meta: { permitted: false, reason: 'unauthorized' } });
      }
      expect(head()).toBe(before);
    });

    it('a bad field over HTTP is the same 400 naming it, and appends nothing', async () => {
      const before = head();
      const response = await post('admin_event_create', JSON.stringify({ data: { organisation: orgA, name: 'A', ...EVENT_DATES } }), `Bearer ${tokens.olga}`);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ status: 400, meta: { message: 'bad_request' }, response: { errors: [{ path: 'data.name' }] } });
      const forbidden = await post('admin_event_delete', JSON.stringify({ id: eventA }), `Bearer ${tokens.vera}`);
      expect(forbidden.status).toBe(403);
      expect(await forbidden.json()).toMatchObject({ status: 403, meta: { permitted: false, reason: 'unauthorized' } });
      expect(head()).toBe(before);
    });
  });

  describe('the same over Socket.IO 2.x (x-auth)', () => {
    let client: V2Client;

    beforeAll(async () => {
      client = await connectV2(server.port, { query: { 'x-auth': tokens.olga! } });
      await client.log.next('authorized', WAIT_MS);
      // connectV2 closes the client on its first `error` event (a refused CONNECT); once
      // connected, an `error` event is an ordinary answer (UNKNOWN_EVENT below), so that listener goes.
      client.socket.off('error');
    });
    afterAll(() => client?.socket.close());

    it('a bad field, a deleted-or-unknown id and an unknown topic get the same answers, nothing appended', async () => {
      const before = head();
      client.socket.emit('admin_event_create', { data: { organisation: orgA, name: 'x'.repeat(251), ...EVENT_DATES } });
      const bad = (await client.log.next('admin_event_create', WAIT_MS)).args[0] as Data;
      expect(bad).toMatchObject({ status: 400, meta: { permitted: true, message: 'bad_request' }, response: { errors: [{ path: 'data.name' }] } });
      client.socket.emit('admin_itinerary_update', { id: '00000000-0000-4000-8000-000000000000', data: { name: 'Nowhere' } });
      expect((await client.log.next('admin_itinerary_update', WAIT_MS)).args[0]).toMatchObject({ status: 404, meta: { message: 'not_found' } });
      const ack = await new Promise<unknown>((resolve) => client.socket.emit('admin_widget_create', { data: {} }, resolve));
      expect(ack).toMatchObject({ code: 'UNKNOWN_EVENT' });
      expect((await client.log.next('error', WAIT_MS)).args[0]).toEqual(ack);
      expect(client.socket.connected).toBe(true);
      expect(client.log.events.some((event: { event: string }) => event.event === 'admin_event_create')).toBe(false);
      expect(head()).toBe(before);
    });
  });
});
