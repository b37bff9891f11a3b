import { z } from 'zod';
import { commandPayload, extreamId, freeData } from './extream.js';

/**
 * Notice topics (PROTOCOL.md section 8): an organiser sends a notice to an event's audience;
 * attendees page through the event's notices and mark them read. Messages and titles are plain
 * text (kept as sent, never read as HTML: a client shows them as text). The message's size
 * bound is the gateway's `noticeMaxBytes` (checked after the schema, answered
 * PAYLOAD_TOO_LARGE). Imports only zod and extream.ts: the client SDK imports this.
 */

export const NOTICE_TOPICS = {
  send: 'client_notice_send',
  get: 'consumer_notice_get',
  read: 'consumer_notice_read',
} as const;

export const NOTICE_PUSHES = {
  receive: 'consumer_notice_receive',
} as const;

/** The message bound when the config names none (noticeMaxBytes), in UTF-8 bytes. */
export const DEFAULT_NOTICE_MAX_BYTES = 4096;
export const MAX_NOTICE_TITLE_LENGTH = 200;
export const DEFAULT_NOTICE_PAGE = 50;
export const MAX_NOTICE_PAGE = 200;
/** Notices one consumer_notice_read marks at most. */
export const MAX_NOTICE_READS = 100;
export const DEFAULT_NOTICE_LEVEL = 'info';

const level = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'must be a lower-case word of at most 32 characters (info, warning, ...)');

export const clientNoticeSend = z.object({
  event: extreamId,
  title: z.string().trim().min(1, 'must not be empty').max(MAX_NOTICE_TITLE_LENGTH, `must be at most ${MAX_NOTICE_TITLE_LENGTH} characters`).optional(),
  // Kept as sent (no trim): its size is bounded after the schema, in bytes, by noticeMaxBytes.
  message: z.string({ error: 'must be text' }).refine((text) => text.trim().length > 0, 'must not be empty'),
  level: level.optional(),
  data: freeData.optional(),
  payload: commandPayload,
});
export type ClientNoticeSend = z.infer<typeof clientNoticeSend>;

/** `{event, before?, limit?}`: the newest `limit` notices before log position `before`, newest last. */
export const consumerNoticeGet = z.object({
  event: extreamId,
  before: z.number({ error: 'must be a number' }).int('must be an integer').positive('must be a seq, above 0').optional(),
  limit: z.number({ error: 'must be a number' }).int('must be an integer').min(1, 'must be at least 1').max(MAX_NOTICE_PAGE, `must be at most ${MAX_NOTICE_PAGE}`).optional(),
  payload: commandPayload,
});
export type ConsumerNoticeGet = z.infer<typeof consumerNoticeGet>;

/** `{id}` or `{ids: [...]}`, exactly one; the output is the distinct ids in order, and which field named them. */
export const consumerNoticeRead = z
  .object({
    id: extreamId.optional(),
    ids: z.array(extreamId).min(1, 'must name at least one notice').max(MAX_NOTICE_READS, `at most ${MAX_NOTICE_READS} notices per command`).optional(),
    payload: commandPayload,
  })
  .refine((data) => (data.id === undefined) !== (data.ids === undefined), { message: 'name the notice as id, or the notices as ids (one of them)', path: ['id'] })
  .transform(({ id, ids, payload }) => ({ ids: [...new Set(id === undefined ? ids : [id])], field: id === undefined ? ('ids' as const) : ('id' as const), payload }));
export type ConsumerNoticeRead = z.output<typeof consumerNoticeRead>;

/** A notice as the wire carries it: in `consumer_notice_receive` and in `consumer_notice_get`'s list (with `read`). */
export interface NoticeView {
  id: string;
  event: string;
  title: string | null;
  message: string;
  level: string;
  data: Record<string, unknown> | null;
  /** ISO 8601, UTC. */
  sent_at: string;
  /** The log position of its NoticeSent: the order of an event's notices, and `before` of the next page. */
  seq: number;
}
