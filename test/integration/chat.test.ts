import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatAudiences } from '../../src/modules/chat/index.js';
import { until } from '../helpers/conditions.js';
import { command, responseOf, type CommandAnswers } from '../helpers/extream.js';
import { ask, createUsers, startIdentityGateway, type IdentityGateway, type TestUser } from '../helpers/identity.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/**
 * The chat module on a running gateway over native JSON sockets (PROTOCOL.md section 8): the
 * item join with history, posting and its pushes, text kept verbatim, each visibility rule
 * with a leak check (a third user neither gets the push nor finds the message in history),
 * pre-moderation, removal, bans, and every kind of bad input with nothing appended. A "did not
 * get it" is checked after a barrier: a later message everyone reads, which pushes in log
 * order behind the one that must not arrive. Bounds are hang guards, not timing claims.
 */

type Data = Record<string, any>;
const RECEIVE = 'consumer_chat_receive';
const WAIT_MS = 60_000;
const dataOf = (answers: CommandAnswers): Data => answers.result.data as Data;

describe('chat on a running gateway (native JSON)', { timeout: 180_000 }, () => {
  let server: IdentityGateway;
  let users: Record<string, TestUser>;
  const sockets: Record<string, TestClient> = {};
  let anonymous: TestClient;
  const items: Record<string, string> = {};

  const as = (name: string): TestClient => sockets[name]!;
  const id = (name: string): string => users[name]!.userId;
  const post = (name: string, item: string, text: string, extra: Data = {}) => command(as(name), 'consumer_chat_send', { id: items[item], text, ...extra });
  const messageOf = (answers: CommandAnswers): Data => {
    expect(dataOf(answers), JSON.stringify(dataOf(answers))).toMatchObject({ status: 201 });
    return responseOf<{ message: Data }>(answers).message;
  };
  const receive = (name: string, messageId: string) => as(name).next((frame) => frame.event === RECEIVE && (frame.data as Data).message.id === messageId, WAIT_MS);
  const pushesOf = (name: string, messageId: string): Frame[] => as(name).frames.filter((frame) => frame.event === RECEIVE && (frame.data as Data).message.id === messageId);
  const join = async (name: string, item: string): Promise<Data> => {
    const type = item === 'forum' ? 'forum' : 'chat';
    const answers = await command(name === 'anonymous' ? anonymous : as(name), `consumer_${type}_get`, { id: items[item] });
    expect(dataOf(answers), JSON.stringify(dataOf(answers))).toMatchObject({ status: 200 });
    return responseOf<{ join: Data }>(answers).join;
  };
  const history = async (name: string, item: string, extra: Data = {}): Promise<Data[]> =>
    responseOf<{ messages: Data[] }>(await command(as(name), 'consumer_chat_activate', { id: items[item], ...extra })).messages;
  // The gateway exposes no chat getter: its created modules are read the way the pushes tests read event audiences.
  const audiences = (): ChatAudiences => server.gateway.chat.audiences;
  /** Posts a message everyone in `item` reads and waits until `name` has it: every earlier push of that chat is in by then. */
  const barrier = async (item: string, name: string) => receive(name, messageOf(await post('olga', item, 'barrier')).id);

  beforeAll(async () => {
    server = await startIdentityGateway({ badFrameLimit: '10000', chatHistoryPageSize: '5', chatMessageBurst: '10000' });
    const seed = await server.gateway.identity.createOrganisation('Seed Org', 'test');
    users = await createUsers(server, seed, ['olga', 'mona', 'ada', 'bob', 'cyd'].map((username) => ({ username })));
    for (const [name, user] of Object.entries(users)) {
      sockets[name] = await TestClient.connect(server.wsUrl());
      const { token } = await server.gateway.identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 3600, now: server.clock.now() });
      expect(await ask(as(name), 'authorize', { method: 'oauth2', token })).toMatchObject({ event: 'authorized' });
    }
    anonymous = await TestClient.connect(server.wsUrl());
    // Olga founds the organisation: its admins group (hers) holds every permission, moderate_chat too.
    const organisation = responseOf<{ id: string }>(await command(as('olga'), 'admin_organisation_create', { data: { name: 'Chatty Org' } })).id;
    const dates = { start_date: '2030-06-01T08:00:00Z', end_date: '2030-06-02T20:00:00Z' };
    const event = responseOf<{ id: string }>(await command(as('olga'), 'admin_event_create', { data: { organisation, name: 'Chat Fest', public: true, ...dates } })).id;
    const itinerary = responseOf<{ id: string }>(await command(as('olga'), 'admin_itinerary_create', { data: { event, name: 'Day 1', ...dates } })).id;
    const configurations: Record<string, { type: string; configuration: Data }> = {
      lobby: { type: 'chat', configuration: { moderation: 'trust', threads: true } },
      questions: { type: 'chat', configuration: { private: true, moderators: [id('mona')] } },
      vetted: { type: 'chat', configuration: { moderation: 'pre-moderate', moderators: [id('mona')] } },
      flat: { type: 'chat', configuration: {} },
      staff: { type: 'chat', configuration: { participants_only: true, participants: [id('ada')] } },
      changing: { type: 'chat', configuration: { private: true, moderators: [id('mona')] } },
      page: { type: 'html', configuration: { html: '<p>not a chat</p>' } },
    };
    for (const [name, { type, configuration }] of Object.entries(configurations)) {
      items[name] = responseOf<{ id: string }>(await command(as('olga'), 'admin_item_create', { data: { itinerary, type, name, configuration } })).id;
    }
    for (const name of Object.keys(users)) for (const item of ['lobby', 'questions', 'vetted']) await join(name, item);
  }, 120_000);

  afterAll(async () => {
    for (const socket of [...Object.values(sockets), anonymous]) socket?.close();
    await server?.close();
  });

  it('consumer_chat_get: the join carries the history page, the item chat, and whether the reader moderates it', async () => {
    const joined = await join('anonymous', 'flat');
    expect(joined).toMatchObject({ room: `chat-${items.flat}`, messages: [], page: { before: null, hasMore: false }, moderator: false, instances: [] });
    expect(joined.instance).toMatchObject({ id: items.flat, item: items.flat, main: true, mode: 'group', status: 'open' });
    expect((await join('olga', 'flat')).moderator).toBe(true);
    expect((await join('mona', 'questions')).moderator).toBe(true);
    expect((await join('bob', 'questions')).moderator).toBe(false);
  });

  it('consumer_chat_send: receipt (ex-discussion, the log position), result 201, and one push to each follower with seq; text kept verbatim', async () => {
    const text = '<script>alert("x")</script> <b onclick="steal()">hi</b> & \u00e9\u20ac\u{1F600}';
    const sent = await post('ada', 'lobby', text);
    expect(sent.receipt!.data).toEqual({ status: 202, topic: 'ex-discussion', messageId: expect.any(Number) });
    const position = (sent.receipt!.data as Data).messageId as number;
    const message = messageOf(sent);
    expect(message).toMatchObject({ item: items.lobby, instance: items.lobby, author: id('ada'), author_name: 'ada', text, parent: null, status: 'visible', visibility: 'everyone', position });
    expect(dataOf(sent)).toMatchObject({ domain: 'consumer', action: 'chat', command: 'send', meta: { permitted: true, requiresLogin: true } });
    const logged = server.gateway.store.readAll({ after: position - 1, limit: 1 })[0]!;
    expect(logged).toMatchObject({ type: 'ChatMessagePosted', streamId: `chat-${items.lobby}`, data: { text }, metadata: { actor: `user:${id('ada')}` } });
    for (const name of ['ada', 'bob', 'mona', 'olga']) {
      const push = await receive(name, message.id);
      // The push carries the position of the event it comes from as `seq` (PROTOCOL.md section 11).
      expect(push).toMatchObject({ seq: position });
      expect(push.data).toEqual({ item: items.lobby, instance: items.lobby, message });
      expect((push.data as Data).message.text).toBe(text);
    }
    expect((await history('cyd', 'lobby')).at(-1)).toEqual(message);
    // Extream's clients send the text as `message`.
    expect(messageOf(await command(as('bob'), 'consumer_chat_send', { id: items.lobby, message: 'hello as message' })).text).toBe('hello as message');
  });

  it('history is paged: newest last, `before` the oldest position of a page, hasMore while older ones exist', async () => {
    const ids: string[] = [];
    for (let index = 0; index < 7; index++) ids.push(messageOf(await post('cyd', 'flat', `m${index}`)).id);
    const joined = await join('bob', 'flat');
    expect(joined.messages.map((message: Data) => message.text)).toEqual(['m2', 'm3', 'm4', 'm5', 'm6']);
    expect(joined.page).toEqual({ before: joined.messages[0].position, hasMore: true });
    const older = await command(as('bob'), 'consumer_chat_activate', { id: items.flat, before: joined.page.before, limit: 500 });
    expect(older.receipt).toBeUndefined();
    expect(responseOf<Data>(older)).toMatchObject({ messages: [{ text: 'm0' }, { text: 'm1' }], page: { hasMore: false }, moderator: false });
    // The join itself pages too (Extream's clients ask consumer_chat_get again with `before`).
    const olderByJoin = await command(as('bob'), 'consumer_chat_get', { id: items.flat, before: joined.page.before, limit: 1 });
    expect(responseOf<Data>(olderByJoin).join).toMatchObject({ messages: [{ text: 'm1' }], page: { hasMore: true } });
    expect((await command(as('bob'), 'consumer_chat_get', { id: items.flat, before: -1 })).result.data).toMatchObject({ status: 400, response: { errors: [{ path: 'before' }] } });
  });

  describe('a private chat with moderators', () => {
    it("a participant's message reaches the sender and the moderators only", async () => {
      const question = messageOf(await post('ada', 'questions', 'Is the keynote recorded?'));
      expect(question.visibility).toBe('restricted');
      for (const name of ['ada', 'mona', 'olga']) await receive(name, question.id);
      await barrier('questions', 'bob');
      expect(pushesOf('bob', question.id)).toEqual([]);
      expect((await history('bob', 'questions')).map((message) => message.id)).not.toContain(question.id);
      expect((await history('ada', 'questions')).map((message) => message.id)).toContain(question.id);
      expect((await history('mona', 'questions')).map((message) => message.id)).toContain(question.id);
    });

    it("a moderator's top-level message reaches everyone", async () => {
      const notice = messageOf(await post('mona', 'questions', 'Welcome, ask away'));
      expect(notice.visibility).toBe('everyone');
      for (const name of ['ada', 'bob', 'cyd', 'mona']) await receive(name, notice.id);
    });

    it("a reply reaches the requester (the parent's author), the replier and the moderators, nobody else", async () => {
      const question = messageOf(await post('ada', 'questions', 'Where is room B?'));
      const answer = messageOf(await post('mona', 'questions', 'Second floor', { parent: question.id }));
      expect(answer).toMatchObject({ parent: question.id, visibility: 'restricted' });
      for (const name of ['ada', 'mona', 'olga']) await receive(name, answer.id);
      // A participant's reply to someone else's question: the asker, the replier, the moderators.
      const aside = messageOf(await post('cyd', 'questions', 'Next to the lifts', { parent: question.id }));
      for (const name of ['ada', 'cyd', 'mona']) await receive(name, aside.id);
      await barrier('questions', 'bob');
      expect([...pushesOf('bob', answer.id), ...pushesOf('bob', aside.id)]).toEqual([]);
      expect(pushesOf('cyd', answer.id)).toEqual([]);
      const bobSees = (await history('bob', 'questions')).map((message) => message.id);
      expect(bobSees).not.toContain(answer.id);
      expect(bobSees).not.toContain(aside.id);
      expect((await history('cyd', 'questions')).map((message) => message.id)).not.toContain(answer.id);
      expect((await history('ada', 'questions', { parent: question.id })).map((message) => message.id)).toEqual([answer.id, aside.id]);
    });
  });

  describe('pre-moderation', () => {
    it('a held message reaches its author and the moderators until a moderator publishes it, then everyone', async () => {
      const held = messageOf(await post('bob', 'vetted', 'My first question'));
      expect(held).toMatchObject({ status: 'held', visibility: 'restricted' });
      expect((await receive('mona', held.id)).data).toMatchObject({ message: { status: 'held' } });
      await receive('bob', held.id);
      const moderatorView = await command(as('mona'), 'client_chat_get', { id: items.vetted, status: 'held' });
      expect(responseOf<Data>(moderatorView).messages.map((message: Data) => message.id)).toEqual([held.id]);
      await barrier('vetted', 'cyd');
      expect(pushesOf('cyd', held.id)).toEqual([]);
      expect((await history('cyd', 'vetted')).map((message) => message.id)).not.toContain(held.id);

      const refused = await command(as('cyd'), 'client_chat_publish', { id: items.vetted, message: held.id });
      expect(dataOf(refused)).toMatchObject({ status: 403, meta: { permitted: false, reason: 'unauthorized' } });
      const published = await command(as('mona'), 'client_chat_publish', { id: items.vetted, message: held.id });
      expect(published.receipt!.data).toMatchObject({ status: 202, topic: 'ex-discussion' });
      expect(responseOf<Data>(published).message).toMatchObject({ id: held.id, status: 'visible', visibility: 'everyone', published_at: expect.any(String) });
      expect((await receive('cyd', held.id)).data).toMatchObject({ message: { id: held.id, status: 'visible' } });
      expect((await history('cyd', 'vetted')).map((message) => message.id)).toContain(held.id);
      // Publishing what is out already changes nothing: no receipt, no event.
      expect((await command(as('mona'), 'client_chat_publish', { id: items.vetted, message: held.id })).receipt).toBeUndefined();
    });

    it("a moderator's message is not held; client_chat_get is refused to others", async () => {
      expect(messageOf(await post('mona', 'vetted', 'Rules: be kind')).status).toBe('visible');
      expect(dataOf(await command(as('bob'), 'client_chat_get', { id: items.vetted }))).toMatchObject({ status: 403, meta: { permitted: false } });
    });
  });

  it('consumer_chat_remove: the author or a moderator removes; the followers get consumer_chat_remove; others are refused 403 with nothing appended', async () => {
    const mine = messageOf(await post('ada', 'lobby', 'typo'));
    const head = server.gateway.store.headPosition();
    const refused = await command(as('bob'), 'consumer_chat_remove', { id: items.lobby, message: mine.id });
    expect(dataOf(refused)).toMatchObject({ status: 403, meta: { permitted: false, reason: 'unauthorized' } });
    expect(server.gateway.store.headPosition()).toBe(head);
    const removed = await command(as('ada'), 'consumer_chat_remove', { id: items.lobby, message: mine.id });
    expect(responseOf(removed)).toEqual({ id: mine.id, instance: items.lobby, removed: true });
    const push = await as('bob').next((frame) => frame.event === 'consumer_chat_remove' && (frame.data as Data).message === mine.id, WAIT_MS);
    expect(push.data).toEqual({ item: items.lobby, instance: items.lobby, message: mine.id, by: id('ada'), reason: null });
    expect((await history('bob', 'lobby')).map((message) => message.id)).not.toContain(mine.id);
    const theirs = messageOf(await post('bob', 'lobby', 'spam'));
    expect(dataOf(await command(as('mona'), 'consumer_chat_remove', { id: items.lobby, message: theirs.id, reason: 'spam' }))).toMatchObject({ status: 403 });
    expect(dataOf(await command(as('olga'), 'consumer_chat_remove', { id: items.lobby, message: theirs.id, reason: 'spam' }))).toMatchObject({ status: 200 });
  });

  it('a restricted message removed: its removal reaches only those who could read it', async () => {
    const question = messageOf(await post('ada', 'questions', 'Never mind'));
    await command(as('ada'), 'consumer_chat_remove', { id: items.questions, message: question.id });
    await as('mona').next((frame) => frame.event === 'consumer_chat_remove' && (frame.data as Data).message === question.id, WAIT_MS);
    await barrier('questions', 'bob');
    expect(as('bob').frames.filter((frame) => frame.event === 'consumer_chat_remove' && (frame.data as Data).message === question.id)).toEqual([]);
  });

  describe('bans', () => {
    it('client_chat_ban from a non-moderator is 403; a moderator bans, the banned user is refused 403 locked with nothing appended; unban lifts it', async () => {
      expect(dataOf(await command(as('bob'), 'client_chat_ban', { id: items.lobby, user: id('cyd') }))).toMatchObject({ status: 403, meta: { permitted: false, reason: 'unauthorized' } });
      const banned = await command(as('mona'), 'client_chat_ban', { id: items.questions, user: id('cyd'), seconds: 3600, reason: 'rude' });
      expect(responseOf(banned)).toEqual({ user: id('cyd'), banned: true, until: new Date(server.clock.now() + 3_600_000).toISOString() });
      const head = server.gateway.store.headPosition();
      const refused = await post('cyd', 'questions', 'let me in');
      expect(dataOf(refused)).toMatchObject({ status: 403, error: expect.stringContaining('banned'), meta: { permitted: false, reason: 'locked' } });
      expect(server.gateway.store.headPosition()).toBe(head);
      // The ban is the item's: other chats take cyd's messages.
      expect(dataOf(await post('cyd', 'lobby', 'still here'))).toMatchObject({ status: 201 });
      expect(dataOf(await command(as('mona'), 'client_chat_ban', { id: items.questions, user: id('cyd'), unban: true }))).toMatchObject({ status: 200, response: { banned: false } });
      expect(dataOf(await post('cyd', 'questions', 'sorry'))).toMatchObject({ status: 201 });
    });

    it('a moderator cannot be banned: 409 CONFLICT, nothing appended', async () => {
      const head = server.gateway.store.headPosition();
      for (const target of [id('mona'), id('olga')]) {
        const refused = await command(as('mona'), 'client_chat_ban', { id: items.questions, user: target });
        expect(dataOf(refused)).toMatchObject({ status: 409, error: 'a moderator of this chat cannot be banned' });
      }
      expect(server.gateway.store.headPosition()).toBe(head);
    });

    it('a ban of an unknown user is 404; one ending in the past, or with both until and seconds, 400; nothing appended', async () => {
      const head = server.gateway.store.headPosition();
      expect(dataOf(await command(as('mona'), 'client_chat_ban', { id: items.questions, user: 'nobody' }))).toMatchObject({ status: 404, response: { errors: [{ path: 'user' }] } });
      expect(dataOf(await command(as('mona'), 'client_chat_ban', { id: items.questions, user: id('bob'), until: '2000-01-01T00:00:00Z' }))).toMatchObject({ status: 400, response: { errors: [{ path: 'until' }] } });
      expect(dataOf(await command(as('mona'), 'client_chat_ban', { id: items.questions, user: id('bob'), until: '2099-01-01T00:00:00Z', seconds: 60 }))).toMatchObject({ status: 400 });
      expect(server.gateway.store.headPosition()).toBe(head);
    });
  });

  describe('bad input: a stable code, nothing appended, the socket kept', () => {
    const refusals: [string, () => Promise<CommandAnswers>, Data][] = [
      ['text over chatMaxMessageBytes (4096 UTF-8 bytes, fewer characters)', () => post('bob', 'lobby', '\u20ac'.repeat(1366)), { status: 413, meta: { message: 'payload_too_large' } }],
      ['empty text', () => post('bob', 'lobby', ''), { status: 400, meta: { message: 'bad_request' }, response: { errors: [{ path: 'text' }] } }],
      ['blank text', () => post('bob', 'lobby', ' \n\t '), { status: 400, response: { errors: [{ path: 'text' }] } }],
      ['no text at all', () => command(as('bob'), 'consumer_chat_send', { id: items.lobby }), { status: 400 }],
      ['text that is not a string', () => command(as('bob'), 'consumer_chat_send', { id: items.lobby, text: { html: '<b>' } }), { status: 400 }],
      ['an unknown item', () => command(as('bob'), 'consumer_chat_send', { id: '00000000-0000-4000-8000-000000000000', text: 'hi' }), { status: 404, response: { errors: [{ path: 'id' }] } }],
      ['an item that is no chat', () => post('bob', 'page', 'hi'), { status: 400, response: { errors: [{ path: 'id' }] } }],
      ['a reply to an unknown parent', () => post('bob', 'lobby', 'hi', { parent: '00000000-0000-4000-8000-000000000001' }), { status: 404, response: { errors: [{ path: 'parent' }] } }],
      ['a reply where the chat has no threads', () => post('bob', 'flat', 'hi', { parent: '00000000-0000-4000-8000-000000000001' }), { status: 400, response: { errors: [{ path: 'parent' }] } }],
      ['an unknown instance', () => post('bob', 'lobby', 'hi', { instance: '00000000-0000-4000-8000-000000000002' }), { status: 404 }],
      ['an anonymous sender', () => command(anonymous, 'consumer_chat_send', { id: items.lobby, text: 'hi' }), { status: 401, meta: { permitted: false, requiresLogin: true } }],
      ['a non-participant in a participants_only chat', () => post('bob', 'staff', 'hi'), { status: 403, meta: { permitted: false, reason: 'unmet_criteria' } }],
    ];
    it.each(refusals)('%s', async (_name, send, expected) => {
      const head = server.gateway.store.headPosition();
      expect(dataOf(await send())).toMatchObject(expected);
      expect(server.gateway.store.headPosition()).toBe(head);
      expect(as('bob').closed).toBeUndefined();
    });

    it('exactly chatMaxMessageBytes is taken', async () => {
      expect(messageOf(await post('bob', 'lobby', '\u20ac'.repeat(1365) + 'a')).text).toHaveLength(1366);
    });

    it('a reply to a message of another chat is unknown there', async () => {
      const elsewhere = messageOf(await post('bob', 'flat', 'over here'));
      expect(dataOf(await post('bob', 'lobby', 'hi', { parent: elsewhere.id }))).toMatchObject({ status: 404, response: { errors: [{ path: 'parent' }] } });
    });
  });

  it('the item changes: a new moderator reads restricted messages from then on; a removed item ends the chat (404, nobody follows it)', async () => {
    for (const name of ['ada', 'bob', 'mona']) await join(name, 'changing');
    const before = messageOf(await post('ada', 'changing', 'who reads this?'));
    await barrier('changing', 'bob');
    expect(pushesOf('bob', before.id)).toEqual([]);
    const configuration = { private: true, moderators: [id('mona'), id('bob')] };
    expect(dataOf(await command(as('olga'), 'admin_item_update', { id: items.changing, data: { configuration } }))).toMatchObject({ status: 200 });
    // bob's socket was re-worked out when the item changed: no re-join needed.
    const after = messageOf(await post('ada', 'changing', 'and this?'));
    await receive('bob', after.id);
    expect((await history('bob', 'changing')).map((message) => message.id)).toEqual(expect.arrayContaining([before.id, after.id]));
    expect(audiences().followers(items.changing!).size).toBeGreaterThan(0);
    expect(dataOf(await command(as('olga'), 'admin_item_delete', { id: items.changing }))).toMatchObject({ status: 200 });
    expect(audiences().followers(items.changing!).size).toBe(0);
    expect(dataOf(await post('ada', 'changing', 'anyone?'))).toMatchObject({ status: 404 });
  });

  it('a closed socket follows nothing: the chat audiences shrink back', async () => {
    const before = audiences().size.connections;
    const visitor = await TestClient.connect(server.wsUrl());
    await command(visitor, 'consumer_chat_get', { id: items.lobby });
    await command(visitor, 'consumer_chat_get', { id: items.flat });
    expect(audiences().size.connections).toBe(before + 1);
    visitor.close();
    await until(() => audiences().size.connections === before, 'the closed socket left every chat');
  });
});
