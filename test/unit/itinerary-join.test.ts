import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { joinItem, publicConfiguration, rtmpStatus, RTMP_LIVE_BEFORE_START_MS, sanitizeItemHtml, storedConfiguration, type JoinableItem, type JoinDependencies } from '../../src/modules/itineraries/join.js';

/** What joining an item answers, per type (join.ts): pure given the item, the time and a token issuer. */

const MINUTE = 60_000;
const START = Date.UTC(2026, 4, 4, 10);
const END = START + 60 * MINUTE;
const ITEM = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';

const issued: { subject: string; room: string; item: string; now: number; ttlSeconds: number }[] = [];
const deps: JoinDependencies = {
  config: { rtmpPlaybackBaseUrl: 'https://play.example.com/live/', rtmpRecordingSeconds: 3600, itemSessionTokenSeconds: 300 },
  issueSessionToken: async (request) => {
    issued.push(request);
    return { token: `token-for-${request.subject}`, expiresAt: request.now + request.ttlSeconds * 1000 };
  },
};
const item = (type: JoinableItem['type'], configuration: Record<string, unknown> = {}, dates = true): JoinableItem => ({
  itemId: ITEM,
  type,
  startDate: dates ? START : null,
  endDate: dates ? END : null,
  configuration,
});
const join = (joinable: JoinableItem, now = START) => joinItem(joinable, { subject: 'user:u1', now }, deps);

describe('rtmp status', () => {
  const dated = { startDate: START, endDate: END };
  const live = START - RTMP_LIVE_BEFORE_START_MS;

  it('is rehearsing until 30 minutes before the start, live from then', () => {
    expect(rtmpStatus(dated, live - 24 * 60 * MINUTE, 3600)).toBe('rehearsing');
    expect(rtmpStatus(dated, live - 1, 3600)).toBe('rehearsing');
    expect(rtmpStatus(dated, live, 3600)).toBe('live');
  });

  it('is live until the end, then recording for the configured seconds, then complete', () => {
    expect(rtmpStatus(dated, START, 3600)).toBe('live');
    expect(rtmpStatus(dated, END - 1, 3600)).toBe('live');
    expect(rtmpStatus(dated, END, 3600)).toBe('recording');
    expect(rtmpStatus(dated, END + 3600 * 1000 - 1, 3600)).toBe('recording');
    expect(rtmpStatus(dated, END + 3600 * 1000, 3600)).toBe('complete');
    expect(rtmpStatus(dated, END + 10, 0)).toBe('complete');
  });

  it('is live for an item without a schedule', () => {
    expect(rtmpStatus({ startDate: null, endDate: null }, 0, 3600)).toBe('live');
  });

  it('answers the playback URL under the configured base, with the status', async () => {
    expect(await join(item('rtmp'), END + MINUTE)).toEqual({ stream_url: `https://play.example.com/live/${ITEM}/index.m3u8`, status: 'recording' });
  });
});

describe('html sanitising (at write)', () => {
  it('strips scripts, event handlers and javascript: URLs, keeps ordinary markup and images', () => {
    const clean = sanitizeItemHtml(
      '<p onclick="steal()" class="x">Hello <b>there</b><script>alert(1)</script></p><img src="https://cdn.example.com/a.png" onerror="steal()" alt="a"><a href="javascript:alert(1)">x</a><a href="https://example.com">ok</a>',
    );
    expect(clean).not.toMatch(/script|onclick|onerror|javascript:/i);
    expect(clean).toContain('<b>there</b>');
    expect(clean).toContain('<img src="https://cdn.example.com/a.png" alt="a" />');
    expect(clean).toContain('<a href="https://example.com">ok</a>');
  });

  it('drops every iframe by default, and keeps those of configured https hosts', () => {
    const html = '<iframe src="https://www.youtube.com/embed/x"></iframe><iframe src="https://evil.example.com/x"></iframe>';
    expect(sanitizeItemHtml(html)).toBe('');
    expect(sanitizeItemHtml(html, ['www.youtube.com'])).toBe('<iframe src="https://www.youtube.com/embed/x"></iframe>');
    expect(sanitizeItemHtml('<iframe src="http://www.youtube.com/embed/x"></iframe>', ['www.youtube.com'])).toBe('');
  });

  it('sanitises only html items’ html when a configuration is stored', () => {
    expect(storedConfiguration('html', { html: '<script>x</script><p>a</p>', theme: 'dark' }, [])).toEqual({ html: '<p>a</p>', theme: 'dark' });
    expect(storedConfiguration('presentation', { html: '<script>x</script>' }, [])).toEqual({ html: '<script>x</script>' });
    expect(storedConfiguration('html', { url: 'https://example.com' }, [])).toEqual({ url: 'https://example.com' });
  });

  it('answers an html item with its stored html, or its url', async () => {
    expect(await join(item('html', { html: '<p>a</p>' }))).toEqual({ html: '<p>a</p>' });
    expect(await join(item('html', { url: 'https://example.com/page' }))).toEqual({ url: 'https://example.com/page' });
    expect(await join(item('html'))).toEqual({ html: '' });
  });
});

