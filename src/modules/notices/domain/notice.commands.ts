import type { NoticeSentData } from './notice.events.js';

/** Commands carry `now`: domain code never reads the clock. */
export type NoticeCommand = { type: 'SendNotice'; now: number } & Omit<NoticeSentData, 'sentAt'>;

/** Read these notices (each named with its event, for the read model); the ones read already are skipped. */
export type NoticeReadsCommand = { type: 'ReadNotices'; userId: string; notices: readonly { noticeId: string; eventId: string }[]; now: number };
