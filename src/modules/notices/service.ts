import { randomUUID } from 'node:crypto';
import { streamId, type EventMetadata } from '../../core/index.js';
import { formatExtreamDateTime } from '../../protocol/topics/extream.js';
import type { NoticeView } from '../../protocol/topics/notices.js';
import type { ActorRuntime } from '../../runtime/index.js';
import { NOTICE_CATEGORY, NOTICE_READS_CATEGORY, type NoticeCommand, type NoticeReadsCommand, type NoticeSentData } from './domain/index.js';
import type { NoticeBoard, NoticeRecord } from './projection.js';

/** What a notice is sent with: everything but its id and time, which the service and the command give it. */
export type NoticeDraft = Omit<NoticeSentData, 'noticeId' | 'sentAt'>;

/** A notice on the wire, from a NoticeSent (the push) or a read-model row (the list); `seq` is its log position. */
export function noticeView(notice: NoticeSentData, seq: number): NoticeView {
  return {
    id: notice.noticeId,
    event: notice.eventId,
    title: notice.title,
    message: notice.message,
    level: notice.level,
    data: notice.data,
    sent_at: formatExtreamDateTime(notice.sentAt)!,
    seq,
  };
}

export interface NoticesServiceDependencies {
  runtime: ActorRuntime;
  board: NoticeBoard;
}

/**
 * Notices to an event's audience (PROTOCOL.md section 8): sends and reads as commands on their
 * streams. Checks of who may do what are the topics'; this is what any caller (a topic, an
 * operator tool on the same log) runs once they passed.
 */
export class Notices {
  constructor(private readonly deps: NoticesServiceDependencies) {}

  /** Appends the notice on its own stream; the push to the audience follows from the log. */
  async send(draft: NoticeDraft, metadata: EventMetadata, now: number): Promise<{ position: number; notice: NoticeRecord }> {
    const noticeId = randomUUID();
    const command: NoticeCommand = { type: 'SendNotice', noticeId, ...draft, now };
    const result = await this.deps.runtime.execute(streamId(NOTICE_CATEGORY, noticeId), command, metadata);
    const position = result.events.at(-1)!.position;
    return { position, notice: { ...draft, noticeId, sentAt: now, position, sentBy: metadata.actor ?? null } };
  }

  /** Marks the notices read by the user; the position of the last NoticeRead, undefined when all were read already. */
  async read(userId: string, notices: readonly { noticeId: string; eventId: string }[], metadata: EventMetadata, now: number): Promise<number | undefined> {
    const command: NoticeReadsCommand = { type: 'ReadNotices', userId, notices, now };
    const result = await this.deps.runtime.execute(streamId(NOTICE_READS_CATEGORY, userId), command, metadata);
    return result.events.at(-1)?.position;
  }

  get board(): NoticeBoard {
    return this.deps.board;
  }
}
