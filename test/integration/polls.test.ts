import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, responseOf, type CommandAnswers } from '../helpers/extream.js';
import { ask, createUsers, startIdentityGateway, type IdentityGateway } from '../helpers/identity.js';
import { TestClient, type Frame } from '../helpers/ws-client.js';

/**
 * Poll items over real native sockets (PROTOCOL.md section 8): an organiser runs a quiz,
 * a survey and a timed poll (client_poll_get / client_poll_add); attendees join
 * (consumer_poll_get), answer (consumer_poll_answer) and hear consumer_poll_question and
 * consumer_poll_answer; the organiser hears client_poll_answer. Every frame an attendee got
 * before a quiz question closed is checked for its key. Waits are on conditions; bounds are hang guards.
 */

const WAIT_MS = 60_000;
type Data = Record<string, any>;

const QUIZ = {
  mode: 'quiz',
  show_responses: true,
  questions: [
    { id: 'capital', question: 'Capital of France?', order: 0, answers: [{ text: 'Paris', order: 0, correct: true }, { text: 'Lyon', order: 1 }, { text: 'Nice', order: 2 }] },
    { question: 'Largest planet?', order: 1, answers: [{ id: 'mars', text: 'Mars', order: 0 }, { id: 'jupiter', text: 'Jupiter', order: 1, correct: true }] },
  ],
};

/** A signed-in or anonymous native socket that keeps every frame it was sent, taken off its queue or not. */
async function socket(server: IdentityGateway, token?: string): Promise<{ client: TestClient; seen: Frame[] }> {
  const client = await TestClient.connect(server.wsUrl());
  const seen: Frame[] = [];
  client.socket.on('message', (data) => seen.push(JSON.parse(String(data)) as Frame));
  if (token) expect(await ask(client, 'authorize', { method: 'oauth2', token })).toMatchObject({ event: 'authorized' });
  return { client, seen };
}

const resultOf = (answers: CommandAnswers): Data => answers.result.data as Data;
const isPush = (event: string, match: (data: Data) => boolean = () => true) => (frame: Frame) => frame.event === event && frame.id === undefined && match(frame.data as Data);

