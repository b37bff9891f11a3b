import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/core/index.js';
import { ClientConnection, type FrameEncoder } from '../../src/edge/connection.js';
import type { ClosedListener } from '../../src/modules/connections/index.js';
import { EventAudiences } from '../../src/modules/event-listings/audiences.js';
import { PresenceRoster } from '../../src/modules/presence/roster.js';
import { displayName } from '../../src/modules/presence/views.js';
import type { UserType } from '../../src/protocol/topics/extream.js';

/**
 * The roster over a real EventAudiences and real ClientConnections on fake sinks: who is
 * counted online, which joins and leaves are pushed to whom in which view, hidden users, second
 * tabs, signing in and out on a joined socket, and that nothing is left behind. Visibility and
 * user types are in-memory stand-ins for the read models.
 */

const EVENT = 'event-1';
const ORG = 'org-1';

interface Frame {
  event: string;
  data: { event: string; user: Record<string, unknown>; seq?: number };
  seq?: number;
}

type Connection = ClientConnection & { frames(): Frame[]; clear(): void };

function fakeConnections() {
  const listeners: ClosedListener[] = [];
  return {
    onClosed: (listener: ClosedListener) => void listeners.push(listener),
    close(connection: ClientConnection) {
      connection.closed = true;
      for (const listener of listeners) void listener(connection);
    },
  };
}

let nextId = 0;
function connection(principal: Principal, encoder?: FrameEncoder): Connection {
  const sent: string[] = [];
  const created = new ClientConnection(
    { id: `c${(nextId += 1)}`, codec: 'json', transport: 'native', remoteAddress: '127.0.0.1', userAgent: null, origin: null },
    { send: (message) => (sent.push(Buffer.from(message).toString('utf8')), 1), end: () => undefined, bufferedAmount: () => 0 },
    { maxBackpressureBytes: 1 << 20, badFrameLimit: 1000, badFrameWindowMs: 1000 },
    () => undefined,
    encoder,
  );
  created.principal = principal;
  return Object.assign(created, {
    frames: () => sent.map((text) => JSON.parse(text.startsWith('42') ? `{"sio":${text.slice(2)}}` : text)).map((frame) => (frame.sio ? { event: frame.sio[0], data: frame.sio[1] } : frame)) as Frame[],
    clear: () => void sent.splice(0),
  });
}

const user = (userId: string): Principal => ({ kind: 'user', userId, organisationId: ORG, groups: [], external: false });
const ANONYMOUS: Principal = { kind: 'anonymous' };

function setup() {
  const connections = fakeConnections();
  const audiences = new EventAudiences(connections, 64);
  const hidden = new Set<string>();
  const userTypes = new Map<string, UserType>();
  const usernames: Record<string, string> = { ada: 'ada@example.org', bob: 'bob', cleo: 'cleo', dan: 'dan' };
  const roster = new PresenceRoster({
    audiences,
    events: {
      get: (eventId) => (eventId === EVENT ? { eventId, organisationId: ORG, public: true, startDate: null, endDate: null } : undefined),
      userTypeOf: (_eventId, userId) => userTypes.get(userId) ?? 'audience',
    },
    users: {
      get: (userId) => {
        const username = usernames[userId];
        return username === undefined ? undefined : { userId, username, organisationId: ORG, groups: ['attendees'], active: true };
      },
    },
    visibility: { isVisible: (userId) => !hidden.has(userId) },
  });
  audiences.onJoined((eventId, member) => roster.joined(eventId, member));
  audiences.onLeft((eventId, member) => roster.left(eventId, member));
  const on = (principal: Principal, eventId = EVENT): Connection => {
    const member = connection(principal);
    audiences.join(eventId, member);
    return member;
  };
  return { audiences, roster, hidden, userTypes, on, close: (member: ClientConnection) => connections.close(member) };
}

const pushes = (member: Connection, event?: string) => member.frames().filter((frame) => event === undefined || frame.event === event);

