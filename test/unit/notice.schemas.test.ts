import { describe, expect, it } from 'vitest';
import { clientNoticeSend, consumerNoticeGet, consumerNoticeRead, MAX_NOTICE_READS } from '../../src/protocol/topics/notices.js';

const EVENT = '3b241101-e2bb-4255-8caf-4136c566a962';
const NOTICE = '6f1c2b9e-8a6d-4e57-b1f2-0c0d0e0f0a01';
const OTHER = '6f1c2b9e-8a6d-4e57-b1f2-0c0d0e0f0a02';

const pathOf = (result: { error?: { issues: { path: PropertyKey[] }[] } }) => result.error?.issues[0]?.path.join('.');

describe('notice wire schemas', () => {
  it('client_notice_send keeps the message as sent (HTML included), bounds title, level and data', () => {
    const message = '  <script>alert(1)</script> <b>Doors</b> open  ';
    expect(clientNoticeSend.parse({ event: EVENT, message })).toMatchObject({ event: EVENT, message });
    expect(clientNoticeSend.parse({ event: EVENT, message: 'x', title: ' Hall B ', level: 'warning', data: { room: 'B' } })).toMatchObject({ title: 'Hall B', level: 'warning', data: { room: 'B' } });
    expect(pathOf(clientNoticeSend.safeParse({ event: EVENT }))).toBe('message');
    expect(pathOf(clientNoticeSend.safeParse({ event: EVENT, message: '   ' }))).toBe('message');
    expect(pathOf(clientNoticeSend.safeParse({ event: EVENT, message: 42 }))).toBe('message');
    expect(pathOf(clientNoticeSend.safeParse({ event: 'nope', message: 'x' }))).toBe('event');
    expect(pathOf(clientNoticeSend.safeParse({ event: EVENT, message: 'x', title: 't'.repeat(201) }))).toBe('title');
    expect(pathOf(clientNoticeSend.safeParse({ event: EVENT, message: 'x', level: 'LOUD NOISES' }))).toBe('level');
    expect(pathOf(clientNoticeSend.safeParse({ event: EVENT, message: 'x', data: { blob: 'x'.repeat(20_000) } }))).toBe('data');
  });

  it('consumer_notice_get: before a positive seq, limit 1..200', () => {
    expect(consumerNoticeGet.parse({ event: EVENT, before: 10, limit: 5 })).toMatchObject({ before: 10, limit: 5 });
    expect(pathOf(consumerNoticeGet.safeParse({ event: EVENT, before: 0 }))).toBe('before');
    expect(pathOf(consumerNoticeGet.safeParse({ event: EVENT, limit: 201 }))).toBe('limit');
    expect(pathOf(consumerNoticeGet.safeParse({ event: EVENT, limit: 1.5 }))).toBe('limit');
    expect(pathOf(consumerNoticeGet.safeParse({}))).toBe('event');
  });

  it('consumer_notice_read: id or ids (exactly one), distinct, at most 100', () => {
    expect(consumerNoticeRead.parse({ id: NOTICE })).toMatchObject({ ids: [NOTICE], field: 'id' });
    expect(consumerNoticeRead.parse({ ids: [NOTICE, OTHER, NOTICE] })).toMatchObject({ ids: [NOTICE, OTHER], field: 'ids' });
    expect(pathOf(consumerNoticeRead.safeParse({}))).toBe('id');
    expect(pathOf(consumerNoticeRead.safeParse({ id: NOTICE, ids: [OTHER] }))).toBe('id');
    expect(pathOf(consumerNoticeRead.safeParse({ ids: [] }))).toBe('ids');
    expect(pathOf(consumerNoticeRead.safeParse({ ids: ['x'] }))).toBe('ids.0');
    expect(pathOf(consumerNoticeRead.safeParse({ ids: Array.from({ length: MAX_NOTICE_READS + 1 }, () => NOTICE) }))).toBe('ids');
  });
});
