import type { RecordedEvent } from '../../../core/index.js';

/**
 * Events of notices (PROTOCOL.md section 8). Two kinds of stream:
 *
 * - `notice-<noticeId>`, one per notice: a notice is an entity of its own (sent once; later
 *   perhaps withdrawn or edited on its own stream), and its sends do not queue behind each
 *   other as they would on one stream per event. An event's notices in order are the read
 *   model's job (`notices`, by event and log position).
 * - `notice_reads-<userId>`, one per reader: what a user has read is decided on that user's
 *   own stream, so reading a notice twice (two tabs at once included) appends one NoticeRead.
 *
 * Messages and titles are plain text: kept as sent, never read as HTML. Times are epoch ms.
 */

export const NOTICE_CATEGORY = 'notice';
export const NOTICE_READS_CATEGORY = 'notice_reads';

export interface NoticeSentData {
  noticeId: string;
  eventId: string;
  organisationId: string;
  title: string | null;
  message: string;
  level: string;
  /** Free JSON the sender attached, kept as given (bounded at the edge). */
  data: Record<string, unknown> | null;
  sentAt: number;
}

export interface NoticeReadData {
  userId: string;
  noticeId: string;
  eventId: string;
  readAt: number;
}

export type NoticeEvent = { type: 'NoticeSent'; data: NoticeSentData };
export type NoticeReadsEvent = { type: 'NoticeRead'; data: NoticeReadData };

export type RecordedNoticeEvent = RecordedEvent & NoticeEvent;
export type RecordedNoticeReadsEvent = RecordedEvent & NoticeReadsEvent;

/** Every event type of both streams; `satisfies` fails to compile when a union gains one not listed. */
export const NOTICE_EVENT_TYPES = Object.keys({
  NoticeSent: true,
  NoticeRead: true,
} satisfies Record<NoticeEvent['type'] | NoticeReadsEvent['type'], true>) as readonly (NoticeEvent['type'] | NoticeReadsEvent['type'])[];

const NOTICE_PREFIX = `${NOTICE_CATEGORY}-`;
const READS_PREFIX = `${NOTICE_READS_CATEGORY}-`;

/** A notice's event: on a `notice-<id>` stream (the log is the only writer). */
export function isNoticeEvent(event: RecordedEvent): event is RecordedNoticeEvent {
  return event.type === 'NoticeSent' && event.streamId.startsWith(NOTICE_PREFIX);
}

/** A reader's event: on a `notice_reads-<userId>` stream. */
export function isNoticeReadsEvent(event: RecordedEvent): event is RecordedNoticeReadsEvent {
  return event.type === 'NoticeRead' && event.streamId.startsWith(READS_PREFIX);
}
