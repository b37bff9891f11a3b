import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, responseOf } from '../helpers/extream.js';
import { ask, createUsers, startIdentityGateway, type IdentityGateway } from '../helpers/identity.js';
import { connectV2, connectV4, emitWithAckV2, type EventLog, type ReceivedEvent } from '../helpers/socketio.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * A quiz answered from socket.io-client 4.x (token in CONNECT `auth`, and one in `x-auth`)
 * and 2.x (token in `x-auth`, as Extream's SDK sends it), run by an organiser on a native
 * socket: the join, the pushes (consumer_poll_question, consumer_poll_answer) on each, the
 * answer's ack and its refusal, the reveal at the close. Bounds are hang guards.
 */

const WAIT_MS = 60_000;
type Data = Record<string, any>;

interface Attendee {
  name: string;
  log: EventLog;
  emitWithAck(event: string, data: unknown): Promise<Data>;
  close(): void;
}

const dataOf = (event: ReceivedEvent): Data => event.args[0] as Data;
/** A push of that name: pushes carry no `status`, the command's answers on the same name always do. */
const push = (name: string, match: (data: Data) => boolean = () => true) => (event: ReceivedEvent) => event.event === name && dataOf(event).status === undefined && match(dataOf(event));

describe('polls over Socket.IO 2.x and 4.x', { timeout: 180_000 }, () => {
  let server: IdentityGateway;
  let organiser: TestClient;
  let quiz: string;
  let attendees: Attendee[];

  beforeAll(async () => {
    server = await startIdentityGateway({ badFrameLimit: '10000', pollResultsPushMs: '0' });
    const seed = await server.gateway.identity.createOrganisation('Seed Org', 'test');
    const users = await createUsers(server, seed, [{ username: 'olga' }, { username: 'ada' }, { username: 'ben' }, { username: 'cleo' }]);
    const token = async (name: string) => (await server.gateway.identity.tokens.issue('access', { subject: users[name]!.userId, ttlSeconds: 3600, now: server.clock.now() })).token;
    organiser = await TestClient.connect(server.wsUrl());
    expect(await ask(organiser, 'authorize', { method: 'oauth2', token: await token('olga') })).toMatchObject({ event: 'authorized' });
    const idOf = async (topic: string, data: unknown) => responseOf<{ id: string }>(await command(organiser, topic, data, WAIT_MS)).id;
    const organisation = await idOf('admin_organisation_create', { data: { name: 'Socket Quiz' } });
    const dates = { start_date: '2026-06-01T08:00:00Z', end_date: '2026-06-01T20:00:00Z' };
    const event = await idOf('admin_event_create', { data: { organisation, name: 'Quiz', public: true, ...dates } });
    const itinerary = await idOf('admin_itinerary_create', { data: { event, name: 'Round one', ...dates } });
    const questions = [{ id: 'q', question: 'Two plus two?', order: 0, answers: [{ id: 'three', text: '3', order: 0 }, { id: 'four', text: '4', order: 1, correct: true }] }];
    quiz = await idOf('admin_item_create', { data: { itinerary, type: 'poll', name: 'Quiz', configuration: { mode: 'quiz', show_responses: true, questions } } });

    const v4 = async (name: string, via: 'auth' | 'x-auth'): Promise<Attendee> => {
      const secret = await token(name);
      const client = await connectV4(server.port, via === 'auth' ? { auth: { token: secret } } : { query: { 'x-auth': secret } });
      await client.log.next('authorized', WAIT_MS);
      return { name: `4.x ${name} (${via})`, log: client.log, emitWithAck: async (topic, data) => (await client.socket.timeout(WAIT_MS).emitWithAck(topic, data)) as Data, close: () => void client.socket.close() };
    };
    const v2 = async (name: string): Promise<Attendee> => {
      const client = await connectV2(server.port, { query: { 'x-auth': await token(name) } });
      await client.log.next('authorized', WAIT_MS);
      return { name: `2.x ${name} (x-auth)`, log: client.log, emitWithAck: async (topic, data) => (await emitWithAckV2(client.socket, topic, data)) as Data, close: () => void client.socket.close() };
    };
    attendees = [await v4('ada', 'auth'), await v4('cleo', 'x-auth'), await v2('ben')];
  }, 120_000);

  afterAll(async () => {
    for (const attendee of attendees ?? []) attendee.close();
    organiser?.close();
    await server?.close();
  });

  it('each joins, hears the question without its key, answers once and hears the results', async () => {
    for (const attendee of attendees) {
      const joined = await attendee.emitWithAck('consumer_poll_get', { id: quiz });
      expect(joined, attendee.name).toMatchObject({ status: 200, response: { join: { mode: 'quiz', live: [], answered: {}, score: { points: 0 } } } });
    }
    await command(organiser, 'client_poll_add', { id: quiz, question: 'q' }, WAIT_MS);
    for (const attendee of attendees) {
      const opened = dataOf(await attendee.log.next(push('consumer_poll_question'), WAIT_MS));
      expect(opened, attendee.name).toMatchObject({ id: quiz, question: { id: 'q', status: 'open', answers: [{ id: 'three', text: '3' }, { id: 'four', text: '4' }] } });
      expect(JSON.stringify(opened), attendee.name).not.toContain('correct');
    }
    const choices = ['four', 'four', 'three'];
    for (const [index, attendee] of attendees.entries()) {
      const answered = await attendee.emitWithAck('consumer_poll_answer', { id: quiz, question: 'q', answer: choices[index] });
      expect(answered, attendee.name).toMatchObject({ status: 201, domain: 'consumer', action: 'poll', command: 'answer', response: { question: 'q', answers: [choices[index]] } });
    }
    for (const attendee of attendees) {
      const results = dataOf(await attendee.log.next(push('consumer_poll_answer', (data) => data.responses === 3), WAIT_MS));
      expect(results, attendee.name).toMatchObject({ id: quiz, question: 'q', closed: false, answers: [{ id: 'three', count: 1 }, { id: 'four', count: 2 }] });
      expect(results.correct, attendee.name).toBeUndefined();
    }
  });

  it('a second answer is refused 409 on the ack; the close reveals the key to everyone', async () => {
    const [, , ben] = attendees;
    expect(await ben!.emitWithAck('consumer_poll_answer', { id: quiz, question: 'q', answer: 'four' })).toMatchObject({
      status: 409,
      error: 'you answered this question already',
      meta: { permitted: true, message: 'conflict' },
    });
    await command(organiser, 'client_poll_add', { id: quiz, close: true }, WAIT_MS);
    for (const attendee of attendees) {
      const closed = dataOf(await attendee.log.next(push('consumer_poll_question', (data) => data.question.status === 'closed'), WAIT_MS));
      expect(closed.question, attendee.name).toMatchObject({ id: 'q', correct: ['four'] });
      const final = dataOf(await attendee.log.next(push('consumer_poll_answer', (data) => data.closed === true), WAIT_MS));
      expect(final, attendee.name).toMatchObject({ responses: 3, correct: ['four'] });
    }
    const [ada] = attendees;
    expect(await ada!.emitWithAck('consumer_poll_get', { id: quiz })).toMatchObject({ response: { join: { score: { answered: 1, correct: 1, points: 1000 }, answered: { q: { correct: true } } } } });
    expect(await ben!.emitWithAck('consumer_poll_get', { id: quiz })).toMatchObject({ response: { join: { score: { answered: 1, correct: 0, points: 0 } } } });
  });
});
