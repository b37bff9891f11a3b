import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, responseOf } from '../helpers/extream.js';
import { ask, createUsers, startIdentityGateway, type IdentityGateway } from '../helpers/identity.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * Refusals of the poll topics over a real native socket, each with its stable answer
 * (PROTOCOL.md sections 2 and 8) and nothing appended: who may not run or read a poll, who
 * may not answer, malformed payloads, questions that cannot be asked, limits.
 */

const WAIT_MS = 60_000;
type Data = Record<string, any>;
const UNKNOWN = '00000000-0000-4000-8000-000000000000';
const DATES = { start_date: '2026-06-01T08:00:00Z', end_date: '2026-06-02T20:00:00Z' };

describe('poll topics refuse', { timeout: 180_000 }, () => {
  let server: IdentityGateway;
  const clients: Record<string, TestClient> = {};
  let organisation: string;
  let quiz: string;
  let poll: string;
  let privatePoll: string;
  let chat: string;
  let head: number;

  const result = async (who: string, topic: string, data: unknown): Promise<Data> => {
    const answers = await command(clients[who]!, topic, data, WAIT_MS);
    return { ...(answers.result.data as Data), receipt: answers.receipt };
  };
  const idOf = async (topic: string, data: unknown): Promise<string> => responseOf<{ id: string }>(await command(clients.olga!, topic, data, WAIT_MS)).id;

  beforeAll(async () => {
    server = await startIdentityGateway({ badFrameLimit: '10000', pollMaxQuestions: '3' });
    const seed = await server.gateway.identity.createOrganisation('Seed Org', 'test');
    const users = await createUsers(server, seed, [{ username: 'olga' }, { username: 'vera' }, { username: 'carla' }, { username: 'ada' }]);
    for (const [name, user] of Object.entries(users)) {
      const { token } = await server.gateway.identity.tokens.issue('access', { subject: user.userId, ttlSeconds: 3600, now: server.clock.now() });
      clients[name] = await TestClient.connect(server.wsUrl());
      expect(await ask(clients[name]!, 'authorize', { method: 'oauth2', token })).toMatchObject({ event: 'authorized' });
    }
    clients.anonymous = await TestClient.connect(server.wsUrl());
    organisation = await idOf('admin_organisation_create', { data: { name: 'Poll Org' } });
    const event = await idOf('admin_event_create', { data: { organisation, name: 'Open Day', public: true, ...DATES } });
    const closedEvent = await idOf('admin_event_create', { data: { organisation, name: 'Staff Day', ...DATES } });
    const itinerary = await idOf('admin_itinerary_create', { data: { event, name: 'Day', ...DATES, end_date: '2026-06-01T20:00:00Z' } });
    const staffItinerary = await idOf('admin_itinerary_create', { data: { event: closedEvent, name: 'Day', ...DATES, end_date: '2026-06-01T20:00:00Z' } });
    const questions = [{ question: 'Pick one', order: 0, answers: [{ text: 'A', order: 0, correct: true }, { text: 'B', order: 1 }] }];
    quiz = await idOf('admin_item_create', { data: { itinerary, type: 'poll', name: 'Quiz', configuration: { mode: 'quiz', questions } } });
    poll = await idOf('admin_item_create', { data: { itinerary, type: 'poll', name: 'Poll', configuration: { mode: 'poll', questions } } });
    privatePoll = await idOf('admin_item_create', { data: { itinerary: staffItinerary, type: 'poll', name: 'Staff poll', configuration: { questions } } });
    chat = await idOf('admin_item_create', { data: { itinerary, type: 'chat', name: 'Chat' } });
    // Vera is a member in a group that may view events, not run polls; Carla is the event's crew.
    await command(clients.olga!, 'admin_group_grant', { organisation, group: 'viewers', permissions: ['view_event'] }, WAIT_MS);
    await server.gateway.identity.addToGroup(users.vera!.userId, organisation, 'viewers', 'test');
    await command(clients.olga!, 'admin_event_update', { id: event, data: { user_types: [{ user: users.carla!.userId, user_type: 'crew' }] } }, WAIT_MS);
    await command(clients.olga!, 'client_poll_add', { id: privatePoll, question: 0 }, WAIT_MS);
    await command(clients.olga!, 'client_poll_add', { id: poll, question: 0 }, WAIT_MS);
    head = server.gateway.store.headPosition();
  }, 120_000);

  afterAll(async () => {
    for (const client of Object.values(clients)) client.close();
    await server?.close();
  });

  it('those not signed in: 401 with requiresLogin, before anything is looked up', async () => {
    for (const [topic, data] of [
      ['client_poll_get', { id: quiz }],
      ['client_poll_add', { id: UNKNOWN, question: 0 }],
      ['consumer_poll_answer', { id: poll, question: '0', answer: '0' }],
    ] as const) {
      expect(await result('anonymous', topic, data), topic).toMatchObject({ status: 401, meta: { permitted: false, reason: 'unauthorized', requiresLogin: true }, receipt: undefined });
    }
  });

  it('users without manage_poll: 403 to run a poll; crew and chief may read it, not run it', async () => {
    for (const who of ['vera', 'ada', 'carla']) {
      expect(await result(who, 'client_poll_add', { id: quiz, question: 0 }), who).toMatchObject({ status: 403, meta: { permitted: false, reason: 'unauthorized' } });
    }
    for (const who of ['vera', 'ada']) expect(await result(who, 'client_poll_get', { id: quiz }), who).toMatchObject({ status: 403, meta: { permitted: false } });
    const crew = await result('carla', 'client_poll_get', { id: quiz });
    expect(crew).toMatchObject({ status: 200, response: { item: quiz, mode: 'quiz' } });
    expect(crew.response.questions[0].answers[0]).toMatchObject({ correct: true });
  });

  it('answers on a private event from someone outside its organisation: 403; a member answers', async () => {
    expect(await result('ada', 'consumer_poll_answer', { id: privatePoll, question: '0', answer: '0' })).toMatchObject({ status: 403, meta: { permitted: false } });
    expect(await result('vera', 'consumer_poll_answer', { id: privatePoll, question: '0', answer: '0' })).toMatchObject({ status: 201 });
    head = server.gateway.store.headPosition();
  });

  it('malformed payloads: 400 naming the field', async () => {
    const cases: [string, unknown, string][] = [
      ['client_poll_get', { id: 'not-a-uuid' }, 'id'],
      ['client_poll_get', 'poll please', ''],
      ['client_poll_add', { id: quiz }, 'question'],
      ['client_poll_add', { id: quiz, question: { question: 'Answers as a string', answers: 'A, B' } }, 'question'],
      ['client_poll_add', { id: quiz, question: { question: 'Q', answers: [{ text: 'x'.repeat(501) }] } }, 'question.answers.0.text'],
      ['client_poll_add', { id: quiz, question: { question: 'Q', answers: Array.from({ length: 51 }, (_, index) => ({ text: `A${index}` })) } }, 'question'],
      ['client_poll_add', { id: quiz, close: 'not an id' }, 'close'],
      ['consumer_poll_answer', { id: poll, question: '0' }, 'answer'],
      ['consumer_poll_answer', { id: poll, question: '0', answer: '0', answers: ['1'] }, 'answer'],
      ['consumer_poll_answer', { id: poll, question: '0', answer: { id: '0' } }, 'answer'],
      ['consumer_poll_answer', { id: poll, question: '0', text: 'x'.repeat(1001) }, 'text'],
    ];
    for (const [topic, data, path] of cases) {
      const refused = await result('olga', topic, data);
      expect(refused, `${topic} ${JSON.stringify(data).slice(0, 60)}`).toMatchObject({ status: 400, meta: { permitted: true, message: 'bad_request' }, receipt: undefined });
      expect(refused.response.errors[0].path, `${topic} ${path}`).toBe(path);
    }
  });

  it('items that are unknown or not polls: 404 and 400', async () => {
    for (const topic of ['client_poll_get', 'client_poll_add', 'consumer_poll_answer']) {
      const data = topic === 'client_poll_get' ? { id: UNKNOWN } : topic === 'client_poll_add' ? { id: UNKNOWN, question: 0 } : { id: UNKNOWN, question: '0', answer: '0' };
      expect(await result('olga', topic, data), topic).toMatchObject({ status: 404, meta: { message: 'not_found' } });
      expect(await result('olga', topic, { ...data, id: chat }), topic).toMatchObject({ status: 400, error: `item ${chat} is of type chat, not poll` });
    }
  });

  it('questions that cannot be asked or closed', async () => {
    const cases: [unknown, number, string][] = [
      [{ id: quiz, question: 'nope' }, 404, "the poll's configuration has no question nope"],
      [{ id: poll, question: 0 }, 409, 'this poll asked question 0 already'],
      [{ id: quiz, question: { question: 'No key?', answers: [{ text: 'A' }, { text: 'B' }] } }, 400, 'a quiz question needs a correct answer'],
      [{ id: quiz, question: { question: 'Two keys?', answers: [{ text: 'A', correct: true }, { text: 'B', correct: true }] } }, 400, 'a quiz question with one answer to pick has one correct answer'],
      [{ id: poll, question: { question: 'Free text?' } }, 400, "a question of a poll poll needs answers; only a survey's may be free text"],
      [{ id: poll, question: { question: 'Same ids', answers: [{ id: 'x', text: 'A' }, { id: 'x', text: 'B' }] } }, 400, 'the answers of a question need distinct ids'],
      [{ id: quiz, close: 'nope' }, 404, 'this poll has not asked question nope'],
    ];
    for (const [data, status, message] of cases) {
      expect(await result('olga', 'client_poll_add', data), message).toMatchObject({ status, error: message, receipt: undefined });
    }
    expect(server.gateway.store.headPosition()).toBe(head);
  });

  it('closing twice, and asking past the limit', async () => {
    expect(await result('olga', 'client_poll_add', { id: poll, close: '0' })).toMatchObject({ status: 200, response: { closed: ['0'], opened: null } });
    expect(await result('olga', 'client_poll_add', { id: poll, close: '0' })).toMatchObject({ status: 409, error: 'question 0 is closed already' });
    // Closing every open question when none is: nothing to do, nothing appended, no receipt.
    expect(await result('olga', 'client_poll_add', { id: poll, close: true })).toMatchObject({ status: 200, response: { closed: [] }, receipt: undefined });
    for (const id of ['x1', 'x2']) expect(await result('olga', 'client_poll_add', { id: poll, question: { id, question: id, answers: [{ text: 'A' }] } })).toMatchObject({ status: 201 });
    const before = server.gateway.store.headPosition();
    expect(await result('olga', 'client_poll_add', { id: poll, question: { id: 'x3', question: 'One too many', answers: [{ text: 'A' }] } })).toMatchObject({
      status: 429,
      error: 'a poll asks at most 3 questions',
    });
    expect(server.gateway.store.headPosition()).toBe(before);
  });
});
