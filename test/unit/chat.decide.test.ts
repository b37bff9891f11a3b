import { describe, expect, it } from 'vitest';
import { chatAggregate, placementOf, mayRead, type ChatCommand, type ChatEvent, type KnownMessage } from '../../src/modules/chat/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

const spec = deciderSpec(chatAggregate);
const ITEM = '6f1c1d2e-0000-4000-8000-000000000001';
const CONVERSATION = '6f1c1d2e-0000-4000-8000-000000000002';
const NOW = 1_900_000_000_000;
const NO_BANS = {};
const trust = { moderation: 'trust', private: false } as const;

const post = (overrides: Partial<Extract<ChatCommand, { type: 'PostMessage' }>> = {}): ChatCommand => ({
  type: 'PostMessage',
  messageId: 'm1',
  instanceId: ITEM,
  itemId: ITEM,
  author: 'ada',
  authorName: 'Ada',
  authorIsModerator: false,
  text: '<script>x</script>',
  parent: null,
  parentId: null,
  rules: trust,
  itemBans: NO_BANS,
  now: NOW,
  ...overrides,
});

const itemChatStarted = (startedBy = 'ada'): ChatEvent => ({
  type: 'ChatInstanceStarted',
  data: { instanceId: ITEM, itemId: ITEM, main: true, mode: 'group', participants: [], startedBy, startedAt: NOW },
});
const posted = (messageId: string, author: string, extra: Partial<Extract<ChatEvent, { type: 'ChatMessagePosted' }>['data']> = {}): ChatEvent => ({
  type: 'ChatMessagePosted',
  data: { messageId, instanceId: ITEM, itemId: ITEM, author, authorName: author, text: 't', parent: null, parentAuthor: null, status: 'visible', visibility: 'everyone', postedAt: NOW, ...extra },
});
const known = (messageId: string, author: string, extra: Partial<KnownMessage> = {}): KnownMessage => ({
  messageId,
  instanceId: ITEM,
  author,
  parentAuthor: null,
  status: 'visible',
  visibility: 'everyone',
  removed: false,
  ...extra,
});
const conversation = (mode: 'direct' | 'round-robin', participants: string[]): ChatEvent => ({
  type: 'ChatInstanceStarted',
  data: { instanceId: CONVERSATION, itemId: ITEM, main: false, mode, participants, startedBy: participants[0]!, startedAt: NOW },
});
const banned = (user: string, until: number | null): ChatEvent => ({
  type: 'ChatUserBanned',
  data: { itemId: ITEM, instanceId: ITEM, user, until, by: 'mona', reason: null, bannedAt: NOW },
});

