import type { Clock, RecordedEvent } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import type { OutboundFrame } from '../../protocol/index.js';
import { POLL_PUSHES } from '../../protocol/topics/polls.js';
import type { Processor, Scheduler } from '../../runtime/index.js';
import type { PollsConfig } from './config.js';
import { isPollAnswerEvent, isPollEvent, type PollAnsweredData, type PollQuestionOpenedData } from './domain/index.js';
import type { AskedQuestionRecord, PollDirectory } from './projection.js';
import type { Polls } from './service.js';
import { operatorAnswer, publicQuestion, resultsOf, type Answerer } from './views.js';

/** Who follows a poll, by item id: its audience (the item join) or its operators (client_poll_get). */
export interface PollAudience {
  members(itemId: string): ReadonlySet<ClientConnection>;
  /** One frame to every member, encoded once per wire format (edge/fan-out.ts sendToAll). */
  push(itemId: string, frame: OutboundFrame): number;
}

export interface PollPushDependencies {
  consumers: PollAudience;
  operators: PollAudience;
  directory: PollDirectory;
  polls: Pick<Polls, 'state'>;
  scheduler: Pick<Scheduler, 'at' | 'cancel'>;
  clock: Clock;
  config: Pick<PollsConfig, 'pollResultsPushMs'>;
  /** `user:<id>` or `guest:<id>` as operators see it. */
  answerer(userKey: string): Answerer;
}

const shows = (question: Pick<AskedQuestionRecord, 'showResponses' | 'mode'>): boolean => question.showResponses && question.mode !== 'survey';

interface DuePush {
  itemId: string;
  questionId: string;
  /** The newest answer the push covers. */
  seq: number;
}

/**
 * The pushes of polls, from the log (so an answer or a question from another process is
 * pushed the same way), each with the position of the event it comes from as `seq`:
 *
 * - `consumer_poll_question`: a question opened or closed, to the poll's audience, as the
 *   audience sees it (no key; a quiz's correct answers once it is closed).
 * - `client_poll_answer`: each answer, to the poll's operators.
 * - `consumer_poll_answer`: a question's results, to the audience, when the poll shows
 *   responses (never a survey's). Coalesced: at most one per question per
 *   `pollResultsPushMs`, carrying the counts of the read model at that moment and the seq of
 *   the newest answer in them, so a thousand answers a second cost the audience ten pushes.
 *   A close cancels the pending one and pushes the final results at once.
 *
 * Coalescing state lives in memory (a push due per question, when each question was last
 * pushed) and goes with the question's close; timers are the scheduler's.
 */
export class PollPushes {
  private readonly due = new Map<string, DuePush>();
  private readonly lastPushedAt = new Map<string, number>();

  constructor(private readonly deps: PollPushDependencies) {}

  processor(): Processor {
    return {
      name: 'polls.pushes',
      startFrom: 'now',
      canHandle: (event) => isPollAnswerEvent(event) || isPollEvent(event),
      handle: (events) => {
        for (const event of events) this.handle(event);
      },
    };
  }

  private handle(event: RecordedEvent): void {
    if (isPollAnswerEvent(event)) {
      this.answered(event.data, event.position);
      return;
    }
    if (!isPollEvent(event)) return;
    if (event.type === 'PollQuestionOpened') this.opened(event.data, event.position);
    else this.closed(event.data.itemId, event.data.questionId, event.position);
  }

  private opened(data: PollQuestionOpenedData, seq: number): void {
    const { consumers } = this.deps;
    if (consumers.members(data.itemId).size === 0) return;
    const question = publicQuestion({ ...data, closedAt: null });
    consumers.push(data.itemId, { event: POLL_PUSHES.question, data: { id: data.itemId, question }, seq });
  }

  private closed(itemId: string, questionId: string, seq: number): void {
    const key = `${itemId}:${questionId}`;
    this.deps.scheduler.cancel(`poll-results:${key}`);
    this.due.delete(key);
    this.lastPushedAt.delete(key);
    const record = this.deps.directory.question(itemId, questionId);
    if (!record || this.deps.consumers.members(itemId).size === 0) return;
    this.deps.consumers.push(itemId, { event: POLL_PUSHES.question, data: { id: itemId, question: publicQuestion(record) }, seq });
    if (shows(record)) this.pushResults(record, seq);
  }

