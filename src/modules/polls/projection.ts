import type { Projection, ReadModelDatabase } from '../../store/index.js';
import { statement } from '../../store/index.js';
import { fieldError, isPollAnswerEvent, isPollEvent, type PollMode, type PollQuestion } from './domain/index.js';

/**
 * Read model of polls, inline (in the append's transaction): `poll_questions` (each asked
 * question, its state and response count), `poll_answers` (one row per question and person),
 * `poll_results` (counts per answer, made with zeros when the question opens) and
 * `poll_scores` (a quiz's scores over its closed questions: a score that moved while a
 * question is open would tell its answerer whether they were right).
 *
 * The two kinds of stream meet here. An answer is decided on the person's stream against the
 * poll stream's state as it was read; an operator's close can commit between that read and
 * the answer's append. The answer's row is written only while its question is open in this
 * table, in the same transaction: otherwise the append is refused (CONFLICT) and rolled back,
 * so no answer to a closed question is ever in the log, and the results a close pushes are
 * final. Likewise the primary key of `poll_answers` backs "one answer per person" should two
 * processes decide at once. Statement keys are prefixed `polls:`: the cache is shared.
 */
export const pollsProjection: Projection = {
  name: 'polls',
  mode: 'inline',
  tables: ['poll_questions', 'poll_answers', 'poll_results', 'poll_scores'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS poll_questions (
        item_id TEXT NOT NULL, question_id TEXT NOT NULL, asked INTEGER NOT NULL, mode TEXT NOT NULL, show_responses INTEGER NOT NULL,
        question TEXT NOT NULL, source TEXT NOT NULL, status TEXT NOT NULL, opened_at INTEGER NOT NULL, closes_at INTEGER,
        closed_at INTEGER, close_reason TEXT, responses INTEGER NOT NULL, PRIMARY KEY (item_id, question_id));
      CREATE INDEX IF NOT EXISTS poll_questions_open ON poll_questions (status, closes_at);
      CREATE TABLE IF NOT EXISTS poll_answers (
        item_id TEXT NOT NULL, question_id TEXT NOT NULL, user_key TEXT NOT NULL, answers TEXT, text TEXT,
        answered_at INTEGER NOT NULL, correct INTEGER, points INTEGER, PRIMARY KEY (item_id, question_id, user_key));
      CREATE INDEX IF NOT EXISTS poll_answers_by_user ON poll_answers (item_id, user_key);
      CREATE TABLE IF NOT EXISTS poll_results (
        item_id TEXT NOT NULL, question_id TEXT NOT NULL, answer_id TEXT NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (item_id, question_id, answer_id));
      CREATE TABLE IF NOT EXISTS poll_scores (
        item_id TEXT NOT NULL, user_key TEXT NOT NULL, answered INTEGER NOT NULL, correct INTEGER NOT NULL, points INTEGER NOT NULL,
        PRIMARY KEY (item_id, user_key));
    `);
  },
  apply(db, event) {
    if (isPollAnswerEvent(event)) {
      const d = event.data;
      const counted = statement(db, 'polls:respond', "UPDATE poll_questions SET responses = responses + 1 WHERE item_id = ? AND question_id = ? AND status = 'open'").run(
        d.itemId,
        d.questionId,
      );
      if (counted.changes === 0) throw fieldError('CONFLICT', 'question', 'this question is closed');
      const inserted = statement(
        db,
        'polls:answer',
        'INSERT INTO poll_answers (item_id, question_id, user_key, answers, text, answered_at, correct, points) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ).run(d.itemId, d.questionId, d.user, d.answers === null ? null : JSON.stringify(d.answers), d.text, d.answeredAt, d.correct === null ? null : Number(d.correct), d.points);
      if (inserted.changes === 0) throw fieldError('CONFLICT', 'question', 'you answered this question already');
      for (const answerId of d.answers ?? []) {
        statement(db, 'polls:count', 'UPDATE poll_results SET count = count + 1 WHERE item_id = ? AND question_id = ? AND answer_id = ?').run(d.itemId, d.questionId, answerId);
      }
      return;
    }
    if (!isPollEvent(event)) return;
    switch (event.type) {
      case 'PollQuestionOpened': {
        const d = event.data;
        statement(
          db,
          'polls:open',
          `INSERT INTO poll_questions (item_id, question_id, asked, mode, show_responses, question, source, status, opened_at, closes_at, responses)
           VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, 0)`,
        ).run(d.itemId, d.question.questionId, event.version, d.mode, Number(d.showResponses), JSON.stringify(d.question), JSON.stringify(d.source), d.openedAt, d.closesAt);
        const zero = statement(db, 'polls:zero', 'INSERT INTO poll_results (item_id, question_id, answer_id, count) VALUES (?, ?, ?, 0)');
        for (const answer of d.question.answers) zero.run(d.itemId, d.question.questionId, answer.answerId);
        return;
      }
      case 'PollQuestionClosed': {
        const d = event.data;
        statement(db, 'polls:close', "UPDATE poll_questions SET status = 'closed', closed_at = ?, close_reason = ? WHERE item_id = ? AND question_id = ?").run(
          d.closedAt,
          d.reason,
          d.itemId,
          d.questionId,
        );
        // A quiz question's answers count towards the scores once it is closed (none but a quiz's have `correct`).
        statement(
          db,
          'polls:score',
          `INSERT INTO poll_scores (item_id, user_key, answered, correct, points)
           SELECT item_id, user_key, 1, correct, points FROM poll_answers WHERE item_id = ? AND question_id = ? AND correct IS NOT NULL
           ON CONFLICT (item_id, user_key) DO UPDATE SET answered = answered + 1, correct = correct + excluded.correct, points = points + excluded.points`,
        ).run(d.itemId, d.questionId);
        return;
      }
    }
  },
};

interface QuestionRow {
  item_id: string;
  question_id: string;
  asked: number;
  mode: PollMode;
  show_responses: number;
  question: string;
  status: 'open' | 'closed';
  opened_at: number;
  closes_at: number | null;
  closed_at: number | null;
  responses: number;
}

/** A question the poll asked, as the read model holds it. */
export interface AskedQuestionRecord {
  itemId: string;
  question: PollQuestion;
  mode: PollMode;
  showResponses: boolean;
  status: 'open' | 'closed';
  openedAt: number;
  closesAt: number | null;
  closedAt: number | null;
  /** Answers given. */
  responses: number;
}

const askedOf = (row: QuestionRow): AskedQuestionRecord => ({
  itemId: row.item_id,
  question: JSON.parse(row.question) as PollQuestion,
  mode: row.mode,
  showResponses: row.show_responses === 1,
  status: row.status,
  openedAt: row.opened_at,
  closesAt: row.closes_at,
  closedAt: row.closed_at,
  responses: row.responses,
});

/** One person's answer, as the read model holds it. */
export interface AnswerRecord {
  questionId: string;
  userKey: string;
  answers: string[] | null;
  text: string | null;
  answeredAt: number;
  correct: boolean | null;
  points: number | null;
}

interface AnswerRow {
  question_id: string;
  user_key: string;
  answers: string | null;
  text: string | null;
  answered_at: number;
  correct: number | null;
  points: number | null;
}

const answerOf = (row: AnswerRow): AnswerRecord => ({
  questionId: row.question_id,
  userKey: row.user_key,
  answers: row.answers === null ? null : (JSON.parse(row.answers) as string[]),
  text: row.text,
  answeredAt: row.answered_at,
  correct: row.correct === null ? null : row.correct === 1,
  points: row.points,
});

export interface ScoreRecord {
  userKey: string;
  /** Closed quiz questions answered. */
  answered: number;
  correct: number;
  points: number;
}

/** Queries over the read model (`store.readModels`). */
export class PollDirectory {
  constructor(private readonly db: ReadModelDatabase) {}

  /** Every question the poll asked, in the order it asked them. */
  asked(itemId: string): AskedQuestionRecord[] {
    const rows = statement(this.db, 'polls:q:asked', 'SELECT * FROM poll_questions WHERE item_id = ? ORDER BY asked').all(itemId) as QuestionRow[];
    return rows.map(askedOf);
  }

  question(itemId: string, questionId: string): AskedQuestionRecord | undefined {
    const row = statement(this.db, 'polls:q:question', 'SELECT * FROM poll_questions WHERE item_id = ? AND question_id = ?').get(itemId, questionId) as QuestionRow | undefined;
    return row && askedOf(row);
  }

  /** Open questions that close at a time, across every poll: the timers to re-arm at start. */
  timedOpen(): { itemId: string; questionId: string; closesAt: number }[] {
    const rows = statement(this.db, 'polls:q:timed', "SELECT item_id, question_id, closes_at FROM poll_questions WHERE status = 'open' AND closes_at IS NOT NULL").all() as {
      item_id: string;
      question_id: string;
      closes_at: number;
    }[];
    return rows.map((row) => ({ itemId: row.item_id, questionId: row.question_id, closesAt: row.closes_at }));
  }

  /** Counts per answer id of one question. */
  counts(itemId: string, questionId: string): Map<string, number> {
    const rows = statement(this.db, 'polls:q:counts', 'SELECT answer_id, count FROM poll_results WHERE item_id = ? AND question_id = ?').all(itemId, questionId) as {
      answer_id: string;
      count: number;
    }[];
    return new Map(rows.map((row) => [row.answer_id, row.count]));
  }

  /** Counts per question and answer id of every question of the poll. */
  countsOfPoll(itemId: string): Map<string, Map<string, number>> {
    const rows = statement(this.db, 'polls:q:poll-counts', 'SELECT question_id, answer_id, count FROM poll_results WHERE item_id = ?').all(itemId) as {
      question_id: string;
      answer_id: string;
      count: number;
    }[];
    const byQuestion = new Map<string, Map<string, number>>();
    for (const row of rows) {
      let counts = byQuestion.get(row.question_id);
      if (!counts) byQuestion.set(row.question_id, (counts = new Map()));
      counts.set(row.answer_id, row.count);
    }
    return byQuestion;
  }

  /** One person's answers to the poll, oldest first. */
  answersOf(itemId: string, userKey: string): AnswerRecord[] {
    const rows = statement(this.db, 'polls:q:answers-of', 'SELECT * FROM poll_answers WHERE item_id = ? AND user_key = ? ORDER BY answered_at, question_id').all(itemId, userKey) as AnswerRow[];
    return rows.map(answerOf);
  }

  /** The newest free-text answers of a question, newest first. */
  texts(itemId: string, questionId: string, limit: number): AnswerRecord[] {
    const rows = statement(
      this.db,
      'polls:q:texts',
      'SELECT * FROM poll_answers WHERE item_id = ? AND question_id = ? AND text IS NOT NULL ORDER BY answered_at DESC, user_key LIMIT ?',
    ).all(itemId, questionId, limit) as AnswerRow[];
    return rows.map(answerOf);
  }

  /** A person's quiz score over the closed questions; undefined before one of their answers counted. */
  scoreOf(itemId: string, userKey: string): ScoreRecord | undefined {
    const row = statement(this.db, 'polls:q:score', 'SELECT user_key, answered, correct, points FROM poll_scores WHERE item_id = ? AND user_key = ?').get(itemId, userKey) as
      | { user_key: string; answered: number; correct: number; points: number }
      | undefined;
    return row && { userKey: row.user_key, answered: row.answered, correct: row.correct, points: row.points };
  }

  /** The best scores, highest points first. */
  topScores(itemId: string, limit: number): ScoreRecord[] {
    const rows = statement(
      this.db,
      'polls:q:top-scores',
      'SELECT user_key, answered, correct, points FROM poll_scores WHERE item_id = ? ORDER BY points DESC, correct DESC, user_key LIMIT ?',
    ).all(itemId, limit) as { user_key: string; answered: number; correct: number; points: number }[];
    return rows.map((row) => ({ userKey: row.user_key, answered: row.answered, correct: row.correct, points: row.points }));
  }
}