describe('chat decide', () => {
  it("the item's chat starts with its first message, text kept as sent", () => {
    const after = spec.given().when(post()).then([itemChatStarted(), { ...posted('m1', 'ada', { authorName: 'Ada', text: '<script>x</script>' }) }]);
    expect(after.state.value).toBe('open');
    after.when(post({ messageId: 'm2' })).then([posted('m2', 'ada', { authorName: 'Ada', text: '<script>x</script>' })]);
  });

  it('a banned author is refused FORBIDDEN (locked) inside the append; a lapsed ban is no ban', () => {
    const history = spec.given([itemChatStarted(), banned('ada', NOW + 60_000)]);
    const refusal = history.when(post()).thenThrows('FORBIDDEN', /banned from this chat until/);
    expect(refusal.details).toMatchObject({ reason: 'locked' });
    history.when(post({ now: NOW + 60_000 })).then([posted('m1', 'ada', { authorName: 'Ada', text: '<script>x</script>', postedAt: NOW + 60_000 })]);
    spec.given([itemChatStarted(), banned('ada', null)]).when(post({ now: NOW + 10 ** 9 })).thenThrows('FORBIDDEN', 'you are banned from this chat');
  });

  it("a started conversation checks the item's bans it is given, and only takes its participants' messages", () => {
    const direct = spec.given([conversation('direct', ['ada', 'bob'])]);
    const inConversation = { instanceId: CONVERSATION };
    direct.when(post({ ...inConversation, author: 'cyd' })).thenThrows('FORBIDDEN', 'you are not a participant of this conversation');
    direct.when(post({ ...inConversation, itemBans: { ada: null } })).thenThrows('FORBIDDEN', 'you are banned from this chat');
    expect(direct.when(post(inConversation)).events).toHaveLength(1);
    spec.given().when(post(inConversation)).thenThrows('NOT_FOUND', 'unknown chat instance');
    spec.given([conversation('round-robin', ['ada'])]).when(post({ ...inConversation, author: 'opal' })).thenThrows('FORBIDDEN', /client_chat_activate/);
  });

  it('a reply needs a live parent of the same conversation, and records its author', () => {
    const history = spec.given([itemChatStarted(), posted('q1', 'ada')]);
    const reply = history.when(post({ messageId: 'r1', author: 'mona', parentId: 'q1', parent: known('q1', 'ada') })).events;
    expect(reply[0]!.data).toMatchObject({ parent: 'q1', parentAuthor: 'ada' });
    history.when(post({ parentId: 'nope', parent: undefined })).thenThrows('NOT_FOUND', 'unknown message');
    history.when(post({ parentId: 'q1', parent: known('q1', 'ada', { removed: true }) })).thenThrows('NOT_FOUND');
    history.when(post({ parentId: 'q1', parent: known('q1', 'ada', { instanceId: CONVERSATION }) })).thenThrows('NOT_FOUND');
  });

  it('publishes a held or restricted message once; removes by author or moderator only, once', () => {
    const history = spec.given([itemChatStarted(), posted('q1', 'ada', { status: 'held', visibility: 'restricted' })]);
    const publish: ChatCommand = { type: 'PublishMessage', messageId: 'q1', message: known('q1', 'ada', { status: 'held', visibility: 'restricted' }), by: 'mona', now: NOW };
    history.when(publish).then([{ type: 'ChatMessagePublished', data: { messageId: 'q1', instanceId: ITEM, itemId: ITEM, by: 'mona', publishedAt: NOW } }]);
    history.when({ ...publish, message: known('q1', 'ada') }).then([]);
    const remove = (by: string, byModerator: boolean, message: KnownMessage | undefined = known('q1', 'ada')): ChatCommand => ({
      type: 'RemoveMessage', messageId: 'q1', message, by, byModerator, reason: null, now: NOW,
    });
    history.when(remove('bob', false)).thenThrows('FORBIDDEN', 'only its author or a moderator may remove a message');
    history.when(remove('ada', false)).then([
      { type: 'ChatMessageRemoved', data: { messageId: 'q1', instanceId: ITEM, itemId: ITEM, author: 'ada', parentAuthor: null, visibility: 'everyone', by: 'ada', reason: null, removedAt: NOW } },
    ]);
    expect(history.when(remove('mona', true)).events).toHaveLength(1);
    history.when(remove('ada', false, known('q1', 'ada', { removed: true }))).then([]);
    history.when({ type: 'RemoveMessage', messageId: 'nope', message: undefined, by: 'ada', byModerator: false, reason: null, now: NOW }).thenThrows('NOT_FOUND');
  });

  it('bans: never a moderator (CONFLICT), never into the past; unbanning the unbanned changes nothing', () => {
    const ban = (overrides: Partial<Extract<ChatCommand, { type: 'BanUser' }>> = {}): ChatCommand => ({
      type: 'BanUser', itemId: ITEM, user: 'bob', until: NOW + 1000, reason: null, by: 'mona', targetIsModerator: false, now: NOW, ...overrides,
    });
    spec.given().when(ban({ targetIsModerator: true })).thenThrows('CONFLICT', 'a moderator of this chat cannot be banned');
    spec.given().when(ban({ until: NOW })).thenThrows('BAD_REQUEST');
    const after = spec.given().when(ban()).then([itemChatStarted('mona'), banned('bob', NOW + 1000)]);
    expect(after.state.context.bans).toEqual({ bob: NOW + 1000 });
    const unban: ChatCommand = { type: 'UnbanUser', itemId: ITEM, user: 'bob', by: 'mona', now: NOW };
    expect(after.when(unban).after.state.context.bans).toEqual({});
    after.when({ ...unban, user: 'cyd' }).then([]);
  });

  it('conversations: people are added by a participant or a moderator, within the limit; the last to leave closes it', () => {
    const direct = spec.given([conversation('direct', ['ada', 'bob'])]);
    const add = (by: string, users: string[], byModerator = false, maxParticipants = 3): ChatCommand => ({ type: 'AddParticipants', users, by, byModerator, itemBans: NO_BANS, maxParticipants, now: NOW });
    direct.when(add('cyd', ['dan'])).thenThrows('FORBIDDEN');
    direct.when(add('ada', ['bob'])).then([]);
    direct.when(add('ada', ['cyd', 'dan'])).thenThrows('LIMIT_EXCEEDED');
    direct.when(add('mona', ['cyd'], true)).then([{ type: 'ChatParticipantsAdded', data: { instanceId: CONVERSATION, itemId: ITEM, users: ['cyd'], by: 'mona', addedAt: NOW } }]);
    const leave = (user: string): ChatCommand => ({ type: 'LeaveChat', user, now: NOW });
    const bobLeft = direct.when(leave('bob')).then([{ type: 'ChatParticipantLeft', data: { instanceId: CONVERSATION, itemId: ITEM, user: 'bob', leftAt: NOW } }]);
    bobLeft.when(leave('bob')).then([]);
    const closed = bobLeft.when(leave('ada')).then([
      { type: 'ChatParticipantLeft', data: { instanceId: CONVERSATION, itemId: ITEM, user: 'ada', leftAt: NOW } },
      { type: 'ChatInstanceClosed', data: { instanceId: CONVERSATION, itemId: ITEM, closedAt: NOW } },
    ]);
    expect(closed.state.value).toBe('closed');
    closed.when(post({ instanceId: CONVERSATION })).thenThrows('CONFLICT', /ended/);
    expect(chatAggregate.keepWhile!(closed.state)).toBe(false);
  });

  it('round-robin: one operator takes a waiting chat; a second is refused; taking again is no change', () => {
    const waiting = spec.given([conversation('round-robin', ['ada'])]);
    const take = (operator: string): ChatCommand => ({ type: 'TakeChat', operator, now: NOW });
    const taken = waiting.when(take('opal')).then([{ type: 'ChatInstanceActivated', data: { instanceId: CONVERSATION, itemId: ITEM, operator: 'opal', activatedAt: NOW } }]);
    expect(taken.state.context.participants).toEqual(['ada', 'opal']);
    taken.when(take('opal')).then([]);
    taken.when(take('otto')).thenThrows('CONFLICT', 'another operator took this chat');
    spec.given([conversation('direct', ['ada', 'bob'])]).when(take('opal')).thenThrows('BAD_REQUEST');
  });
});

