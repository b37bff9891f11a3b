import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, responseOf, type CommandAnswers } from '../helpers/extream.js';
import { ask, createUsers, startIdentityGateway, type IdentityGateway, type TestUser } from '../helpers/identity.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/**
 * Conversations of a chat item (PROTOCOL.md section 8), over native JSON sockets: direct
 * chats (consumer_chat_start with people, consumer_chat_incoming to them, add, leave, the end
 * of a conversation), round-robin chats taken by one operator (client_chat_incoming,
 * client_chat_activate, client_chat_activated), forums (threads first, replies by thread),
 * and a message posted over HTTP reaching the sockets. "Did not get it" is checked behind a
 * barrier: a later message in the hall, which every socket follows, pushes in log order.
 */

type Data = Record<string, any>;
const WAIT_MS = 60_000;
const dataOf = (answers: CommandAnswers): Data => answers.result.data as Data;

describe('chat conversations, round-robin and forums', { timeout: 180_000 }, () => {
  let server: IdentityGateway;
  let users: Record<string, TestUser>;
  const tokens: Record<string, string> = {};
  const sockets: Record<string, TestClient> = {};
  const items: Record<string, string> = {};

  const as = (name: string): TestClient => sockets[name]!;
  const id = (name: string): string => users[name]!.userId;
  const ok = (answers: CommandAnswers): Data => {
    expect(dataOf(answers), JSON.stringify(dataOf(answers))).toMatchObject({ status: expect.toSatisfy((status: number) => status === 200 || status === 201) });
    return responseOf<Data>(answers);
  };
  const push = (name: string, event: string, match: (data: Data) => boolean = () => true) => as(name).next((frame) => frame.event === event && match(frame.data as Data), WAIT_MS);
  const framesOf = (name: string, event: string, match: (data: Data) => boolean): Frame[] => as(name).frames.filter((frame) => frame.event === event && match(frame.data as Data));
  const send = (name: string, item: string, text: string, instance?: string) => command(as(name), 'consumer_chat_send', { id: items[item], text, ...(instance ? { instance } : {}) });
  /** Waits until every named socket has a fresh hall message: every push before it has arrived. */
  const barrier = async (...names: string[]) => {
    const { message } = ok(await send('olga', 'hall', 'barrier'));
    for (const name of names) await push(name, 'consumer_chat_receive', (data) => data.message.id === message.id);
  };

  beforeAll(async () => {
    server = await startIdentityGateway({ badFrameLimit: '10000', chatMessageBurst: '10000' });
    const seed = await server.gateway.identity.createOrganisation('Seed Org', 'test');
    users = await createUsers(server, seed, ['olga', 'opal', 'ada', 'bob', 'cyd'].map((username) => ({ username })));
    for (const [name, user] of Object.entries(users)) {
      sockets[name] = await TestClient.connect(server.wsUrl());
      tokens[name] = (await server.gateway.identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 3600, now: server.clock.now() })).token;
      expect(await ask(as(name), 'authorize', { method: 'oauth2', token: tokens[name] })).toMatchObject({ event: 'authorized' });
    }
    const organisation = ok(await command(as('olga'), 'admin_organisation_create', { data: { name: 'Desk Org' } })).id;
    const dates = { start_date: '2030-06-01T08:00:00Z', end_date: '2030-06-02T20:00:00Z' };
    const event = ok(await command(as('olga'), 'admin_event_create', { data: { organisation, name: 'Desk Day', public: true, ...dates } })).id;
    const itinerary = ok(await command(as('olga'), 'admin_itinerary_create', { data: { event, name: 'Day 1', ...dates } })).id;
    const create = async (name: string, type: string, configuration: Data) => {
      items[name] = ok(await command(as('olga'), 'admin_item_create', { data: { itinerary, type, name, configuration } })).id;
    };
    await create('hall', 'chat', {});
    await create('direct', 'chat', { mode: 'direct' });
    await create('desk', 'chat', { mode: 'round-robin', operators: [id('opal')] });
    await create('forum', 'forum', {});
    // Everyone is on the event and follows the hall (the barrier) and the desk (operators hear of chats there).
    for (const name of Object.keys(users)) for (const item of ['hall', 'desk']) ok(await command(as(name), 'consumer_chat_get', { id: items[item] }));
  }, 120_000);

  afterAll(async () => {
    for (const socket of Object.values(sockets)) socket.close();
    await server?.close();
  });

  describe('direct conversations', () => {
    let instance: string;

    it("refuses what a direct item does not take: posts to the item's own chat, a start naming nobody or an unknown user", async () => {
      const head = server.gateway.store.headPosition();
      expect(dataOf(await send('ada', 'direct', 'hello all'))).toMatchObject({ status: 400, response: { errors: [{ path: 'instance' }] } });
      expect(dataOf(await command(as('ada'), 'consumer_chat_start', { id: items.direct }))).toMatchObject({ status: 400, response: { errors: [{ path: 'participants' }] } });
      expect(dataOf(await command(as('ada'), 'consumer_chat_start', { id: items.direct, participants: [id('ada')] }))).toMatchObject({ status: 400 });
      expect(dataOf(await command(as('ada'), 'consumer_chat_start', { id: items.direct, participants: ['nobody-at-all'] }))).toMatchObject({ status: 400, response: { errors: [{ path: 'participants.0' }] } });
      expect(dataOf(await command(as('ada'), 'consumer_chat_start', { id: items.hall, participants: [id('bob')] }))).toMatchObject({ status: 400 });
      expect(server.gateway.store.headPosition()).toBe(head);
    });

    it('consumer_chat_start: 201 with the conversation; the person named gets consumer_chat_incoming, nobody else', async () => {
      const started = await command(as('ada'), 'consumer_chat_start', { id: items.direct, participants: [id('bob')] });
      expect(started.receipt!.data).toMatchObject({ status: 202, topic: 'ex-discussion' });
      const view = ok(started).instance;
      instance = view.id;
      expect(view).toMatchObject({ item: items.direct, main: false, mode: 'direct', status: 'open', participants: [id('ada'), id('bob')], started_by: id('ada') });
      expect(server.gateway.store.readStream(`chat-${instance}`).map((event) => event.type)).toEqual(['ChatInstanceStarted']);
      expect((await push('bob', 'consumer_chat_incoming')).data).toEqual({ item: items.direct, instance: view });
      await barrier('cyd', 'ada');
      expect(framesOf('cyd', 'consumer_chat_incoming', () => true)).toEqual([]);
      expect(framesOf('ada', 'consumer_chat_incoming', () => true)).toEqual([]);
      const joined = ok(await command(as('bob'), 'consumer_chat_get', { id: items.direct })).join;
      expect(joined.instances.map((entry: Data) => entry.id)).toEqual([instance]);
    });

    it('messages reach its participants only; an outsider can neither read nor post', async () => {
      const { message } = ok(await send('ada', 'direct', 'just between us', instance));
      await push('bob', 'consumer_chat_receive', (data) => data.message.id === message.id);
      await push('ada', 'consumer_chat_receive', (data) => data.message.id === message.id);
      expect(dataOf(await command(as('cyd'), 'consumer_chat_activate', { id: items.direct, instance }))).toMatchObject({ status: 404, response: { errors: [{ path: 'instance' }] } });
      expect(dataOf(await send('cyd', 'direct', 'me too?', instance))).toMatchObject({ status: 403, meta: { permitted: false } });
      await barrier('cyd');
      expect(framesOf('cyd', 'consumer_chat_receive', (data) => data.message.id === message.id)).toEqual([]);
      expect(ok(await command(as('bob'), 'consumer_chat_activate', { id: items.direct, instance })).messages.map((entry: Data) => entry.text)).toEqual(['just between us']);
    });

    it('consumer_chat_add brings someone in (consumer_chat_incoming, then the messages); consumer_chat_leave tells the rest', async () => {
      const added = ok(await command(as('bob'), 'consumer_chat_add', { id: items.direct, instance, participants: [id('cyd')] }));
      expect(added.instance.participants).toEqual([id('ada'), id('bob'), id('cyd')]);
      await push('cyd', 'consumer_chat_incoming', (data) => data.instance.id === instance);
      expect(ok(await command(as('cyd'), 'consumer_chat_activate', { id: items.direct, instance })).messages.map((entry: Data) => entry.text)).toEqual(['just between us']);
      const { message } = ok(await send('cyd', 'direct', 'thanks for adding me', instance));
      for (const name of ['ada', 'bob']) await push(name, 'consumer_chat_receive', (data) => data.message.id === message.id);

      const left = await command(as('bob'), 'consumer_chat_leave', { id: items.direct, instance });
      expect(left.receipt).toBeDefined();
      for (const name of ['ada', 'cyd']) expect((await push(name, 'consumer_chat_leave')).data).toEqual({ item: items.direct, instance, user: id('bob') });
      expect(dataOf(await send('bob', 'direct', 'wait', instance))).toMatchObject({ status: 403 });
      const after = ok(await send('ada', 'direct', 'bye bob', instance)).message;
      await push('cyd', 'consumer_chat_receive', (data) => data.message.id === after.id);
      await barrier('bob');
      expect(framesOf('bob', 'consumer_chat_receive', (data) => data.message.id === after.id)).toEqual([]);
    });

    it('the conversation ends when its last participant leaves: 409 from then on', async () => {
      ok(await command(as('ada'), 'consumer_chat_leave', { id: items.direct, instance }));
      ok(await command(as('cyd'), 'consumer_chat_leave', { id: items.direct, instance }));
      expect(server.gateway.store.readStream(`chat-${instance}`).at(-1)!.type).toBe('ChatInstanceClosed');
      expect(dataOf(await command(as('ada'), 'consumer_chat_add', { id: items.direct, instance, participants: [id('bob')] }))).toMatchObject({ status: 404 });
    });
  });

  describe('round-robin', () => {
    let instance: string;

    it('consumer_chat_start waits for an operator: operators get client_chat_incoming, others do not', async () => {
      expect(dataOf(await command(as('ada'), 'consumer_chat_start', { id: items.desk, participants: [id('bob')] }))).toMatchObject({ status: 400 });
      const view = ok(await command(as('ada'), 'consumer_chat_start', { id: items.desk })).instance;
      instance = view.id;
      expect(view).toMatchObject({ mode: 'round-robin', status: 'waiting', participants: [id('ada')], operator: null });
      // opal is configured; olga holds moderate_chat in the organisation.
      for (const name of ['opal', 'olga']) expect((await push(name, 'client_chat_incoming')).data).toEqual({ item: items.desk, instance: view });
      await barrier('bob');
      expect(framesOf('bob', 'client_chat_incoming', () => true)).toEqual([]);
      const listed = ok(await command(as('opal'), 'client_chat_get', { id: items.desk }));
      expect(listed.instances.map((entry: Data) => entry.id)).toContain(instance);
      expect(ok(await send('ada', 'desk', 'I need help with my ticket', instance)).message.text).toBe('I need help with my ticket');
    });

    it('client_chat_activate: one operator takes it (client_chat_activated to the operators), a second gets 409, a non-operator 403', async () => {
      expect(dataOf(await command(as('bob'), 'client_chat_activate', { id: items.desk, instance }))).toMatchObject({ status: 403, meta: { permitted: false } });
      expect(dataOf(await send('opal', 'desk', 'hello?', instance))).toMatchObject({ status: 403, error: expect.stringContaining('client_chat_activate') });
      const taken = ok(await command(as('opal'), 'client_chat_activate', { id: items.desk, instance }));
      expect(taken.instance).toMatchObject({ status: 'active', operator: id('opal'), participants: [id('ada'), id('opal')] });
      for (const name of ['opal', 'olga']) await push(name, 'client_chat_activated', (data) => data.instance.id === instance && data.instance.operator === id('opal'));
      expect(dataOf(await command(as('olga'), 'client_chat_activate', { id: items.desk, instance }))).toMatchObject({ status: 409 });
      const history = ok(await command(as('opal'), 'consumer_chat_activate', { id: items.desk, instance }));
      expect(history.messages.map((entry: Data) => entry.text)).toEqual(['I need help with my ticket']);
      const answer = ok(await send('opal', 'desk', 'Happy to help', instance)).message;
      await push('ada', 'consumer_chat_receive', (data) => data.message.id === answer.id);
      const reply = ok(await send('ada', 'desk', 'Thanks', instance)).message;
      await push('opal', 'consumer_chat_receive', (data) => data.message.id === reply.id);
    });
  });

  describe('forums', () => {
    it('threads first: the join lists top-level messages with their reply counts; a thread is read by its parent', async () => {
      const first = ok(await send('ada', 'forum', 'Thread: venue tips')).message;
      const second = ok(await send('bob', 'forum', 'Thread: lost and found')).message;
      for (const text of ['Try the cafe', 'And the park']) ok(await command(as('cyd'), 'consumer_chat_send', { id: items.forum, text, parent: first.id }));
      const joined = ok(await command(as('bob'), 'consumer_forum_get', { id: items.forum })).join;
      expect(joined.messages.map((entry: Data) => [entry.text, entry.replies])).toEqual([
        ['Thread: venue tips', 2],
        ['Thread: lost and found', 0],
      ]);
      expect(joined.instance).toMatchObject({ id: items.forum, main: true });
      const thread = ok(await command(as('bob'), 'consumer_chat_activate', { id: items.forum, parent: first.id }));
      expect(thread.messages.map((entry: Data) => entry.text)).toEqual(['Try the cafe', 'And the park']);
      expect(second.parent).toBeNull();
    });
  });

  it('a message posted over HTTP (POST /v1/commands/consumer_chat_send) reaches the followers as a push', async () => {
    const response = await fetch(server.url('/v1/commands/consumer_chat_send'), {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.cyd}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: items.hall, text: 'from curl <i>verbatim</i>' }),
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as Data;
    expect(body.response.message).toMatchObject({ text: 'from curl <i>verbatim</i>', author: id('cyd') });
    const pushed = await push('bob', 'consumer_chat_receive', (data) => data.message.id === body.response.message.id);
    expect((pushed.data as Data).message.text).toBe('from curl <i>verbatim</i>');
  });
});
