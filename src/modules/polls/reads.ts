import { formatExtreamDateTime } from '../../protocol/topics/extream.js';
import type { PollDirectory } from './projection.js';
import type { PollItem } from './service.js';
import { configuredQuestion, operatorQuestion, ownAnswer, publicQuestion, resultsOf, scoreView, type Answerer } from './views.js';

type JsonObject = Record<string, unknown>;

/** Free-text answers client_poll_get lists per question, newest first (client_poll_answer pushes every one live). */
export const TEXTS_PER_QUESTION = 100;
/** Scores client_poll_get lists, best first. */
export const SCORES_LISTED = 100;

export interface PollReadDependencies {
  directory: PollDirectory;
  answerer(userKey: string): Answerer;
}

/**
 * What the poll's two kinds of reader get from the read model: its operators everything
 * (client_poll_get), the audience what it may see (the item join, `consumer_poll_get`).
 */
export class PollReads {
  constructor(private readonly deps: PollReadDependencies) {}

  /** client_poll_get: every question with its key, what is live, each asked question's results, the scores. */
  operatorView(poll: PollItem): JsonObject {
    const { directory } = this.deps;
    const itemId = poll.item.itemId;
    const asked = directory.asked(itemId);
    const askedIds = new Set(asked.map((record) => record.question.questionId));
    const counts = directory.countsOfPoll(itemId);
    return {
      item: itemId,
      mode: poll.mode,
      show_responses: poll.showResponses,
      questions: poll.configured.map((question) => configuredQuestion(question, askedIds.has(question.questionId))),
      live: asked.filter((record) => record.status === 'open').map(operatorQuestion),
      asked: asked.map((record) => {
        const questionId = record.question.questionId;
        const texts = record.question.freeText
          ? directory.texts(itemId, questionId, TEXTS_PER_QUESTION).map((answer) => ({ user: this.deps.answerer(answer.userKey), text: answer.text, answered_at: formatExtreamDateTime(answer.answeredAt) }))
          : undefined;
        return { ...operatorQuestion(record), results: resultsOf(record, counts.get(questionId) ?? new Map(), record.responses), ...(texts ? { texts } : {}) };
      }),
      ...(poll.mode === 'quiz' ? { scores: directory.topScores(itemId, SCORES_LISTED).map((score) => ({ user: this.deps.answerer(score.userKey), ...scoreView(score) })) } : {}),
    };
  }

  /**
   * What the item join adds for the audience: the open questions (`live`), the closed ones, the
   * caller's own answers (`answered`, by question id), the results when the poll shows
   * responses (never a survey's), and a quiz's score over its closed questions. No key of an
   * open question is in any of them. `userKey` is undefined for an anonymous joiner.
   */
  joinView(poll: PollItem, userKey: string | undefined): JsonObject {
    const { directory } = this.deps;
    const itemId = poll.item.itemId;
    const asked = directory.asked(itemId);
    const closed = new Set(asked.filter((record) => record.status === 'closed').map((record) => record.question.questionId));
    const answered = userKey === undefined ? [] : directory.answersOf(itemId, userKey);
    const view: JsonObject = {
      live: asked.filter((record) => record.status === 'open').map(publicQuestion),
      closed: asked.filter((record) => record.status === 'closed').map(publicQuestion),
      answered: Object.fromEntries(answered.map((answer) => [answer.questionId, ownAnswer(answer, closed.has(answer.questionId))])),
    };
    if (poll.showResponses && poll.mode !== 'survey') {
      const counts = directory.countsOfPoll(itemId);
      view.results = Object.fromEntries(
        asked
          .filter((record) => record.showResponses && record.mode !== 'survey')
          .map((record) => [record.question.questionId, resultsOf(record, counts.get(record.question.questionId) ?? new Map(), record.responses)]),
      );
    }
    if (poll.mode === 'quiz' && userKey !== undefined) view.score = scoreView(directory.scoreOf(itemId, userKey));
    return view;
  }
}