describe('presence roster', () => {
  it('a second user joining is pushed to the first (names only); the newcomer is not told of itself', () => {
    const { on } = setup();
    const bob = on(user('bob'));
    const cleo = on(user('cleo'));
    expect(pushes(bob)).toEqual([{ event: 'consumer_online_join', data: { event: EVENT, user: { id: 'cleo', name: 'cleo' } } }]);
    expect(pushes(cleo)).toEqual([]);
  });

  it('a second tab is no second join; the last tab to close is the leave', () => {
    const { on, close, roster } = setup();
    const bob = on(user('bob'));
    const first = on(user('cleo'));
    const second = on(user('cleo'));
    expect(pushes(bob, 'consumer_online_join')).toHaveLength(1);
    close(first);
    expect(pushes(bob, 'consumer_online_leave')).toEqual([]);
    close(second);
    expect(pushes(bob, 'consumer_online_leave')).toEqual([{ event: 'consumer_online_leave', data: { event: EVENT, user: { id: 'cleo', name: 'cleo' } } }]);
    close(bob);
    expect(roster.size).toEqual({ events: 0, users: 0, connections: 0 });
  });

  it('crew and chief get profiles without any address; audience and actor get names; one encoding per view', () => {
    const { on, userTypes, audiences } = setup();
    userTypes.set('cleo', 'crew');
    userTypes.set('dan', 'chief');
    userTypes.set('bob', 'actor');
    let encodings = 0;
    const shared: FrameEncoder = { encode: (frame) => ((encodings += 1), [`42${JSON.stringify([frame.event, frame.data])}`]), sharedPushKey: () => 'eio4' };
    const staff = [connection(user('cleo'), shared), connection(user('dan'), shared)];
    const attendees = [connection(user('bob'), shared), connection(ANONYMOUS, shared)];
    for (const member of [...staff, ...attendees]) audiences.join(EVENT, member);
    for (const member of [...staff, ...attendees]) member.clear();
    encodings = 0;
    on(user('ada'));
    expect(encodings).toBe(2);
    for (const member of staff) {
      expect(pushes(member)).toEqual([
        { event: 'consumer_online_join', data: { event: EVENT, user: { id: 'ada', name: 'ada', user_type: 'audience', groups: ['attendees'], organisation: ORG } } },
      ]);
    }
    for (const member of attendees) expect(pushes(member)).toEqual([{ event: 'consumer_online_join', data: { event: EVENT, user: { id: 'ada', name: 'ada' } } }]);
    for (const member of [...staff, ...attendees]) expect(JSON.stringify(member.frames())).not.toContain('example.org');
  });

  it("an organisation's own credential sees profiles; another organisation's sees names", () => {
    const { on } = setup();
    const own = on({ kind: 'organisation', organisationId: ORG, clientId: null });
    const other = on({ kind: 'organisation', organisationId: 'org-2', clientId: null });
    on(user('bob'));
    expect(pushes(own)[0]!.data.user).toMatchObject({ id: 'bob', username: 'bob', user_type: 'audience' });
    expect(pushes(other)[0]!.data.user).toEqual({ id: 'bob', name: 'bob' });
  });

  it('a hidden user is not pushed and not listed, except to itself; its close pushes nothing', () => {
    const { on, close, hidden, roster } = setup();
    const bob = on(user('bob'));
    hidden.add('cleo');
    const cleo = on(user('cleo'));
    expect(pushes(bob)).toEqual([]);
    expect(roster.list(EVENT, bob, undefined, 100).users).toEqual([{ id: 'bob', name: 'bob' }]);
    expect(roster.list(EVENT, cleo, undefined, 100).users).toEqual([{ id: 'cleo', name: 'cleo' }, { id: 'bob', name: 'bob' }]);
    close(cleo);
    expect(pushes(bob)).toEqual([]);
  });

  it('becoming visible pushes the join, hiding the leave, each with the change as seq and once', () => {
    const { on, hidden, roster } = setup();
    const bob = on(user('bob'));
    hidden.add('cleo');
    on(user('cleo'));
    hidden.delete('cleo');
    roster.visibilityChanged('cleo', 41);
    roster.visibilityChanged('cleo', 41);
    hidden.add('cleo');
    roster.visibilityChanged('cleo', 42);
    expect(pushes(bob)).toEqual([
      // The native codec carries the log position beside `event` too (PROTOCOL.md section 11).
      { event: 'consumer_online_join', data: { event: EVENT, user: { id: 'cleo', name: 'cleo' }, seq: 41 }, seq: 41 },
      { event: 'consumer_online_leave', data: { event: EVENT, user: { id: 'cleo', name: 'cleo' }, seq: 42 }, seq: 42 },
    ]);
  });

  it('a user who hid and closed before the change was pushed still gets exactly one leave', () => {
    const { on, close, hidden, roster } = setup();
    const bob = on(user('bob'));
    const cleo = on(user('cleo'));
    // Committed (the read model says hidden), not yet pushed; then the socket closes.
    hidden.add('cleo');
    close(cleo);
    roster.visibilityChanged('cleo', 50);
    expect(pushes(bob).map((frame) => frame.event)).toEqual(['consumer_online_join', 'consumer_online_leave']);
  });

  it('the list filters by user type and shows the viewer its view', () => {
    const { on, userTypes, roster } = setup();
    userTypes.set('cleo', 'crew');
    const bob = on(user('bob'));
    const cleo = on(user('cleo'));
    on(user('dan'));
    expect(roster.list(EVENT, bob, 'crew', 100).users).toEqual([{ id: 'cleo', name: 'cleo' }]);
    const seenByCrew = roster.list(EVENT, cleo, undefined, 100);
    expect(seenByCrew.total).toBe(3);
    expect(seenByCrew.users[0]).toEqual({ id: 'cleo', name: 'cleo', username: 'cleo', user_type: 'crew', groups: ['attendees'], organisation: ORG });
    expect(roster.list(EVENT, bob, undefined, 2)).toMatchObject({ users: [{ id: 'bob' }, { id: 'cleo' }], total: 3 });
  });

  it('a socket that signs in after joining is counted as the user from its next list; signing out is the leave', () => {
    const { on, roster } = setup();
    const bob = on(user('bob'));
    const socket = on(ANONYMOUS);
    expect(pushes(bob)).toEqual([]);
    socket.principal = user('cleo');
    expect(roster.list(EVENT, bob, undefined, 100).users.map((entry) => entry.id)).toEqual(['bob', 'cleo']);
    expect(pushes(bob, 'consumer_online_join')).toHaveLength(1);
    socket.principal = ANONYMOUS;
    expect(roster.reconcile(socket)).toBe(true);
    expect(pushes(bob, 'consumer_online_leave')).toHaveLength(1);
    expect(roster.list(EVENT, bob, undefined, 100).users.map((entry) => entry.id)).toEqual(['bob']);
  });

  it('a socket that signed out of a crew account gets names, reconciled or not', () => {
    const { on, userTypes } = setup();
    userTypes.set('cleo', 'crew');
    const socket = on(user('cleo'));
    socket.principal = ANONYMOUS;
    on(user('bob'));
    expect(pushes(socket)).toEqual([{ event: 'consumer_online_join', data: { event: EVENT, user: { id: 'bob', name: 'bob' } } }]);
  });

  it('a promotion to crew (EventUserTypeSet) switches the view that user gets', () => {
    const { on, roster } = setup();
    const cleo = on(user('cleo'));
    on(user('bob'));
    roster.userTypeChanged(EVENT, 'cleo', 'chief');
    on(user('dan'));
    expect(pushes(cleo).map((frame) => Object.keys(frame.data.user).sort())).toEqual([
      ['id', 'name'],
      ['groups', 'id', 'name', 'organisation', 'user_type', 'username'],
    ]);
  });

  it('a deleted event pushes nothing and leaves nothing behind', () => {
    const { on, audiences, roster } = setup();
    const bob = on(user('bob'));
    on(user('cleo'));
    bob.clear();
    audiences.dropEvent(EVENT);
    expect(pushes(bob)).toEqual([]);
    expect(roster.size).toEqual({ events: 0, users: 0, connections: 0 });
  });

  it('names are usernames, an address shown by its local part only', () => {
    expect(displayName('bob')).toBe('bob');
    expect(displayName('ada@example.org')).toBe('ada');
    expect(displayName('@example.org')).toBeNull();
  });
});
