import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { Gateway } from '../../src/app/gateway.js';
import { replay } from '../../src/cli/replay.js';
import { createLogger } from '../../src/edge/logger.js';
import { pollsProjection } from '../../src/modules/polls/index.js';
import { command, responseOf } from '../helpers/extream.js';
import { ask, SteerableClock } from '../helpers/identity.js';
import { until } from '../helpers/conditions.js';
import { TestClient } from '../helpers/ws-client.js';

/**
 * Polls across a restart on the same data directory: answers, results and scores come back
 * from the log; one answer per person still holds; a timed question whose time ran out while
 * the gateway was down closes once it is back (its timer is re-armed from the read model); and
 * `replay` rebuilds the polls read model equal to the live one. The clock is the test's, so
 * "the time ran out meanwhile" is a step of the clock, not a wait.
 */

const WAIT_MS = 60_000;
type Data = Record<string, any>;

describe('polls survive a restart', { timeout: 180_000 }, () => {
  const clock = new SteerableClock(Date.UTC(2026, 5, 1, 12, 0));
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-polls-'));
  let gateway: Gateway;
  const tokens: Record<string, string> = {};
  let quiz: string;
  let beforeView: Data;
  let beforeJoin: Data;

  const start = async () => {
    const config = loadConfig({ flags: { port: '0', data: dataDir }, env: { SWITCHYARD_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' } });
    gateway = await Gateway.start({ config, logger: createLogger(config.logLevel), clock });
  };
  const signedIn = async (name: string): Promise<TestClient> => {
    const client = await TestClient.connect(`ws://127.0.0.1:${gateway.port}/ws`);
    expect(await ask(client, 'authorize', { method: 'oauth2', token: tokens[name] })).toMatchObject({ event: 'authorized' });
    return client;
  };
  const tokenFor = async (userId: string) => (await gateway.identity.tokens.issue('access', { subject: userId, ttlSeconds: 86_400, now: clock.now() })).token;
  const resultOf = async (client: TestClient, topic: string, data: unknown): Promise<Data> => (await command(client, topic, data, WAIT_MS)).result.data as Data;

  beforeAll(async () => {
    await start();
    const seed = await gateway.identity.createOrganisation('Seed Org', 'test');
    for (const name of ['olga', 'ada', 'ben']) {
      tokens[name] = await tokenFor(await gateway.identity.addUser({ organisation: seed, username: name, password: `pw-${name}-correct-horse`, groups: [], by: 'test' }));
    }
    const olga = await signedIn('olga');
    const idOf = async (topic: string, data: unknown) => responseOf<{ id: string }>(await command(olga, topic, data, WAIT_MS)).id;
    const organisation = await idOf('admin_organisation_create', { data: { name: 'Restart Org' } });
    const dates = { start_date: '2026-06-01T08:00:00Z', end_date: '2026-06-01T20:00:00Z' };
    const event = await idOf('admin_event_create', { data: { organisation, name: 'Restart Night', public: true, ...dates } });
    const itinerary = await idOf('admin_itinerary_create', { data: { event, name: 'Evening', ...dates } });
    const questions = [
      { id: 'first', question: 'First?', order: 0, answers: [{ text: 'Right', order: 0, correct: true }, { text: 'Wrong', order: 1 }] },
      { id: 'timed', question: 'Quick!', order: 1, time: 60, answers: [{ text: 'Right', order: 0, correct: true }, { text: 'Wrong', order: 1 }] },
    ];
    quiz = await idOf('admin_item_create', { data: { itinerary, type: 'poll', name: 'Quiz', configuration: { mode: 'quiz', show_responses: true, questions } } });
    const [ada, ben] = [await signedIn('ada'), await signedIn('ben')];
    await idOf('client_poll_add', { id: quiz, question: 'first' });
    expect(await resultOf(ada, 'consumer_poll_answer', { id: quiz, question: 'first', answer: '0' })).toMatchObject({ status: 201 });
    expect(await resultOf(ben, 'consumer_poll_answer', { id: quiz, question: 'first', answer: '1' })).toMatchObject({ status: 201 });
    expect(responseOf<Data>(await command(olga, 'client_poll_add', { id: quiz, close: 'first', question: 'timed' }, WAIT_MS)).opened).toMatchObject({ id: 'timed', time: 60 });
    expect(await resultOf(ada, 'consumer_poll_answer', { id: quiz, question: 'timed', answer: '0' })).toMatchObject({ status: 201 });
    beforeView = responseOf<Data>(await command(olga, 'client_poll_get', { id: quiz }, WAIT_MS));
    beforeJoin = responseOf<Data>(await command(ada, 'consumer_poll_get', { id: quiz }, WAIT_MS)).join;
    for (const client of [olga, ada, ben]) client.close();
    await gateway.stop();
    // Two minutes pass while the gateway is down: the timed question's minute is up.
    clock.advance(120_000);
    await start();
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('closes the timed question whose time ran out while the gateway was down', async () => {
    // The re-armed timer fires at once; its close is a command like any other, so wait for the log.
    const closes = () => gateway.store.readAll({ type: 'PollQuestionClosed' }).map((event) => event.data as Data);
    await until(() => closes().length === 2, 'the timed question closed after the restart');
    const olga = await signedIn('olga');
    expect(responseOf<Data>(await command(olga, 'client_poll_get', { id: quiz }, WAIT_MS)).live).toEqual([]);
    expect(closes()).toEqual([
      expect.objectContaining({ questionId: 'first', reason: 'operator' }),
      expect.objectContaining({ questionId: 'timed', reason: 'time', closedAt: clock.now() }),
    ]);
    olga.close();
  });

  it('keeps answers, results and scores; one answer per person still holds', async () => {
    const [olga, ada, ben] = [await signedIn('olga'), await signedIn('ada'), await signedIn('ben')];
    const view = responseOf<Data>(await command(olga, 'client_poll_get', { id: quiz }, WAIT_MS));
    expect(view.asked.map((question: Data) => question.results)).toEqual([
      beforeView.asked[0].results,
      { ...beforeView.asked[1].results, closed: true, correct: ['0'] },
    ]);
    expect(view.scores).toEqual([
      { user: expect.objectContaining({ username: 'ada' }), answered: 2, correct: 2, points: expect.any(Number) },
      { user: expect.objectContaining({ username: 'ben' }), answered: 1, correct: 0, points: 0 },
    ]);
    const join = responseOf<Data>(await command(ada, 'consumer_poll_get', { id: quiz }, WAIT_MS)).join;
    expect(Object.keys(join.answered)).toEqual(Object.keys(beforeJoin.answered));
    expect(join.answered.first).toEqual(beforeJoin.answered.first);
    expect(join.score).toMatchObject({ answered: 2, correct: 2 });
    expect(await resultOf(ben, 'consumer_poll_answer', { id: quiz, question: 'first', answer: '0' })).toMatchObject({ status: 409 });
    expect(await resultOf(ben, 'consumer_poll_answer', { id: quiz, question: 'timed', answer: '0' })).toMatchObject({ status: 409, error: 'this question is closed' });
    for (const client of [olga, ada, ben]) client.close();
  });

  it('replay rebuilds the polls read model equal to the live one', () => {
    const report = replay({ dataDir, projections: [pollsProjection] });
    expect(report.tables.map((table) => table.table)).toEqual(['poll_questions', 'poll_answers', 'poll_results', 'poll_scores']);
    expect(report.tables.every((table) => table.liveRows > 0)).toBe(true);
    expect(report.equal, JSON.stringify(report.tables)).toBe(true);
  });
});
