import { configInt as int } from '../../core/index.js';

/**
 * Configuration keys of polls (PROTOCOL.md section 8), spread into the one config schema
 * (src/app/config.ts); each is also `SWITCHYARD_<KEY>` (pollResultsPushMs:
 * SWITCHYARD_POLL_RESULTS_PUSH_MS).
 */
export const pollsConfigShape = {
  /**
   * At most one results push (`consumer_poll_answer`) per question in this many milliseconds:
   * a thousand answers a second become ten pushes to the audience, not a thousand. A question's
   * close is pushed at once. 0 pushes once per commit batch.
   */
  pollResultsPushMs: int(0, 60_000).default(100),
  /** How long a question of a `timed` poll stays open when it has no `time` of its own. */
  pollTimedDefaultSeconds: int(1, 86_400).default(30),
  /** Longest free-text answer (a survey question without answers), in characters. */
  pollFreeTextMaxLength: int(1, 10_000).default(1000),
  /** Questions one poll may ask in its life. */
  pollMaxQuestions: int(1, 10_000).default(200),
  /** Polls one connection follows at once (as audience or operator); past it, the one joined longest ago is dropped. */
  pollSubscriptionsPerConnection: int(1, 1000).default(16),
  /** A person's answers actor not used this long is dropped (reloaded from the log at their next answer). */
  pollAnswerActorIdleSeconds: int(1, 86_400).default(300),
  /** Answers actors kept at most after a sweep (one per person and poll answering), least recently used first out. */
  pollAnswerActorsMax: int(1, 10_000_000).default(50_000),
};

/** The slice of the gateway's config the polls module reads. */
export interface PollsConfig {
  readonly pollResultsPushMs: number;
  readonly pollTimedDefaultSeconds: number;
  readonly pollFreeTextMaxLength: number;
  readonly pollMaxQuestions: number;
  readonly pollSubscriptionsPerConnection: number;
  readonly pollAnswerActorIdleSeconds: number;
  readonly pollAnswerActorsMax: number;
}
