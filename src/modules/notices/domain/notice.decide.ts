import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import type { NoticeCommand, NoticeReadsCommand } from './notice.commands.js';
import type { NoticeEvent, NoticeReadsEvent } from './notice.events.js';
import type { noticeMachine, noticeReadsMachine } from './notice.machine.js';

export type NoticeSnapshot = SnapshotFrom<typeof noticeMachine>;
export type NoticeReadsSnapshot = SnapshotFrom<typeof noticeReadsMachine>;

/** Checks a command against the notice's state and returns the events it causes. */
export function decideNotice(command: NoticeCommand, snapshot: NoticeSnapshot): NoticeEvent[] {
  switch (command.type) {
    case 'SendNotice': {
      // Ids are made by the gateway: a second send on one stream is a bug or a replayed command.
      if (!snapshot.matches('none')) throw new AppError('CONFLICT', 'this notice was sent already');
      const { type: _type, now, ...data } = command;
      return [{ type: 'NoticeSent', data: { ...data, sentAt: now } }];
    }
  }
}

/** Checks a command against what the reader has read and returns the events it causes. */
export function decideNoticeReads(command: NoticeReadsCommand, snapshot: NoticeReadsSnapshot): NoticeReadsEvent[] {
  switch (command.type) {
    case 'ReadNotices': {
      const { read } = snapshot.context;
      const seen = new Set<string>();
      const events: NoticeReadsEvent[] = [];
      for (const { noticeId, eventId } of command.notices) {
        // Reading a notice read already, or named twice in one command, records nothing more.
        if (read[noticeId] || seen.has(noticeId)) continue;
        seen.add(noticeId);
        events.push({ type: 'NoticeRead', data: { userId: command.userId, noticeId, eventId, readAt: command.now } });
      }
      return events;
    }
  }
}
