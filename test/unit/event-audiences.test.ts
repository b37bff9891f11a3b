import { describe, expect, it } from 'vitest';
import type { Codec } from '../../src/core/index.js';
import { ClientConnection, type FrameEncoder } from '../../src/edge/connection.js';
import type { ClosedListener } from '../../src/modules/connections/index.js';
import { EventAudiences } from '../../src/modules/event-listings/audiences.js';
import type { OutboundFrame } from '../../src/protocol/index.js';

/**
 * Who is "on" an event: joins, leaves, the per-connection bound, cleanup when a socket
 * closes, and one encoding per wire format for a push to many. Real ClientConnections over
 * fake sinks, so the push goes through the same sends and backpressure checks as on a socket.
 */

interface Sent {
  message: string | Uint8Array;
  binary: boolean;
}

/** Stands in for Connections: the test fires the close listeners a real close would. */
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
function connection(codec: Codec = 'json', encoder?: FrameEncoder, status = 1): ClientConnection & { sent: Sent[] } {
  const sent: Sent[] = [];
  const created = new ClientConnection(
    { id: `c${(nextId += 1)}`, codec, transport: 'native', remoteAddress: '127.0.0.1', userAgent: null, origin: null },
    { send: (message, binary) => (sent.push({ message, binary }), status), end: () => undefined, bufferedAmount: () => (status === 0 ? 1 << 30 : 0) },
    { maxBackpressureBytes: 1 << 20, badFrameLimit: 1000, badFrameWindowMs: 1000 },
    () => undefined,
    encoder,
  );
  return Object.assign(created, { sent });
}

const EVENT_A = 'event-a';
const EVENT_B = 'event-b';
const push: OutboundFrame = { event: 'consumer_itinerary_update', data: { id: 'i1', name: 'Day one' } };

