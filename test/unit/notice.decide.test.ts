import { describe, expect, it } from 'vitest';
import {
  noticeAggregate,
  noticeReadsAggregate,
  type NoticeCommand,
  type NoticeEvent,
  type NoticeReadsCommand,
  type NoticeReadsEvent,
} from '../../src/modules/notices/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

const notices = deciderSpec(noticeAggregate);
const reads = deciderSpec(noticeReadsAggregate);
const NOW = 1_800_000_000_000;
const NOTICE = '6f1c2b9e-8a6d-4e57-b1f2-0c0d0e0f0a01';
const OTHER = '6f1c2b9e-8a6d-4e57-b1f2-0c0d0e0f0a02';
const EVENT = 'event-1';

const draft = {
  noticeId: NOTICE,
  eventId: EVENT,
  organisationId: 'org-1',
  title: 'Doors open',
  message: '<b>Hall B</b> in 5 minutes',
  level: 'info',
  data: { room: 'B' },
};
const send: NoticeCommand = { type: 'SendNotice', ...draft, now: NOW };
const sent: NoticeEvent = { type: 'NoticeSent', data: { ...draft, sentAt: NOW } };

const readNotices = (...ids: string[]): NoticeReadsCommand => ({ type: 'ReadNotices', userId: 'user-1', notices: ids.map((noticeId) => ({ noticeId, eventId: EVENT })), now: NOW + 10 });
const noticeRead = (noticeId: string): NoticeReadsEvent => ({ type: 'NoticeRead', data: { userId: 'user-1', noticeId, eventId: EVENT, readAt: NOW + 10 } });

describe('notice decide', () => {
  it('sends once, keeping the message as text (no HTML is read or removed)', () => {
    const after = notices.given().when(send).then([sent]);
    expect(after.state.value).toBe('sent');
    after.when(send).thenThrows('CONFLICT');
  });
});

describe('notice reads decide', () => {
  it('reads each notice once: a second read records nothing', () => {
    const after = reads.given().when(readNotices(NOTICE)).then([noticeRead(NOTICE)]);
    expect(after.state.context.read).toEqual({ [NOTICE]: true });
    after.when(readNotices(NOTICE)).then([]);
  });

  it('records only the unread ones of a batch, and a notice named twice once', () => {
    reads.given([noticeRead(NOTICE)]).when(readNotices(NOTICE, OTHER, OTHER)).then([noticeRead(OTHER)]);
  });

  it('an empty batch records nothing', () => {
    reads.given().when(readNotices()).then([]);
  });
});