describe('chat visibility', () => {
  const reader = (subject: string, moderator = false) => ({ subject, moderator });
  it('pre-moderation holds what non-moderators post, in any chat', () => {
    for (const main of [true, false]) {
      for (const isPrivate of [true, false]) {
        expect(placementOf({ main, rules: { moderation: 'pre-moderate', private: isPrivate }, authorIsModerator: false, reply: false })).toEqual({ status: 'held', visibility: 'restricted' });
        expect(placementOf({ main, rules: { moderation: 'pre-moderate', private: isPrivate }, authorIsModerator: true, reply: false }).status).toBe('visible');
      }
    }
  });

  it("a private item chat: participants' messages and every reply restricted, a moderator's top-level message for everyone", () => {
    const rules = { moderation: 'trust', private: true } as const;
    expect(placementOf({ main: true, rules, authorIsModerator: false, reply: false }).visibility).toBe('restricted');
    expect(placementOf({ main: true, rules, authorIsModerator: true, reply: false }).visibility).toBe('everyone');
    expect(placementOf({ main: true, rules, authorIsModerator: true, reply: true }).visibility).toBe('restricted');
    // A started conversation is private by who is in it: everyone in it reads everything.
    expect(placementOf({ main: false, rules, authorIsModerator: false, reply: true }).visibility).toBe('everyone');
    expect(placementOf({ main: true, rules: trust, authorIsModerator: false, reply: true }).visibility).toBe('everyone');
  });

  it('a restricted message is read by its author, the requester and moderators only', () => {
    const message = { author: 'mona', parentAuthor: 'ada', visibility: 'restricted' } as const;
    expect(mayRead(reader('mona'), message)).toBe(true);
    expect(mayRead(reader('ada'), message)).toBe(true);
    expect(mayRead(reader('olga', true), message)).toBe(true);
    expect(mayRead(reader('bob'), message)).toBe(false);
    expect(mayRead(reader('bob'), { ...message, visibility: 'everyone' })).toBe(true);
  });
});
