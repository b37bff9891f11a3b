import { randomUUID } from 'node:crypto';
import { AppError, type EventMetadata } from '../../core/index.js';
import { ITEM_CONFIGURATIONS, type PollConfiguration } from '../../protocol/topics/itineraries.js';
import { POLL_REFERENCE, type NewPollQuestion } from '../../protocol/topics/polls.js';
import type { ActorRuntime, Processor } from '../../runtime/index.js';
import type { JoinedItem } from '../itineraries/index.js';
import type { PollsConfig } from './config.js';
import {
  answersStreamOf,
  fieldError,
  isPollAnswerEvent,
  isPollEvent,
  pollStreamOf,
  type AskedQuestion,
  type PollAnswerCommand,
  type PollAnsweredData,
  type PollChoice,
  type PollCommand,
  type PollMode,
  type PollQuestion,
  type PollSnapshot,
  type QuestionSource,
} from './domain/index.js';
import type { PollDirectory } from './projection.js';

/** Who issues a change (the audit view's answer) and when. */
export type PollCommandContext = EventMetadata & { now: number };

/** A poll item and its configuration as the poll reads it. */
export interface PollItem {
  item: JoinedItem;
  mode: PollMode;
  showResponses: boolean;
  /** The configuration's questions, with ids (given, else their index) and keys. */
  configured: PollQuestion[];
}

export interface AddOutcome {
  position: number | undefined;
  opened: AskedQuestion | undefined;
  closed: string[];
}

export interface PollsServiceDependencies {
  runtime: ActorRuntime;
  directory: PollDirectory;
  items: { get(itemId: string): JoinedItem | undefined };
  config: Pick<PollsConfig, 'pollMaxQuestions' | 'pollTimedDefaultSeconds'>;
}

const idOf = (value: unknown, index: number): string => (typeof value === 'string' || typeof value === 'number' ? String(value) : String(index));

/**
 * The configuration's questions as a poll asks them. The configuration was checked when the
 * item was written (its fields kept loosely, as Extream keeps them), so only the fields the
 * protocol names are read here; `correct: true` marks a quiz's key.
 */
export function configuredQuestions(configuration: PollConfiguration): PollQuestion[] {
  return (configuration.questions ?? []).map((question, index) => {
    const time = typeof question.time === 'number' && question.time > 0 ? question.time : null;
    return {
      questionId: idOf(question.id, index),
      text: question.question,
      order: question.order,
      time,
      multiple: question.multiple === true,
      freeText: question.answers.length === 0,
      answers: question.answers.map((answer, answerIndex) => ({ answerId: idOf(answer.id, answerIndex), text: answer.text, order: answer.order, correct: answer.correct === true })),
    };
  });
}

/** A question an operator gave whole. */
function addedQuestion(question: NewPollQuestion, askedSoFar: number): PollQuestion {
  return {
    questionId: question.id ?? randomUUID(),
    text: question.question,
    order: question.order ?? askedSoFar,
    time: question.time !== undefined && question.time > 0 ? question.time : null,
    multiple: question.multiple === true,
    freeText: question.answers.length === 0,
    answers: question.answers.map((answer, index) => ({ answerId: answer.id ?? String(index), text: answer.text, order: answer.order ?? index, correct: answer.correct === true })),
  };
}

/** Poll items kept parsed (Polls.cached). */
const CACHED_POLL_ITEMS = 1000;

/**
 * Polls on poll items (PROTOCOL.md section 8): questions open and close on the poll's stream
 * (`poll-<itemId>`), answers go to each person's stream (`poll_answers-<itemId>-<user>`),
 * checked against the poll's state in memory.
 */
export class Polls {
  /**
   * Poll items as last read, by id: every answer names its poll, and reading the item (a JSON
   * parse of its configuration) and checking it against the poll schema each time took half the
   * gateway's CPU at 1,000 answers/s (bench/RESULTS.md). Dropped when the item changes
   * (`itemChanged`, from the log); bounded, the least recently used going first.
   */
  private readonly cached = new Map<string, PollItem>();

  constructor(private readonly deps: PollsServiceDependencies) {}

  /** The poll item, or NOT_FOUND / BAD_REQUEST naming `id`. */
  pollItem(itemId: string): PollItem {
    const cached = this.cached.get(itemId);
    if (cached) {
      this.cached.delete(itemId);
      this.cached.set(itemId, cached);
      return cached;
    }
    const item = this.deps.items.get(itemId);
    if (!item) throw fieldError('NOT_FOUND', 'id', 'unknown item');
    if (item.type !== 'poll') throw fieldError('BAD_REQUEST', 'id', `item ${itemId} is of type ${item.type}, not poll`);
    const poll = this.pollOf(item);
    this.cached.set(itemId, poll);
    if (this.cached.size > CACHED_POLL_ITEMS) this.cached.delete(this.cached.keys().next().value!);
    return poll;
  }