describe('event audiences', () => {
  it('joins idempotently and leaves', () => {
    const audiences = new EventAudiences(fakeConnections(), 64);
    const a = connection();
    expect(audiences.join(EVENT_A, a)).toBe(true);
    expect(audiences.join(EVENT_A, a)).toBe(false);
    expect([...audiences.members(EVENT_A)]).toEqual([a]);
    expect(audiences.leave(EVENT_A, a)).toBe(true);
    expect(audiences.leave(EVENT_A, a)).toBe(false);
    expect(audiences.members(EVENT_A).size).toBe(0);
    expect(audiences.size).toEqual({ events: 0, connections: 0 });
  });

  it('keeps a connection on at most the configured number of events, dropping the one joined longest ago', () => {
    const audiences = new EventAudiences(fakeConnections(), 3);
    const a = connection();
    for (const id of ['e1', 'e2', 'e3']) audiences.join(id, a);
    // A re-join refreshes e1, so e2 is now the oldest.
    audiences.join('e1', a);
    audiences.join('e4', a);
    expect(audiences.eventsOf(a)).toEqual(['e3', 'e1', 'e4']);
    expect(audiences.members('e2').size).toBe(0);
    expect(audiences.size).toEqual({ events: 3, connections: 1 });
  });

  it('leaves no entry behind for a connection that closed', () => {
    const connections = fakeConnections();
    const audiences = new EventAudiences(connections, 64);
    const a = connection();
    const b = connection();
    audiences.join(EVENT_A, a);
    audiences.join(EVENT_B, a);
    audiences.join(EVENT_A, b);
    connections.close(a);
    expect([...audiences.members(EVENT_A)]).toEqual([b]);
    expect(audiences.members(EVENT_B).size).toBe(0);
    expect(audiences.eventsOf(a)).toEqual([]);
    connections.close(b);
    expect(audiences.size).toEqual({ events: 0, connections: 0 });
  });

  it('does not join a connection already closed (its close was heard already)', () => {
    const connections = fakeConnections();
    const audiences = new EventAudiences(connections, 64);
    const a = connection();
    connections.close(a);
    expect(audiences.join(EVENT_A, a)).toBe(false);
    expect(audiences.size).toEqual({ events: 0, connections: 0 });
  });

  it('empties a deleted event without touching the others', () => {
    const audiences = new EventAudiences(fakeConnections(), 64);
    const a = connection();
    const b = connection();
    audiences.join(EVENT_A, a);
    audiences.join(EVENT_B, a);
    audiences.join(EVENT_A, b);
    audiences.dropEvent(EVENT_A);
    expect(audiences.members(EVENT_A).size).toBe(0);
    expect(audiences.eventsOf(a)).toEqual([EVENT_B]);
    expect(audiences.size).toEqual({ events: 1, connections: 1 });
  });

  it('pushes to the event members only, the same bytes to each of one codec', () => {
    const audiences = new EventAudiences(fakeConnections(), 64);
    const json = [connection(), connection(), connection()];
    const packed = [connection('msgpack'), connection('msgpack')];
    const elsewhere = connection();
    for (const member of [...json, ...packed]) audiences.join(EVENT_A, member);
    audiences.join(EVENT_B, elsewhere);
    expect(audiences.push(EVENT_A, push)).toBe(5);
    expect(elsewhere.sent).toEqual([]);
    const [first] = json[0]!.sent;
    expect(JSON.parse(String(first!.message))).toEqual(push);
    for (const member of json) expect(member.sent).toEqual([first]);
    const binary = packed[0]!.sent[0]!;
    expect(binary.binary).toBe(true);
    // The same Uint8Array instance: encoded once, sent twice.
    expect(packed[1]!.sent[0]!.message).toBe(binary.message);
    expect(audiences.push('nobody-here', push)).toBe(0);
  });

  it('encodes a push once for all connections whose encoders share a key (Socket.IO)', () => {
    const audiences = new EventAudiences(fakeConnections(), 64);
    let encodings = 0;
    const shared: FrameEncoder = {
      encode: (frame) => {
        encodings += 1;
        return [`42${JSON.stringify([frame.event, frame.data])}`];
      },
      sharedPushKey: () => 'eio4-websocket',
    };
    const members = Array.from({ length: 50 }, () => connection('json', shared));
    for (const member of members) audiences.join(EVENT_A, member);
    expect(audiences.push(EVENT_A, push)).toBe(50);
    expect(encodings).toBe(1);
    // Text frames go out as UTF-8 bytes converted once (uWS would convert a string per send).
    const text = (sent: Sent) => ({ message: Buffer.from(sent.message).toString('utf8'), binary: sent.binary });
    for (const member of members) expect(member.sent.map(text)).toEqual([{ message: `42${JSON.stringify([push.event, push.data])}`, binary: false }]);
    expect(members[1]!.sent[0]!.message).toBe(members[0]!.sent[0]!.message);
  });

  it('survives a member closed by its own push (slow consumer) and cleans it up', () => {
    const connections = fakeConnections();
    const audiences = new EventAudiences(connections, 64);
    const fine = connection();
    // A sink that reports buffering past the cap: the connection closes itself mid-push.
    const slow = connection('json', undefined, 0);
    const after = connection();
    for (const member of [fine, slow, after]) audiences.join(EVENT_A, member);
    const originalClose = slow.close.bind(slow);
    slow.close = (disconnect, detail) => {
      originalClose(disconnect, detail);
      connections.close(slow);
    };
    expect(audiences.push(EVENT_A, push)).toBe(3);
    expect(after.sent).toHaveLength(1);
    expect([...audiences.members(EVENT_A)]).toEqual([fine, after]);
  });

  describe('membership listeners', () => {
    /** Records every call of both listeners, in order, as `joined:<event>:<connection>` / `left:...`. */
    function listened(audiences: EventAudiences): string[] {
      const heard: string[] = [];
      audiences.onJoined((eventId, member) => heard.push(`joined:${eventId}:${member.id}`));
      audiences.onLeft((eventId, member) => heard.push(`left:${eventId}:${member.id}`));
      return heard;
    }

    it('hears a new membership once (a re-join is not one) and its leave once', () => {
      const audiences = new EventAudiences(fakeConnections(), 64);
      const heard = listened(audiences);
      const a = connection();
      audiences.join(EVENT_A, a);
      audiences.join(EVENT_A, a);
      audiences.leave(EVENT_A, a);
      audiences.leave(EVENT_A, a);
      expect(heard).toEqual([`joined:${EVENT_A}:${a.id}`, `left:${EVENT_A}:${a.id}`]);
    });

    it('is called after the change: a joined member is in the audience, a left one is not', () => {
      const audiences = new EventAudiences(fakeConnections(), 64);
      const a = connection();
      const seen: boolean[] = [];
      audiences.onJoined((eventId, member) => seen.push(audiences.members(eventId).has(member)));
      audiences.onLeft((eventId, member) => seen.push(audiences.members(eventId).has(member)));
      audiences.join(EVENT_A, a);
      audiences.leave(EVENT_A, a);
      expect(seen).toEqual([true, false]);
    });

    it('hears every event a closing connection was on, and the eviction past the bound', () => {
      const connections = fakeConnections();
      const audiences = new EventAudiences(connections, 2);
      const heard = listened(audiences);
      const a = connection();
      for (const id of ['e1', 'e2', 'e3']) audiences.join(id, a);
      expect(heard).toEqual([`joined:e1:${a.id}`, `joined:e2:${a.id}`, `left:e1:${a.id}`, `joined:e3:${a.id}`]);
      heard.length = 0;
      connections.close(a);
      expect(heard.sort()).toEqual([`left:e2:${a.id}`, `left:e3:${a.id}`]);
      expect(audiences.size).toEqual({ events: 0, connections: 0 });
    });

    it('hears each member of a deleted event leave, once the audience is empty', () => {
      const audiences = new EventAudiences(fakeConnections(), 64);
      const a = connection();
      const b = connection();
      audiences.join(EVENT_A, a);
      audiences.join(EVENT_A, b);
      audiences.join(EVENT_B, a);
      const left: [string, string, number][] = [];
      audiences.onLeft((eventId, member) => left.push([eventId, member.id, audiences.members(eventId).size]));
      audiences.dropEvent(EVENT_A);
      expect(left).toEqual([
        [EVENT_A, a.id, 0],
        [EVENT_A, b.id, 0],
      ]);
    });

    it('hears nothing for a closed connection that is refused a join', () => {
      const connections = fakeConnections();
      const audiences = new EventAudiences(connections, 64);
      const heard = listened(audiences);
      const a = connection();
      connections.close(a);
      audiences.join(EVENT_A, a);
      expect(heard).toEqual([]);
    });
  });

  it('refuses a bound that is not a positive integer', () => {
    expect(() => new EventAudiences(fakeConnections(), 0)).toThrow(RangeError);
  });
});
