import { describe, expect, it } from 'vitest';
import type { Codec } from '../../src/core/index.js';
import { ClientConnection, type FrameEncoder } from '../../src/edge/connection.js';
import { ChatAudiences, type ChatFollower } from '../../src/modules/chat/audiences.js';
import type { ChatEvent } from '../../src/modules/chat/domain/index.js';
import { ChatGate } from '../../src/modules/chat/gate.js';
import { chatProcessors } from '../../src/modules/chat/processors.js';
import { ChatDirectory, chatProjection } from '../../src/modules/chat/projection.js';
import type { OutboundFrame } from '../../src/protocol/index.js';
import { openScratchDatabase } from '../../src/store/index.js';
import type { RecordedEvent } from '../../src/core/index.js';

/**
 * The chat's fan-out without a gateway: real ClientConnections over fake sinks, a real read
 * model in an in-memory database, and the push processor fed recorded events. A message
 * everyone reads is encoded once per wire format for all followers; a restricted one reaches
 * only the followers the visibility rule admits; every push carries its event's position as
 * `seq`; followings are bounded per socket and end with the socket.
 */

const ITEM = '7a0c0000-0000-4000-8000-000000000001';
const ORG = 'org-1';
const EVENT = 'event-1';

function fakeConnections() {
  const listeners: ((connection: ClientConnection) => void)[] = [];
  return {
    onClosed: (listener: (connection: ClientConnection) => void) => void listeners.push(listener),
    close(connection: ClientConnection) {
      connection.closed = true;
      for (const listener of listeners) listener(connection);
    },
  };
}

let nextId = 0;
/** A connection whose encoder records each frame it is asked to encode (shared by key, as Socket.IO's are). */
function connection(frames: OutboundFrame[] = [], codec: Codec = 'json', key: string | undefined = 'eio4'): ClientConnection & { sent: (string | Uint8Array)[] } {
  const sent: (string | Uint8Array)[] = [];
  const encoder: FrameEncoder = {
    encode: (frame) => {
      frames.push(frame);
      return [`42${JSON.stringify([frame.event, frame.data])}`];
    },
    sharedPushKey: () => key,
  };
  const created = new ClientConnection(
    { id: `c${(nextId += 1)}`, codec, transport: 'socket.io', remoteAddress: '127.0.0.1', userAgent: null, origin: null },
    { send: (message) => (sent.push(message), 1), end: () => undefined, bufferedAmount: () => 0 },
    { maxBackpressureBytes: 1 << 20, badFrameLimit: 1000, badFrameWindowMs: 1000 },
    () => undefined,
    encoder,
  );
  return Object.assign(created, { sent });
}

const follower = (subject: string, moderator = false): ChatFollower => ({ subject, userId: subject, name: subject, moderator, operator: false });
const followed = { itemId: ITEM, eventId: EVENT, organisationId: ORG };

let position = 0;
const recorded = (event: ChatEvent, instanceId = ITEM): RecordedEvent => ({ ...event, position: (position += 1), streamId: `chat-${instanceId}`, version: position, metadata: {}, recordedAt: 0 });
const posted = (messageId: string, author: string, extra: Record<string, unknown> = {}): ChatEvent => ({
  type: 'ChatMessagePosted',
  data: { messageId, instanceId: ITEM, itemId: ITEM, author, authorName: author, text: '<b>hi</b>', parent: null, parentAuthor: null, status: 'visible', visibility: 'everyone', postedAt: 0, ...extra },
});

function world() {
  const connections = fakeConnections();
  const audiences = new ChatAudiences(connections, 4);
  const db = openScratchDatabase();
  chatProjection.setup(db);
  const directory = new ChatDirectory(db);
  const gate = new ChatGate(
    {
      items: { get: () => ({ itemId: ITEM, itineraryId: 'it', eventId: EVENT, organisationId: ORG, type: 'chat', startDate: null, endDate: null, configuration: {} }) },
      events: { get: () => ({ eventId: EVENT, organisationId: ORG, public: true, startDate: null, endDate: null }), userTypeOf: () => 'audience' },
      access: { require: () => undefined, can: () => false, isMember: () => false, requireLogin: () => undefined, participant: () => undefined },
      users: { get: () => undefined },
    },
    10,
  );
  const [pushes] = chatProcessors({ audiences, directory, gate, eventAudiences: { members: () => new Set() }, logger: { warn: () => undefined } });
  const handle = (...events: RecordedEvent[]) => {
    for (const event of events) chatProjection.apply(db, event);
    void pushes!.handle(events);
  };
  return { connections, audiences, handle };
}