  /**
   * Forgets the cached item when the itineraries module records a change of it (ItemUpdated,
   * ItemRemoved, known here by name and `data.itemId` only: the log is how modules talk).
   */
  itemChangesProcessor(): Processor {
    return {
      name: 'polls.item-changes',
      startFrom: 'now',
      canHandle: (event) => event.type === 'ItemUpdated' || event.type === 'ItemRemoved',
      handle: (events) => {
        for (const event of events) {
          const itemId = (event.data as { itemId?: unknown }).itemId;
          if (typeof itemId === 'string') this.cached.delete(itemId);
        }
      },
    };
  }

  /** A poll item's configuration, read as the poll reads it. */
  pollOf(item: JoinedItem): PollItem {
    const parsed = ITEM_CONFIGURATIONS.poll.safeParse(item.configuration);
    // Checked when written: one that no longer fits is the operator's problem, not the client's.
    if (!parsed.success) throw new AppError('INTERNAL', 'stored poll configuration does not fit its schema');
    const configuration = parsed.data;
    return { item, mode: configuration.mode ?? 'poll', showResponses: configuration.show_responses ?? false, configured: configuredQuestions(configuration) };
  }

  /** The poll's questions as its stream holds them (in memory while one is open; else read from the log). */
  state(itemId: string): PollSnapshot {
    return this.deps.runtime.read(pollStreamOf(itemId));
  }

  /**
   * client_poll_add: opens a question (the configuration's, by id or index, or one given whole)
   * and/or closes open ones, in one append on the poll's stream.
   */
  async add(poll: PollItem, request: { question?: string | NewPollQuestion | undefined; close?: readonly string[] | 'all' | undefined }, context: PollCommandContext): Promise<AddOutcome> {
    const itemId = poll.item.itemId;
    const close = request.close ?? [];
    if (request.question === undefined) {
      const outcome = await this.run(itemId, { type: 'CloseQuestions', itemId, questionIds: close, reason: 'operator', now: context.now }, context);
      return { position: outcome.position, opened: undefined, closed: outcome.closed };
    }
    const { question, source } = this.questionToOpen(poll, request.question);
    const outcome = await this.run(
      itemId,
      {
        type: 'OpenQuestion',
        itemId,
        question,
        mode: poll.mode,
        showResponses: poll.showResponses,
        source,
        close,
        limits: { maxQuestions: this.deps.config.pollMaxQuestions, timedDefaultSeconds: this.deps.config.pollTimedDefaultSeconds },
        now: context.now,
      },
      context,
    );
    return { position: outcome.position, opened: outcome.snapshot.context.asked.get(question.questionId), closed: outcome.closed };
  }

  /** Closes questions (the scheduler's command when a question's time is up: `reason: time`). */
  async close(itemId: string, questionIds: readonly string[] | 'all', reason: 'operator' | 'time', context: PollCommandContext): Promise<string[]> {
    return (await this.run(itemId, { type: 'CloseQuestions', itemId, questionIds, reason, now: context.now }, context)).closed;
  }

  /**
   * consumer_poll_answer: decided on the person's own stream against the poll's state now.
   * Returns the recorded answer and its log position.
   */
  async answer(itemId: string, userKey: string, questionId: string, choice: PollChoice, context: PollCommandContext): Promise<{ position: number; answer: PollAnsweredData }> {
    const asked = this.state(itemId).context.asked.get(questionId);
    const command: PollAnswerCommand = { type: 'AnswerQuestion', itemId, questionId, user: userKey, asked, choice, now: context.now };
    const { now: _now, ...metadata } = context;
    const result = await this.deps.runtime.execute(answersStreamOf(itemId, userKey), command, metadata);
    // Decide returns exactly one PollAnswered or refuses.
    const recorded = result.events.find(isPollAnswerEvent)!;
    return { position: recorded.position, answer: recorded.data };
  }

  private questionToOpen(poll: PollItem, reference: string | NewPollQuestion): { question: PollQuestion; source: QuestionSource } {
    if (typeof reference !== 'string') return { question: addedQuestion(reference, this.state(poll.item.itemId).context.asked.size), source: { kind: 'added' } };
    const index = poll.configured.findIndex((question) => question.questionId === reference);
    if (index === -1) throw fieldError('NOT_FOUND', 'question', `the poll's configuration has no question ${reference}`);
    const question = poll.configured[index]!;
    // Ids from the configuration were kept as given: the ones the wire could not name are refused here.
    const bad = [question.questionId, ...question.answers.map((answer) => answer.answerId)].find((id) => !POLL_REFERENCE.test(id));
    if (bad !== undefined) throw fieldError('BAD_REQUEST', 'question', `the configuration's id ${JSON.stringify(bad).slice(0, 80)} is not a usable id (1-64 letters, digits or _.:-)`);
    return { question, source: { kind: 'configuration', index } };
  }

  private async run(itemId: string, command: PollCommand, context: PollCommandContext): Promise<{ position: number | undefined; snapshot: PollSnapshot; closed: string[] }> {
    const { now: _now, ...metadata } = context;
    const result = await this.deps.runtime.execute<PollSnapshot>(pollStreamOf(itemId), command, metadata);
    const closed = result.events.flatMap((event) => (isPollEvent(event) && event.type === 'PollQuestionClosed' ? [event.data.questionId] : []));
    return { position: result.events.at(-1)?.position, snapshot: result.snapshot, closed };
  }
}
