import { configInt as int } from '../../core/index.js';
import { DEFAULT_MAX_MESSAGE_BYTES, MAX_PAGE_SIZE } from '../../protocol/topics/chat.js';

/**
 * Configuration keys of chat (PROTOCOL.md section 8), spread into the one config schema
 * (src/app/config.ts); each is also `SWITCHYARD_<KEY>` (SWITCHYARD_CHAT_MESSAGES_PER_SECOND).
 */
export const chatConfigShape = {
  /** Largest message text, in UTF-8 bytes; longer ones are refused PAYLOAD_TOO_LARGE. */
  chatMaxMessageBytes: int(1, 65_536).default(DEFAULT_MAX_MESSAGE_BYTES),
  /**
   * Messages (and conversations started, people added) one sender may post per second,
   * across its sockets: a token bucket refilled at this rate, holding `chatMessageBurst`.
   * Past it: RATE_LIMITED.
   */
  chatMessagesPerSecond: int(1, 10_000).default(5),
  chatMessageBurst: int(1, 100_000).default(10),
  /** Rate-limited chat commands one socket may send in 10 s before it is closed with 4029. */
  chatRateLimitStrikes: int(1, 10_000).default(20),
  /** Messages of one history page (the join's, and the most a `limit` may ask for). */
  chatHistoryPageSize: int(1, MAX_PAGE_SIZE).default(50),
  /** Chats one socket follows at once (receives pushes of); past it the one it opened longest ago is dropped. */
  chatInstancesPerConnection: int(1, 10_000).default(32),
  /** People in one conversation started with consumer_chat_start. */
  chatMaxParticipants: int(2, 10_000).default(100),
  /** Items whose chat settings are kept parsed in memory (dropped when the item changes). */
  chatItemCacheSize: int(1, 1_000_000).default(1000),
};

/** The slice of the gateway's config the chat module reads (app/config.ts's `Config` satisfies it). */
export interface ChatConfig {
  readonly chatMaxMessageBytes: number;
  readonly chatMessagesPerSecond: number;
  readonly chatMessageBurst: number;
  readonly chatRateLimitStrikes: number;
  readonly chatHistoryPageSize: number;
  readonly chatInstancesPerConnection: number;
  readonly chatMaxParticipants: number;
  readonly chatItemCacheSize: number;
}