  private answered(data: PollAnsweredData, seq: number): void {
    const { operators, consumers } = this.deps;
    if (operators.members(data.itemId).size > 0) {
      operators.push(data.itemId, { event: POLL_PUSHES.answer, data: operatorAnswer(data, this.deps.answerer(data.user)), seq });
    }
    if (consumers.members(data.itemId).size === 0) return;
    // The question is open (the answer was written only then), so the poll is in memory.
    const asked = this.deps.polls.state(data.itemId).context.asked.get(data.questionId);
    if (!asked || !shows(asked)) return;
    const key = `${data.itemId}:${data.questionId}`;
    const pending = this.due.get(key);
    if (pending) {
      pending.seq = seq;
      return;
    }
    const now = this.deps.clock.now();
    const last = this.lastPushedAt.get(key);
    this.due.set(key, { itemId: data.itemId, questionId: data.questionId, seq });
    this.deps.scheduler.at(`poll-results:${key}`, last === undefined ? now : Math.max(now, last + this.deps.config.pollResultsPushMs), () => this.flush(key));
  }

  private flush(key: string): void {
    const due = this.due.get(key);
    if (!due) return;
    this.due.delete(key);
    this.lastPushedAt.set(key, this.deps.clock.now());
    const record = this.deps.directory.question(due.itemId, due.questionId);
    if (record) this.pushResults(record, due.seq);
  }

  private pushResults(record: AskedQuestionRecord, seq: number): void {
    const results = resultsOf(record, this.deps.directory.counts(record.itemId, record.question.questionId), record.responses);
    this.deps.consumers.push(record.itemId, { event: POLL_PUSHES.results, data: { id: record.itemId, ...results }, seq });
  }
}

/** A timed close the log refused is tried again after this long. */
const CLOSE_RETRY_MS = 1000;

export interface PollTimerDependencies {
  polls: Pick<Polls, 'close'>;
  directory: Pick<PollDirectory, 'timedOpen'>;
  scheduler: Pick<Scheduler, 'at' | 'cancel'>;
  logger: { warn(details: Record<string, unknown>, message: string): void };
}

/**
 * Closes questions whose time is up: a scheduler timer per open timed question, issuing the
 * close as a command (`reason: time`). Armed from the log (a question opened by any process),
 * and at start from the read model, since timers die with the process: a question whose time
 * ran out while the gateway was down closes as soon as it is back.
 */
export class PollTimers {
  constructor(private readonly deps: PollTimerDependencies) {}

  processor(): Processor {
    return {
      name: 'polls.timers',
      startFrom: 'now',
      canHandle: isPollEvent,
      handle: (events) => {
        for (const event of events) {
          if (!isPollEvent(event)) continue;
          if (event.type === 'PollQuestionOpened') {
            const { itemId, question, closesAt } = event.data;
            if (closesAt !== null) this.arm(itemId, question.questionId, closesAt);
          } else {
            this.deps.scheduler.cancel(this.key(event.data.itemId, event.data.questionId));
          }
        }
      },
    };
  }

  /** Re-arms every open timed question's close; returns how many. */
  resume(): number {
    const open = this.deps.directory.timedOpen();
    for (const { itemId, questionId, closesAt } of open) this.arm(itemId, questionId, closesAt);
    return open.length;
  }

  private arm(itemId: string, questionId: string, closesAt: number): void {
    this.deps.scheduler.at(this.key(itemId, questionId), closesAt, async (now) => {
      try {
        await this.deps.polls.close(itemId, [questionId], 'time', { actor: 'system:polls', now });
      } catch (error) {
        // The log refused the write (disk, shutdown): the question must still close, so try again.
        this.deps.logger.warn({ err: error, itemId, questionId }, 'timed poll question did not close; retrying');
        this.arm(itemId, questionId, now + CLOSE_RETRY_MS);
      }
    });
  }

  private key(itemId: string, questionId: string): string {
    return `poll-close:${itemId}:${questionId}`;
  }
}
