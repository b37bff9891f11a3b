import { configInt as int } from '../../core/index.js';

/**
 * Configuration keys of reconnect and resume (PROTOCOL.md section 11), spread into the one
 * config schema (src/app/config.ts); each is also `SWITCHYARD_<KEY>`.
 */
export const resumeConfigShape = {
  /**
   * Seconds an authenticated connection whose socket was cut stays resumable: a member of its
   * rooms, audiences and subscriptions, keeping its pushes. 0 turns resume off (a cut closes
   * the connection at once, `welcome` carries no token).
   */
  resumeWindowSeconds: int(0, 86_400).default(120),
  /** Pushes with a `seq` each connection keeps for a resume; a client that missed more gets `resume-failed {reason:"gap"}`. */
  resumeBufferPushes: int(0, 100_000).default(256),
  /**
   * Failed resumes allowed per minute per remote address (burst: as many); past it every
   * resume from there gets `resume-failed {reason:"rate-limited"}` without its token being
   * looked at. Only failures count: an office reconnecting at once behind one NAT resumes.
   */
  resumeFailuresPerMinutePerAddress: int(1, 100_000).default(30),
};

/** The slice of the gateway's config the resume code reads (app/config.ts's `Config` satisfies it). */
export interface ResumeConfig {
  readonly resumeWindowSeconds: number;
  readonly resumeBufferPushes: number;
  readonly resumeFailuresPerMinutePerAddress: number;
}
