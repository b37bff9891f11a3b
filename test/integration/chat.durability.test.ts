import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { Gateway } from '../../src/app/gateway.js';
import { replay } from '../../src/cli/replay.js';
import { DISCONNECT } from '../../src/core/index.js';
import { createLogger } from '../../src/edge/logger.js';
import { chatProjection } from '../../src/modules/chat/index.js';
import { command, responseOf, type CommandAnswers } from '../helpers/extream.js';
import { ask, createUsers, SteerableClock, type TestUser } from '../helpers/identity.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * What outlives a socket and a process (PROTOCOL.md section 8): floods refused per sender and,
 * kept up, closing the socket with the rate-limit code; history and bans surviving a restart
 * on the same data directory; and `replay` rebuilding the chat read model equal to the live
 * one. The gateway's clock is the test's and stands still unless moved, so the token buckets
 * are decided at times the test chose.
 */

type Data = Record<string, any>;
const dataOf = (answers: CommandAnswers): Data => answers.result.data as Data;

describe('chat: floods, restart, replay', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-chat-'));
  const clock = new SteerableClock();
  let gateway: Gateway;
  let users: Record<string, TestUser>;
  let itemId: string;
  let moderatorToken: string;
  const sockets: TestClient[] = [];

  const start = async () => {
    const env = { SWITCHYARD_LOG_LEVEL: 'silent', SWITCHYARD_CHAT_MESSAGE_BURST: '3', SWITCHYARD_CHAT_MESSAGES_PER_SECOND: '5', SWITCHYARD_CHAT_RATE_LIMIT_STRIKES: '4' };
    const config = loadConfig({ flags: { port: '0', data: dir }, env });
    gateway = await Gateway.start({ config, logger: createLogger(config.logLevel), clock });
  };
  const signedIn = async (name: string): Promise<TestClient> => {
    const socket = await TestClient.connect(`ws://127.0.0.1:${gateway.port}/ws`);
    sockets.push(socket);
    const { token } = await gateway.identity.tokens.issue('access', { subject: users[name]!.userId, ttlSeconds: 3600, now: clock.now() });
    expect(await ask(socket, 'authorize', { method: 'oauth2', token })).toMatchObject({ event: 'authorized' });
    return socket;
  };
  const send = (socket: TestClient, text: string) => command(socket, 'consumer_chat_send', { id: itemId, text });
  const chatMessages = () => gateway.store.readAll({ type: 'ChatMessagePosted' });

  beforeAll(async () => {
    await start();
    const seed = await gateway.identity.createOrganisation('Seed Org', 'test');
    const server = { gateway, port: gateway.port, dataDir: dir, url: () => '', wsUrl: () => '', close: async () => undefined };
    users = await createUsers(server, seed, ['olga', 'ada', 'bob'].map((username) => ({ username })));
    const olga = await signedIn('olga');
    moderatorToken = (await gateway.identity.tokens.issue('access', { subject: users.olga!.userId, ttlSeconds: 3600, now: clock.now() })).token;
    const organisation = responseOf<{ id: string }>(await command(olga, 'admin_organisation_create', { data: { name: 'Durable Org' } })).id;
    const dates = { start_date: '2030-06-01T08:00:00Z', end_date: '2030-06-02T20:00:00Z' };
    const event = responseOf<{ id: string }>(await command(olga, 'admin_event_create', { data: { organisation, name: 'Long Day', public: true, ...dates } })).id;
    const itinerary = responseOf<{ id: string }>(await command(olga, 'admin_itinerary_create', { data: { event, name: 'Day', ...dates } })).id;
    itemId = responseOf<{ id: string }>(await command(olga, 'admin_item_create', { data: { itinerary, type: 'chat', name: 'Hall', configuration: { private: true, threads: true } } })).id;
  }, 120_000);

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await gateway?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a flood: the burst is taken, then RATE_LIMITED (nothing appended) for every socket of that sender; kept up, the socket is closed with 4029', async () => {
    const ada = await signedIn('ada');
    const adaAgain = await signedIn('ada');
    const bob = await signedIn('bob');
    const before = chatMessages().length;
    for (let index = 0; index < 3; index++) expect(dataOf(await send(ada, `burst ${index}`))).toMatchObject({ status: 201 });
    const limited = await send(ada, 'one too many');
    expect(dataOf(limited)).toMatchObject({ status: 429, meta: { permitted: true, message: 'rate_limited' } });
    expect(dataOf(await send(adaAgain, 'from my phone'))).toMatchObject({ status: 429 });
    // Another sender has its own bucket.
    expect(dataOf(await send(bob, 'hi'))).toMatchObject({ status: 201 });
    expect(chatMessages()).toHaveLength(before + 4);
    // Strikes 2 and 3 answer; the 4th within 10 s closes the socket (the answer goes nowhere).
    for (let strike = 2; strike <= 3; strike++) expect(dataOf(await send(ada, `again ${strike}`))).toMatchObject({ status: 429 });
    ada.sendJson({ event: 'consumer_chat_send', data: { id: itemId, text: 'and again' }, id: 1 });
    expect(await ada.waitClosed(60_000)).toEqual({ code: DISCONNECT.rateLimited.code, reason: 'chat rate limit exceeded' });
    expect(adaAgain.closed).toBeUndefined();
    // A second later the bucket has refilled.
    clock.advance(1000);
    expect(dataOf(await send(adaAgain, 'calm now'))).toMatchObject({ status: 201 });
    expect(chatMessages()).toHaveLength(before + 5);
  });

  it('a restart on the same data keeps the history (with who may read it) and the bans', async () => {
    clock.advance(10_000);
    const olga = await signedIn('olga');
    const ada = await signedIn('ada');
    const question = responseOf<{ message: Data }>(await send(ada, 'private question <script>1</script>')).message;
    const answer = responseOf<{ message: Data }>(await command(olga, 'consumer_chat_send', { id: itemId, text: 'private answer', parent: question.id })).message;
    expect(dataOf(await command(olga, 'client_chat_ban', { id: itemId, user: users.bob!.userId, seconds: 86_400 }))).toMatchObject({ status: 200 });
    const before = responseOf<Data>(await command(olga, 'client_chat_get', { id: itemId }));

    for (const socket of sockets) socket.close();
    sockets.length = 0;
    await gateway.stop();
    await start();

    const bob = await signedIn('bob');
    const refused = await send(bob, 'am I back?');
    expect(dataOf(refused)).toMatchObject({ status: 403, meta: { permitted: false, reason: 'locked' } });
    const moderator = await TestClient.connect(`ws://127.0.0.1:${gateway.port}/ws`);
    sockets.push(moderator);
    expect(await ask(moderator, 'authorize', { method: 'oauth2', token: moderatorToken })).toMatchObject({ event: 'authorized' });
    const after = responseOf<Data>(await command(moderator, 'client_chat_get', { id: itemId }));
    expect(after.messages).toEqual(before.messages);
    expect(after.bans).toEqual(before.bans);
    expect(after.bans).toMatchObject([{ user: users.bob!.userId }]);
    // bob reads neither the question nor its answer; ada reads both.
    const bobSees = responseOf<Data>(await command(bob, 'consumer_chat_activate', { id: itemId })).messages.map((message: Data) => message.id);
    expect(bobSees).not.toContain(question.id);
    expect(bobSees).not.toContain(answer.id);
    const ada2 = await signedIn('ada');
    const adaSees = responseOf<Data>(await command(ada2, 'consumer_chat_activate', { id: itemId })).messages;
    expect(adaSees.filter((message: Data) => message.id === question.id || message.id === answer.id).map((message: Data) => message.text)).toEqual([
      'private question <script>1</script>',
      'private answer',
    ]);
  });

  it("replay rebuilds the chat read model equal to the live one", () => {
    const report = replay({ dataDir: dir, projections: [chatProjection] });
    expect(report.equal, JSON.stringify(report.tables)).toBe(true);
    const rows = Object.fromEntries(report.tables.map((table) => [table.table, table.liveRows]));
    expect(rows.chat_messages).toBeGreaterThan(5);
    expect(rows.chat_instances).toBe(1);
    expect(rows.chat_bans).toBe(1);
  });
});
