import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/core/index.js';
import { ClientConnection } from '../../src/edge/connection.js';
import { CallPresence } from '../../src/modules/calls/index.js';
import { partyOf } from '../../src/modules/calls/parties.js';

/**
 * Who is on which webrtc item for calls (rings, offers, a group's waiting): in memory, bounded
 * per connection, cleared when a connection closes, and never reaching a socket as someone it
 * no longer speaks for.
 */

const user = (userId: string): Principal => ({ kind: 'user', userId, organisationId: null, groups: [], external: false });

function connection(id: string, principal: Principal): ClientConnection {
  const sink = { send: () => 1, end: () => undefined, bufferedAmount: () => 0 };
  const opened = new ClientConnection({ id, codec: 'json', transport: 'native', remoteAddress: '127.0.0.1', userAgent: null, origin: null }, sink, { maxBackpressureBytes: 1 << 20, badFrameLimit: 20, badFrameWindowMs: 10_000 }, () => undefined);
  opened.principal = principal;
  return opened;
}

function presence(perConnection = 3) {
  const listeners: ((closed: ClientConnection) => void)[] = [];
  const index = new CallPresence({ onClosed: (listener) => void listeners.push(listener) }, perConnection, (socket, party) => partyOf(socket.principal) === party);
  return { index, close: (socket: ClientConnection) => listeners.forEach((listener) => listener(socket)) };
}

describe('call presence', () => {
  it("finds a party's connections on an item, newest last; operators apart from those waiting, in the order they came", () => {
    const { index } = presence();
    const [ada1, ada2, bob, olga] = [connection('a1', user('ada')), connection('a2', user('ada')), connection('b', user('bob')), connection('o', user('olga'))];
    index.enter('item', ada1, 'ada', false);
    index.enter('item', bob, 'bob', false);
    index.enter('item', olga, 'olga', true);
    index.enter('item', ada2, 'ada', false);
    expect(index.connectionsOf('item', 'ada')).toEqual([ada1, ada2]);
    expect(index.latestOf('item', 'ada')).toBe(ada2);
    expect(index.operators('item')).toEqual(['olga']);
    expect(index.waiting('item').map(({ party, connection: socket }) => [party, socket.id])).toEqual([['ada', 'a2'], ['bob', 'b']]);
    expect(index.connectionsOf('other', 'ada')).toEqual([]);
  });

  it('a closed connection leaves every item; nothing stays behind', () => {
    const { index, close } = presence();
    const ada = connection('a', user('ada'));
    index.enter('one', ada, 'ada', false);
    index.enter('two', ada, 'ada', true);
    close(ada);
    expect(index.size).toEqual({ items: 0, connections: 0 });
    // One that closed before it came is not taken in at all.
    const gone = connection('g', user('gus'));
    gone.closed = true;
    index.enter('one', gone, 'gus', false);
    expect(index.size).toEqual({ items: 0, connections: 0 });
  });

  it('is bounded per connection: past the bound the item it came to longest ago is dropped', () => {
    const { index } = presence(2);
    const ada = connection('a', user('ada'));
    for (const item of ['one', 'two', 'three']) index.enter(item, ada, 'ada', false);
    expect(index.connectionsOf('one', 'ada')).toEqual([]);
    expect(index.connectionsOf('three', 'ada')).toEqual([ada]);
    // A second visit refreshes its place: 'two' outlives 'three' now.
    index.enter('two', ada, 'ada', false);
    index.enter('four', ada, 'ada', false);
    expect(index.connectionsOf('two', 'ada')).toEqual([ada]);
    expect(index.connectionsOf('three', 'ada')).toEqual([]);
    expect(index.size.items).toBe(2);
  });

  it('a socket signed in as someone else is no longer reached as whom it was', () => {
    const { index } = presence();
    const socket = connection('s', user('ada'));
    index.enter('item', socket, 'ada', true);
    socket.principal = user('bob');
    expect(index.connectionsOf('item', 'ada')).toEqual([]);
    expect(index.operators('item')).toEqual([]);
    index.enter('item', socket, 'bob', false);
    expect(index.connectionsOf('item', 'bob')).toEqual([socket]);
    expect(index.waiting('item').map(({ party }) => party)).toEqual(['bob']);
  });
});