describe('chat pushes', () => {
  it('a message everyone reads: one encoding for every follower, the same bytes to each, seq the position', () => {
    const { audiences, handle } = world();
    const frames: OutboundFrame[] = [];
    const followers = Array.from({ length: 100 }, () => connection(frames));
    followers.forEach((member, index) => audiences.join(ITEM, followed, member, follower(`u${index}`)));
    const event = recorded(posted('m1', 'u1'));
    handle(event);
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatchObject({ event: 'consumer_chat_receive', seq: event.position, data: { item: ITEM, instance: ITEM, message: { id: 'm1', text: '<b>hi</b>', position: event.position } } });
    for (const member of followers) expect(member.sent).toHaveLength(1);
    expect(followers[99]!.sent[0]).toBe(followers[0]!.sent[0]);
  });

  it('a restricted message reaches the author, the requester and the moderators only', () => {
    const { audiences, handle } = world();
    const frames: OutboundFrame[] = [];
    const [author, requester, moderator, bystander] = ['mona', 'ada', 'olga', 'bob'].map((subject) => {
      const member = connection(frames);
      audiences.join(ITEM, followed, member, follower(subject, subject === 'olga'));
      return member;
    }) as [ReturnType<typeof connection>, ReturnType<typeof connection>, ReturnType<typeof connection>, ReturnType<typeof connection>];
    handle(recorded(posted('r1', 'mona', { parent: 'q1', parentAuthor: 'ada', visibility: 'restricted' })));
    for (const member of [author, requester, moderator]) expect(member.sent).toHaveLength(1);
    expect(bystander.sent).toEqual([]);
    // Its removal goes the same way.
    handle(recorded({ type: 'ChatMessageRemoved', data: { messageId: 'r1', instanceId: ITEM, itemId: ITEM, author: 'mona', parentAuthor: 'ada', visibility: 'restricted', by: 'olga', reason: null, removedAt: 0 } }));
    expect(bystander.sent).toEqual([]);
    expect(frames.at(-1)).toMatchObject({ event: 'consumer_chat_remove', data: { message: 'r1', by: 'olga' } });
  });

  it('a held message published: everyone gets it, visible, with the publication as seq', () => {
    const { audiences, handle } = world();
    const frames: OutboundFrame[] = [];
    const bystander = connection(frames);
    audiences.join(ITEM, followed, bystander, follower('bob'));
    handle(recorded({ type: 'ChatInstanceStarted', data: { instanceId: ITEM, itemId: ITEM, main: true, mode: 'group', participants: [], startedBy: 'ada', startedAt: 0 } }));
    handle(recorded(posted('h1', 'ada', { status: 'held', visibility: 'restricted' })));
    expect(bystander.sent).toEqual([]);
    const published = recorded({ type: 'ChatMessagePublished', data: { messageId: 'h1', instanceId: ITEM, itemId: ITEM, by: 'olga', publishedAt: 5 } });
    handle(published);
    expect(frames).toEqual([expect.objectContaining({ event: 'consumer_chat_receive', seq: published.position, data: expect.objectContaining({ message: expect.objectContaining({ id: 'h1', status: 'visible', visibility: 'everyone' }) }) })]);
  });
});

describe('chat audiences', () => {
  it('bounds the chats one socket follows, dropping the one it opened longest ago', () => {
    const audiences = new ChatAudiences(fakeConnections(), 2);
    const member = connection();
    for (const instance of ['i1', 'i2', 'i1', 'i3']) audiences.join(instance, followed, member, follower('ada'));
    expect(audiences.instancesOf(member)).toEqual(['i1', 'i3']);
    expect(audiences.followers('i2').size).toBe(0);
  });

  it('a closed socket follows nothing, and a closed one is never joined', () => {
    const connections = fakeConnections();
    const audiences = new ChatAudiences(connections, 8);
    const a = connection();
    const b = connection();
    audiences.join('i1', followed, a, follower('ada'));
    audiences.join('i2', followed, a, follower('ada'));
    audiences.join('i1', followed, b, follower('bob'));
    connections.close(a);
    expect([...audiences.followers('i1').keys()]).toEqual([b]);
    connections.close(b);
    expect(audiences.size).toEqual({ instances: 0, connections: 0 });
    expect(audiences.join('i1', followed, a, follower('ada'))).toBe(false);
    expect(audiences.size).toEqual({ instances: 0, connections: 0 });
  });
});
