import { configInt as int } from '../../core/index.js';
import { DEFAULT_NOTICE_MAX_BYTES } from '../../protocol/topics/notices.js';

/**
 * Configuration keys of notices, spread into the one config schema (src/app/config.ts); each is
 * also `SWITCHYARD_<KEY>` (noticeMaxBytes: SWITCHYARD_NOTICE_MAX_BYTES).
 */
export const noticesConfigShape = {
  /** Largest notice message, in UTF-8 bytes; a larger one is refused PAYLOAD_TOO_LARGE. */
  noticeMaxBytes: int(16, 65_536).default(DEFAULT_NOTICE_MAX_BYTES),
  /**
   * Notices one sender (a user, or an organisation's credential) may send per minute, with a
   * burst of as many; past it RATE_LIMITED. One notice reaches a whole audience: this bounds
   * what a compromised or runaway sender can flood it with.
   */
  noticeSendsPerMinute: int(1, 10_000).default(10),
};

/** The slice of the gateway's config the notices module reads. */
export interface NoticesConfig {
  readonly noticeMaxBytes: number;
  readonly noticeSendsPerMinute: number;
}
