import { z } from 'zod';
import { commandPayload, extreamId } from './extream.js';
import { MAX_POLL_ANSWERS } from './itineraries.js';

/**
 * The poll topics of PROTOCOL.md section 8 (`ex-poll`): operators open questions on a poll
 * item and read its live state (`client_poll_{get,add}`), the audience answers
 * (`consumer_poll_answer`); `consumer_poll_get` is the item join (itineraries). Imports only
 * zod and the other topic files: the client SDK imports this.
 *
 * References: a question or an answer is named by its id. A number is read as its decimal
 * string, and questions and answers the configuration gives no id are known by their index
 * ("0", "1", ...), so `question: 2` opens the configuration's third question when it has none.
 */

export const POLL_TOPICS = {
  clientGet: 'client_poll_get',
  clientAdd: 'client_poll_add',
  consumerAnswer: 'consumer_poll_answer',
} as const;

/**
 * Pushes. `consumer_poll_answer` is both the answer command's name and the results push
 * (Extream's names): the push carries no `status`, the command's answers always do.
 */
export const POLL_PUSHES = {
  /** A question opened or closed, to everyone who joined the item (no answer keys). */
  question: 'consumer_poll_question',
  /** A question's results, to everyone who joined, when the poll shows responses. */
  results: 'consumer_poll_answer',
  /** Each answer, to the operators who read the poll with client_poll_get. */
  answer: 'client_poll_answer',
} as const;

/** What a question or answer id may look like: short, and never an Object.prototype name (it starts with a letter or digit). */
export const POLL_REFERENCE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
export const MAX_POLL_QUESTION_LENGTH = 1000;
export const MAX_POLL_ANSWER_LENGTH = 500;

const reference = z
  .union([z.string(), z.number().int('must be an integer').min(0, 'must not be negative').max(1_000_000)], 'must be an id (a string) or an index')
  .transform(String)
  .pipe(z.string().regex(POLL_REFERENCE, 'must be 1-64 letters, digits or _.:- starting with a letter or digit'));

const newAnswer = z.strictObject({
  id: reference.optional(),
  text: z.string().trim().min(1, 'must not be empty').max(MAX_POLL_ANSWER_LENGTH, `must be at most ${MAX_POLL_ANSWER_LENGTH} characters`),
  order: z.number().int('must be an integer').optional(),
  /** A quiz's key: never sent to the audience before the question closes. */
  correct: z.boolean('must be true or false').optional(),
});

/** A question given whole in client_poll_add (not one of the configuration's). */
export const newPollQuestion = z.strictObject({
  id: reference.optional(),
  question: z.string().trim().min(1, 'must not be empty').max(MAX_POLL_QUESTION_LENGTH, `must be at most ${MAX_POLL_QUESTION_LENGTH} characters`),
  answers: z.array(newAnswer).max(MAX_POLL_ANSWERS, `must have at most ${MAX_POLL_ANSWERS} answers`).default([]),
  order: z.number().int('must be an integer').optional(),
  /** Seconds it stays open; 0 or none: until closed (timed polls: their default). */
  time: z.number().int('must be an integer').min(0, 'must not be negative').max(86_400, 'must be at most 86400 seconds').optional(),
  /** Whether an answer may pick several of the answers. */
  multiple: z.boolean('must be true or false').optional(),
});
export type NewPollQuestion = z.infer<typeof newPollQuestion>;

/** `client_poll_get {id}`: the poll item's questions with their keys, live state and results. */
export const clientPollGet = z.object({ id: extreamId, payload: commandPayload });

/**
 * `client_poll_add {id, question?, close?}`: opens a question (one of the configuration's by
 * id or index, or a new one given whole), closes open ones (`close`: ids, or `true` for every
 * open question), or both at once (the next question of a quiz: close the last, open this).
 */
export const clientPollAdd = z
  .object({
    id: extreamId,
    question: z.union([reference, newPollQuestion], 'must be a question id, an index, or a question {question, answers[]}').optional(),
    close: z.union([z.literal(true), reference, z.array(reference).min(1, 'must name a question').max(100, 'must name at most 100 questions')], 'must be a question id, a list of them, or true').optional(),
    payload: commandPayload,
  })
  .refine((data) => data.question !== undefined || data.close !== undefined, { message: 'names a question to open or to close', path: ['question'] });
export type ClientPollAdd = z.infer<typeof clientPollAdd>;

/**
 * `consumer_poll_answer {id, question, answer | answers[] | text}`: one of a question's answers,
 * several of a `multiple` one, or free text (a survey question without answers), at most
 * `maxTextLength` characters.
 */
export const consumerPollAnswer = (maxTextLength: number) =>
  z
    .object({
      id: extreamId,
      question: reference,
      answer: reference.optional(),
      answers: z.array(reference).min(1, 'must name an answer').max(MAX_POLL_ANSWERS, `must name at most ${MAX_POLL_ANSWERS} answers`).optional(),
      text: z.string().trim().min(1, 'must not be empty').max(maxTextLength, `must be at most ${maxTextLength} characters`).optional(),
      payload: commandPayload,
    })
    .refine((data) => [data.answer, data.answers, data.text].filter((value) => value !== undefined).length === 1, {
      message: 'gives exactly one of answer, answers or text',
      path: ['answer'],
    });
export type ConsumerPollAnswer = z.infer<ReturnType<typeof consumerPollAnswer>>;
