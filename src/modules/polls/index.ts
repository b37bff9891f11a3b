import type { ClientConnection } from '../../edge/index.js';
import { defineModule } from '../../runtime/index.js';
import { EventAudiences } from '../event-listings/index.js';
import type { ItemModulePorts, JoinExtensions } from '../itineraries/index.js';
import type { PollsConfig } from './config.js';
import { POLL_ANSWERS_CATEGORY, pollAggregate, pollAnswersAggregate } from './domain/index.js';
import { PollPushes, PollTimers } from './processors.js';
import { PollDirectory, pollsProjection } from './projection.js';
import { PollReads } from './reads.js';
import { Polls } from './service.js';
import { pollJoinExtension, pollTopics } from './topics.js';
import type { Answerer } from './views.js';

export { pollsConfigShape, type PollsConfig } from './config.js';
export { pollsProjection, PollDirectory, type AskedQuestionRecord, type AnswerRecord, type ScoreRecord } from './projection.js';
export { Polls, type PollItem, type PollCommandContext } from './service.js';
export {
  POLL_CATEGORY,
  POLL_EVENT_TYPES,
  POLL_ANSWERS_CATEGORY,
  POLL_ANSWER_EVENT_TYPES,
  pollAggregate,
  pollAnswersAggregate,
  isPollEvent,
  isPollAnswerEvent,
  type PollEvent,
  type PollAnswerEvent,
} from './domain/index.js';

/** Answerers' names kept for operators' pushes; past it the cache starts afresh. */
const USERNAMES_REMEMBERED = 10_000;

export interface PollsDependencies extends ItemModulePorts {
  config: PollsConfig;
}

export interface PollsApi {
  polls: Polls;
  directory: PollDirectory;
  /** The item join's poll part (`consumer_poll_get`), merged into itineraries at wiring. */
  joinExtensions: JoinExtensions;
  /** Who follows each poll on this node (for tests and metrics). */
  audiences: { consumers: EventAudiences; operators: EventAudiences };
}

/**
 * Poll items (PROTOCOL.md section 8): live questions on one stream per poll
 * (`poll-<itemId>`), answers on one small stream per person and poll
 * (`poll_answers-<itemId>-<user>`), results and quiz scores in the read model, pushes to the
 * poll's audience and operators from the log, timed closes from the scheduler.
 */
export const pollsModule = defineModule<PollsDependencies, PollsApi, ClientConnection>({
  name: 'polls',
  aggregates: [pollAggregate, pollAnswersAggregate],
  projections: [pollsProjection],
  create({ runtime, store, clock, scheduler, logger, connections, access, events, items, users, config }) {
    const directory = new PollDirectory(store.readModels);
    const polls = new Polls({ runtime, directory, items, config });
    // The same bounded, close-aware membership as an event's audience, keyed by poll item.
    const consumers = new EventAudiences(connections, config.pollSubscriptionsPerConnection);
    const operators = new EventAudiences(connections, config.pollSubscriptionsPerConnection);
    // Operators see each answerer's name with each answer: a thousand answers a second would be
    // a thousand identity lookups, so names are remembered (bounded; a username does not change).
    const usernames = new Map<string, string | null>();
    const answerer = (userKey: string): Answerer => {
      const separator = userKey.indexOf(':');
      const id = userKey.slice(separator + 1);
      if (userKey.slice(0, separator) === 'guest') return { guest: id };
      let username = usernames.get(id);
      if (username === undefined) {
        username = users.get(id)?.username ?? null;
        if (usernames.size >= USERNAMES_REMEMBERED) usernames.clear();
        usernames.set(id, username);
      }
      return { id, username };
    };
    const reads = new PollReads({ directory, answerer });
    const pushes = new PollPushes({ consumers, operators, directory, polls, scheduler, clock, config, answerer });
    const timers = new PollTimers({ polls, directory, scheduler, logger });
    // Answers actors stay while people answer; idle ones go, so the audience of last week's poll holds none.
    const answerActors = { idleMs: config.pollAnswerActorIdleSeconds * 1000, maxActors: config.pollAnswerActorsMax };
    scheduler.every('polls.evict-idle-answers', Math.min(60_000, answerActors.idleMs), (now) => runtime.evictIdle(POLL_ANSWERS_CATEGORY, now, answerActors));
    return {
      api: { polls, directory, joinExtensions: { poll: pollJoinExtension({ polls, reads, consumers }) }, audiences: { consumers, operators } },
      topics: pollTopics({ polls, reads, access, events, consumers, operators, maxTextLength: config.pollFreeTextMaxLength }),
      processors: [pushes.processor(), timers.processor(), polls.itemChangesProcessor()],
      start: () => ({ pollTimersArmed: timers.resume() }),
    };
  },
});