describe('join answers per type', () => {
  it('webrtc: the call room (instance, or item-<id>), a short-lived token for the subject, mode and size', async () => {
    issued.length = 0;
    expect(await join(item('webrtc', { mode: 'instant', max_participants: 4 }))).toEqual({
      room: `item-${ITEM}`,
      token: 'token-for-user:u1',
      expires_at: new Date(START + 300_000).toISOString(),
      mode: 'instant',
      max_participants: 4,
    });
    expect(issued).toEqual([{ subject: 'user:u1', room: `item-${ITEM}`, item: ITEM, now: START, ttlSeconds: 300 }]);
    expect(await join(item('webrtc', { instance: 'blue-fox-river' }))).toMatchObject({ room: 'blue-fox-river', mode: 'group', max_participants: null });
  });

  it('zoom: the meeting number and join url; NOT_FOUND without a meeting', async () => {
    expect(await join(item('zoom', { meeting_number: 123456789, join_url: 'https://zoom.us/j/123456789' }))).toEqual({
      meeting_number: '123456789',
      join_url: 'https://zoom.us/j/123456789',
    });
    expect(await join(item('zoom', { meeting_number: '987654321' }))).toEqual({ meeting_number: '987654321', join_url: null });
    const refused = await join(item('zoom')).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: 'NOT_FOUND', message: 'this zoom item has no meeting yet' });
  });

  it('video and vod: the url', async () => {
    expect(await join(item('video', { url: 'https://cdn.example.com/v.mp4' }, false))).toEqual({ url: 'https://cdn.example.com/v.mp4' });
    expect(await join(item('vod'))).toEqual({ url: null });
  });

  it('chat and forum: the chat room and how it is moderated, with defaults', async () => {
    expect(await join(item('chat', { moderation: 'pre-moderate', threads: true, private: true, moderators: ['u2'] }))).toEqual({
      room: `chat-${ITEM}`,
      moderation: 'pre-moderate',
      threads: true,
      private: true,
    });
    expect(await join(item('forum'))).toEqual({ room: `chat-${ITEM}`, moderation: 'trust', threads: false, private: false });
  });

  it('poll: mode, show_responses and the questions without any correct-answer field', async () => {
    const configuration = {
      mode: 'quiz',
      show_responses: true,
      questions: [
        {
          id: 'q1',
          question: 'Capital of France?',
          order: 0,
          time: 30,
          correct: 1,
          correct_answer: 'Paris',
          answers: [
            { id: 'a1', text: 'Lyon', order: 0, correct: false },
            { text: 'Paris', order: 1, is_correct: true },
          ],
        },
      ],
    };
    const answer = await join(item('poll', configuration));
    expect(answer).toEqual({
      mode: 'quiz',
      show_responses: true,
      questions: [{ id: 'q1', question: 'Capital of France?', order: 0, time: 30, answers: [{ id: 'a1', text: 'Lyon', order: 0 }, { text: 'Paris', order: 1 }] }],
    });
    expect(JSON.stringify(answer)).not.toMatch(/correct/);
    expect(await join(item('poll'))).toEqual({ mode: 'poll', show_responses: false, questions: [] });
  });

  it('presentation: its configuration as given', async () => {
    expect(await join(item('presentation', { deck: 'https://slides.example.com/1', page: 3 }))).toEqual({ configuration: { deck: 'https://slides.example.com/1', page: 3 } });
  });
});

describe('publicConfiguration: what attendees may see of an item (consumer reads, joins, pushes)', () => {
  it("keeps a quiz's keys out, whatever field name they hide under", () => {
    const quiz = {
      mode: 'quiz',
      show_responses: true,
      questions: [{ id: 'q1', question: 'Capital of France?', order: 0, time: 20, answers: [{ id: 'a', text: 'Paris', order: 0, correct: true, is_right: 1 }, { text: 'Lyon', order: 1 }] }],
    };
    const visible = publicConfiguration('poll', quiz);
    expect(visible).toEqual({
      mode: 'quiz',
      show_responses: true,
      questions: [{ id: 'q1', question: 'Capital of France?', order: 0, time: 20, answers: [{ id: 'a', text: 'Paris', order: 0 }, { text: 'Lyon', order: 1 }] }],
    });
    expect(JSON.stringify(visible)).not.toMatch(/correct|is_right/);
  });

  it("leaves out a call's criteria and participants (invitees' addresses) and an rtmp item's ingest URL", () => {
    const call = { mode: 'group', max_participants: 8, participants: ['u1'], criteria: { emails: ['guest@example.org'], domains: ['example.org'], groups: ['crew'] } };
    expect(publicConfiguration('webrtc', call)).toEqual({ mode: 'group', max_participants: 8 });
    expect(publicConfiguration('zoom', { ...call, meeting_number: '84512367890' })).toEqual({ mode: 'group', max_participants: 8, meeting_number: '84512367890' });
    expect(publicConfiguration('rtmp', { mode: 'live', broadcast: 'rtmp://ingest.example.com/live/secret', actor: 'u2' })).toEqual({ mode: 'live', actor: 'u2' });
  });

  it('keeps every other type as stored', () => {
    const chat = { moderation: 'pre-moderate', moderators: ['m1'], threads: true };
    expect(publicConfiguration('chat', chat)).toBe(chat);
  });
});