describe('poll items over native sockets', { timeout: 180_000 }, () => {
  let server: IdentityGateway;
  let organiser: TestClient;
  let ada: { client: TestClient; seen: Frame[] };
  let ben: { client: TestClient; seen: Frame[] };
  let itinerary: string;
  let quiz: string;

  const idOf = async (topic: string, data: unknown): Promise<string> => responseOf<{ id: string }>(await command(organiser, topic, data, WAIT_MS)).id;
  const pollItem = (name: string, configuration: unknown) => idOf('admin_item_create', { data: { itinerary, type: 'poll', name, configuration } });
  const answer = (who: TestClient, data: Data) => command(who, 'consumer_poll_answer', data, WAIT_MS);

  beforeAll(async () => {
    server = await startIdentityGateway({ badFrameLimit: '10000', pollFreeTextMaxLength: '40' });
    const seed = await server.gateway.identity.createOrganisation('Seed Org', 'test');
    const users = await createUsers(server, seed, [{ username: 'olga' }, { username: 'ada' }, { username: 'ben' }]);
    const token = async (name: string) => (await server.gateway.identity.tokens.issue('access', { subject: users[name]!.userId, ttlSeconds: 3600, now: server.clock.now() })).token;
    organiser = (await socket(server, await token('olga'))).client;
    const organisation = await idOf('admin_organisation_create', { data: { name: 'Quiz Org' } });
    const event = await idOf('admin_event_create', { data: { organisation, name: 'Quiz Night', public: true, start_date: '2026-06-01T08:00:00Z', end_date: '2026-06-02T20:00:00Z' } });
    itinerary = await idOf('admin_itinerary_create', { data: { event, name: 'Evening', start_date: '2026-06-01T08:00:00Z', end_date: '2026-06-01T20:00:00Z' } });
    quiz = await pollItem('Pub quiz', QUIZ);
    ada = await socket(server, await token('ada'));
    ben = await socket(server, await token('ben'));
  }, 120_000);

  afterAll(async () => {
    for (const client of [organiser, ada?.client, ben?.client]) client?.close();
    await server?.close();
  });

  it('runs a quiz: open, answer once, live results without the key, close with the reveal, scores', async () => {
    // The audience joins: the configured questions without keys, nothing live yet.
    for (const attendee of [ada, ben]) {
      const join = responseOf<Data>(await command(attendee.client, 'consumer_poll_get', { id: quiz }, WAIT_MS)).join;
      expect(join).toMatchObject({ mode: 'quiz', show_responses: true, live: [], closed: [], answered: {}, results: {}, score: { answered: 0, correct: 0, points: 0 } });
      expect(join.questions[0].answers[0]).toEqual({ text: 'Paris', order: 0 });
    }
    // The organiser reads the poll with its keys, and from now on hears each answer.
    const view = responseOf<Data>(await command(organiser, 'client_poll_get', { id: quiz }, WAIT_MS));
    expect(view.questions.map((question: Data) => question.id)).toEqual(['capital', '1']);
    expect(view.questions[0].answers[0]).toEqual({ id: '0', text: 'Paris', order: 0, correct: true });

    const opened = await command(organiser, 'client_poll_add', { id: quiz, question: 'capital' }, WAIT_MS);
    expect(opened.receipt?.data).toEqual({ status: 202, topic: 'ex-poll', messageId: server.gateway.store.headPosition() });
    expect(resultOf(opened)).toMatchObject({ status: 201, domain: 'client', action: 'poll', command: 'add', response: { item: quiz, closed: [], opened: { id: 'capital', status: 'open' } } });
    expect(resultOf(opened).response.opened.answers[0]).toMatchObject({ id: '0', correct: true });
    for (const attendee of [ada, ben]) {
      const push = await attendee.client.next(isPush('consumer_poll_question'), WAIT_MS);
      expect(push.data).toMatchObject({ id: quiz, question: { id: 'capital', question: 'Capital of France?', status: 'open', answers: [{ id: '0', text: 'Paris' }, { id: '1' }, { id: '2' }] } });
    }

    const adaAnswer = await answer(ada.client, { id: quiz, question: 'capital', answer: 0 });
    expect(adaAnswer.receipt?.data).toMatchObject({ status: 202, topic: 'ex-poll' });
    expect(resultOf(adaAnswer)).toMatchObject({ status: 201, response: { item: quiz, question: 'capital', answers: ['0'] } });
    expect(resultOf(await answer(ben.client, { id: quiz, question: 'capital', answer: '2' }))).toMatchObject({ status: 201 });
    // One answer per person per question.
    const again = await answer(ada.client, { id: quiz, question: 'capital', answer: '1' });
    expect(again.receipt).toBeUndefined();
    expect(resultOf(again)).toMatchObject({ status: 409, meta: { permitted: true, message: 'conflict' }, response: { errors: [{ path: 'question', message: 'you answered this question already' }] } });

    // The organiser hears both answers with their scores; the audience the live counts.
    const heard = [await organiser.next(isPush('client_poll_answer'), WAIT_MS), await organiser.next(isPush('client_poll_answer'), WAIT_MS)];
    expect(heard.map((frame) => frame.data)).toEqual([
      expect.objectContaining({ id: quiz, question: 'capital', user: expect.objectContaining({ username: 'ada' }), answers: ['0'], correct: true, points: 1000 }),
      expect.objectContaining({ question: 'capital', user: expect.objectContaining({ username: 'ben' }), answers: ['2'], correct: false, points: 0 }),
    ]);
    // Both attendees have the live count of both answers before what they were sent is counted below.
    for (const attendee of [ada, ben]) await attendee.client.next(isPush('consumer_poll_answer', (data) => data.responses === 2), WAIT_MS);
    const live = responseOf<Data>(await command(ada.client, 'consumer_poll_get', { id: quiz }, WAIT_MS)).join;
    expect(live).toMatchObject({ live: [{ id: 'capital', status: 'open' }], answered: { capital: { answers: ['0'] } }, results: { capital: { responses: 2 } }, score: { correct: 0 } });
    expect(live.answered.capital.correct).toBeUndefined();

    // Nothing the audience was sent so far names the key: joins, pushes, results, answers.
    for (const attendee of [ada, ben]) {
      expect(attendee.seen.filter((frame) => frame.event.startsWith('consumer_poll_')).length).toBeGreaterThan(5);
      expect(JSON.stringify(attendee.seen)).not.toMatch(/correct"\s*:\s*(true|\[)/);
    }

    // Next question: close this one and open the configuration's second (by its index) in one command.
    const next = await command(organiser, 'client_poll_add', { id: quiz, close: 'capital', question: 1 }, WAIT_MS);
    expect(resultOf(next).response).toMatchObject({ closed: ['capital'], opened: { id: '1', question: 'Largest planet?' } });
    const reveal = await ada.client.next(isPush('consumer_poll_question', (data) => data.question.status === 'closed'), WAIT_MS);
    expect(reveal.data).toMatchObject({ question: { id: 'capital', correct: ['0'] } });
    const final = await ada.client.next(isPush('consumer_poll_answer', (data) => data.closed === true), WAIT_MS);
    expect(final.data).toMatchObject({ id: quiz, question: 'capital', responses: 2, correct: ['0'], answers: [{ id: '0', count: 1 }, { id: '1', count: 0 }, { id: '2', count: 1 }] });
    await ada.client.next(isPush('consumer_poll_question', (data) => data.question.id === '1'), WAIT_MS);

    const after = responseOf<Data>(await command(ada.client, 'consumer_poll_get', { id: quiz }, WAIT_MS)).join;
    expect(after).toMatchObject({ live: [{ id: '1' }], closed: [{ id: 'capital', correct: ['0'] }], answered: { capital: { correct: true, points: 1000 } }, score: { answered: 1, correct: 1, points: 1000 } });
    expect(after.live[0].answers).toEqual([{ id: 'mars', text: 'Mars', order: 0 }, { id: 'jupiter', text: 'Jupiter', order: 1 }]);
    const scores = responseOf<Data>(await command(organiser, 'client_poll_get', { id: quiz }, WAIT_MS)).scores;
    expect(scores).toEqual([
      { user: expect.objectContaining({ username: 'ada' }), answered: 1, correct: 1, points: 1000 },
      { user: expect.objectContaining({ username: 'ben' }), answered: 1, correct: 0, points: 0 },
    ]);
  });

  it('refuses answers to closed, unknown or unasked questions and answers not among its own', async () => {
    const head = server.gateway.store.headPosition();
    const cases: [Data, number, string][] = [
      [{ id: quiz, question: 'capital', answer: '1' }, 409, 'this question is closed'],
      [{ id: quiz, question: 'nope', answer: '1' }, 404, 'this poll has not asked question nope'],
      [{ id: quiz, question: '1', answer: 'saturn' }, 400, "saturn is not one of this question's answers"],
      [{ id: quiz, question: '1', answers: ['mars', 'jupiter'] }, 400, 'this question takes one answer'],
      [{ id: quiz, question: '1', text: 'Jupiter' }, 400, 'this question is answered with one of its answers, not with text'],
    ];
    for (const [data, status, message] of cases) {
      const refused = await answer(ben.client, data);
      expect(refused.receipt, message).toBeUndefined();
      expect(resultOf(refused), message).toMatchObject({ status, error: message });
    }
    expect(server.gateway.store.headPosition()).toBe(head);
  });

  it('a survey takes free text, bounded, and shows nobody else the answers', async () => {
    const survey = await pollItem('Feedback', { mode: 'survey', show_responses: true });
    await command(ben.client, 'consumer_poll_get', { id: survey }, WAIT_MS);
    await command(organiser, 'client_poll_get', { id: survey }, WAIT_MS);
    const opened = responseOf<Data>(await command(organiser, 'client_poll_add', { id: survey, question: { id: 'ideas', question: 'What should we change?' } }, WAIT_MS));
    expect(opened.opened).toMatchObject({ id: 'ideas', free_text: true, answers: [] });
    await ben.client.next(isPush('consumer_poll_question', (data) => data.id === survey), WAIT_MS);

    expect(resultOf(await answer(ada.client, { id: survey, question: 'ideas', text: 'Longer breaks' }))).toMatchObject({ status: 201, response: { text: 'Longer breaks' } });
    const long = await answer(ada.client, { id: survey, question: 'ideas', text: 'x'.repeat(41) });
    expect(resultOf(long)).toMatchObject({ status: 400, response: { errors: [{ path: 'text' }] } });
    expect(resultOf(await answer(ben.client, { id: survey, question: 'ideas', answer: '0' }))).toMatchObject({ status: 400, error: 'this question is answered with text' });

    const heard = await organiser.next(isPush('client_poll_answer', (data) => data.id === survey), WAIT_MS);
    expect(heard.data).toMatchObject({ question: 'ideas', text: 'Longer breaks', user: { username: 'ada' } });
    const view = responseOf<Data>(await command(organiser, 'client_poll_get', { id: survey }, WAIT_MS));
    expect(view.asked[0]).toMatchObject({ id: 'ideas', results: { responses: 1 }, texts: [{ text: 'Longer breaks', user: { username: 'ada' } }] });
    const join = responseOf<Data>(await command(ben.client, 'consumer_poll_get', { id: survey }, WAIT_MS)).join;
    expect(join.results).toBeUndefined();
    expect(JSON.stringify(ben.seen)).not.toContain('Longer breaks');
  });

  it('a timed poll closes its question when the time is up, from the scheduler', async () => {
    const timed = await pollItem('Lightning round', { mode: 'timed', show_responses: false, questions: [{ question: 'Ready?', order: 0, time: 1, answers: [{ text: 'Yes', order: 0 }] }] });
    await command(ben.client, 'consumer_poll_get', { id: timed }, WAIT_MS);
    const opened = responseOf<Data>(await command(organiser, 'client_poll_add', { id: timed, question: 0 }, WAIT_MS)).opened;
    expect(opened).toMatchObject({ id: '0', time: 1, status: 'open', closes_at: new Date(server.clock.now() + 1000).toISOString() });
    expect(resultOf(await answer(ben.client, { id: timed, question: '0', answer: '0' }))).toMatchObject({ status: 201 });
    const closed = await ben.client.next(isPush('consumer_poll_question', (data) => data.id === timed && data.question.status === 'closed'), WAIT_MS);
    expect((closed.data as Data).question).toMatchObject({ id: '0', closed_at: expect.any(String) });
    expect(server.events('PollQuestionClosed', (event) => (event.data as Data).itemId === timed)).toMatchObject([{ data: { reason: 'time' } }]);
    expect(resultOf(await answer(ada.client, { id: timed, question: '0', answer: '0' }))).toMatchObject({ status: 409, error: 'this question is closed' });
  });
});
