import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, responseOf } from '../helpers/extream.js';
import { ask, createUsers, startIdentityGateway, type IdentityGateway, type TestUser } from '../helpers/identity.js';
import { connectV2, connectV4, emitWithAckV2, type EventLog } from '../helpers/socketio.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * The chat over Socket.IO (PROTOCOL.md sections 3 and 8): socket.io-client 2.x with its token
 * in `x-auth` (as Extream's SDK does) and 4.x with it in the CONNECT `auth`, beside a native
 * socket, in one chat: the join, posts answered as acks and as events (receipt, then result),
 * pushes to every transport with the text verbatim, a private chat's leak check, removals,
 * and a refusal in Extream's shape. Bounds are hang guards, not timing claims.
 */

type Data = Record<string, any>;
const WAIT_MS = 60_000;

interface SioClient {
  log: EventLog;
  emit(event: string, data: unknown): void;
  emitWithAck(event: string, data: unknown): Promise<Data>;
  close(): void;
}

async function open(flavour: '2.x' | '4.x', port: number, token: string): Promise<SioClient> {
  if (flavour === '2.x') {
    const client = await connectV2(port, { query: { 'x-auth': token } });
    await client.log.next('authorized', WAIT_MS);
    return {
      log: client.log,
      emit: (event, data) => void client.socket.emit(event, data),
      emitWithAck: async (event, data) => (await emitWithAckV2(client.socket, event, data)) as Data,
      close: () => void client.socket.close(),
    };
  }
  const client = await connectV4(port, { auth: { token } });
  await client.log.next('authorized', WAIT_MS);
  return {
    log: client.log,
    emit: (event, data) => void client.socket.emit(event, data),
    emitWithAck: async (event, data) => (await client.socket.timeout(WAIT_MS).emitWithAck(event, data)) as Data,
    close: () => void client.socket.close(),
  };
}

const receiveOf = (log: EventLog, messageId: string) => log.events.filter((event) => event.event === 'consumer_chat_receive' && (event.args[0] as Data).message.id === messageId);

describe('chat over Socket.IO 2.x (x-auth) and 4.x', { timeout: 180_000 }, () => {
  let server: IdentityGateway;
  let users: Record<string, TestUser>;
  const tokens: Record<string, string> = {};
  let moderator: TestClient;
  let v2: SioClient;
  let v4: SioClient;
  let bystander: SioClient;
  let lobby: string;
  let questions: string;

  beforeAll(async () => {
    server = await startIdentityGateway({ badFrameLimit: '10000', chatMessageBurst: '10000' });
    const seed = await server.gateway.identity.createOrganisation('Seed Org', 'test');
    users = await createUsers(server, seed, ['mona', 'ada', 'bob', 'cyd'].map((username) => ({ username })));
    for (const [name, user] of Object.entries(users)) {
      tokens[name] = (await server.gateway.identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 3600, now: server.clock.now() })).token;
    }
    moderator = await TestClient.connect(server.wsUrl());
    expect(await ask(moderator, 'authorize', { method: 'oauth2', token: tokens.mona })).toMatchObject({ event: 'authorized' });
    const organisation = responseOf<{ id: string }>(await command(moderator, 'admin_organisation_create', { data: { name: 'Socket Org' } })).id;
    const dates = { start_date: '2030-06-01T08:00:00Z', end_date: '2030-06-02T20:00:00Z' };
    const event = responseOf<{ id: string }>(await command(moderator, 'admin_event_create', { data: { organisation, name: 'IO Day', public: true, ...dates } })).id;
    const itinerary = responseOf<{ id: string }>(await command(moderator, 'admin_itinerary_create', { data: { event, name: 'Day', ...dates } })).id;
    const item = async (name: string, configuration: Data) =>
      responseOf<{ id: string }>(await command(moderator, 'admin_item_create', { data: { itinerary, type: 'chat', name, configuration } })).id;
    lobby = await item('Lobby', { threads: true });
    questions = await item('Questions', { private: true });
    v2 = await open('2.x', server.port, tokens.ada!);
    v4 = await open('4.x', server.port, tokens.bob!);
    bystander = await open('4.x', server.port, tokens.cyd!);
    for (const id of [lobby, questions]) {
      await command(moderator, 'consumer_chat_get', { id });
      for (const client of [v2, v4, bystander]) expect(await client.emitWithAck('consumer_chat_get', { id })).toMatchObject({ status: 200, response: { join: { instance: { id } } } });
    }
  }, 120_000);

  afterAll(async () => {
    for (const client of [v2, v4, bystander]) client?.close();
    moderator?.close();
    await server?.close();
  });

  it.each(['2.x', '4.x'] as const)('socket.io %s: a post is acked with the result, answered as receipt then result, and pushed to every transport verbatim', async (flavour) => {
    const client = flavour === '2.x' ? v2 : v4;
    const text = `<script>alert('${flavour}')</script> & <img src=x onerror=1>`;
    const ack = await client.emitWithAck('consumer_chat_send', { id: lobby, message: text });
    expect(ack).toMatchObject({ status: 201, domain: 'consumer', action: 'chat', command: 'send', response: { message: { text, item: lobby } } });
    const receipt = await client.log.next((event) => event.event === 'consumer_chat_send' && (event.args[0] as Data).status === 202, WAIT_MS);
    expect(receipt.args[0]).toEqual({ status: 202, topic: 'ex-discussion', messageId: ack.response.message.position });
    expect((await client.log.next((event) => event.event === 'consumer_chat_send' && (event.args[0] as Data).status === 201, WAIT_MS)).args[0]).toEqual(ack);
    const messageId = ack.response.message.id as string;
    for (const other of [v2, v4, bystander]) {
      await other.log.until(() => receiveOf(other.log, messageId).length === 1, `${flavour}'s message pushed`, WAIT_MS);
      // Socket.IO carries the push's log position inside its data (PROTOCOL.md section 11).
      expect(receiveOf(other.log, messageId)[0]!.args[0]).toEqual({ item: lobby, instance: lobby, message: ack.response.message, seq: ack.response.message.position });
    }
    const native = await moderator.next((frame) => frame.event === 'consumer_chat_receive' && (frame.data as Data).message.id === messageId, WAIT_MS);
    expect(native).toMatchObject({ seq: ack.response.message.position, data: { message: { text } } });
  });

  it("a private chat: a participant's message reaches the sender and the moderator, not the other sockets", async () => {
    const ack = await v2.emitWithAck('consumer_chat_send', { id: questions, text: 'a private question' });
    const messageId = ack.response.message.id as string;
    expect(ack.response.message.visibility).toBe('restricted');
    await moderator.next((frame) => frame.event === 'consumer_chat_receive' && (frame.data as Data).message.id === messageId, WAIT_MS);
    await v2.log.until(() => receiveOf(v2.log, messageId).length === 1, 'the sender gets its own message', WAIT_MS);
    // The barrier: the moderator's top-level message reaches everyone, after the question.
    const notice = responseOf<{ message: Data }>(await command(moderator, 'consumer_chat_send', { id: questions, text: 'noted' })).message;
    for (const other of [v4, bystander]) {
      await other.log.until(() => receiveOf(other.log, notice.id).length === 1, 'the barrier arrived', WAIT_MS);
      expect(receiveOf(other.log, messageId)).toEqual([]);
      const read = await other.emitWithAck('consumer_chat_activate', { id: questions });
      expect(read.response.messages.map((message: Data) => message.id)).not.toContain(messageId);
    }
  });

  it('a removal reaches every transport as consumer_chat_remove; a refused removal answers Extream\'s 403 as the ack', async () => {
    const ack = await v4.emitWithAck('consumer_chat_send', { id: lobby, text: 'soon gone' });
    const messageId = ack.response.message.id as string;
    const refused = await v2.emitWithAck('consumer_chat_remove', { id: lobby, message: messageId });
    expect(refused).toMatchObject({ status: 403, meta: { permitted: false, reason: 'unauthorized' } });
    expect(await v4.emitWithAck('consumer_chat_remove', { id: lobby, message: messageId })).toMatchObject({ status: 200, response: { removed: true } });
    for (const client of [v2, v4, bystander]) {
      await client.log.until(
        () => client.log.events.some((event) => event.event === 'consumer_chat_remove' && (event.args[0] as Data).message === messageId),
        'the removal pushed',
        WAIT_MS,
      );
    }
  });

  it('bad input over Socket.IO: an oversized message is 413, a banned user 403 locked', async () => {
    expect(await v2.emitWithAck('consumer_chat_send', { id: lobby, text: 'x'.repeat(4097) })).toMatchObject({ status: 413 });
    expect((await command(moderator, 'client_chat_ban', { id: lobby, user: users.bob!.userId })).result.data).toMatchObject({ status: 200 });
    expect(await v4.emitWithAck('consumer_chat_send', { id: lobby, text: 'hello?' })).toMatchObject({ status: 403, meta: { permitted: false, reason: 'locked' } });
  });
});
