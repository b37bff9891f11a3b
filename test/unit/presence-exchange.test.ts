import { describe, expect, it, vi } from 'vitest';
import { GREET_AGAIN_AFTER_MS, PresenceExchange, SNAPSHOT_EVERY_MS, type PresenceClusterPort } from '../../src/modules/presence/exchange.js';

/**
 * The presence exchange between cluster nodes (PROTOCOL.md section 12), over an in-memory bus
 * that behaves as core NATS does for one subject: every other subscriber gets each message,
 * one publisher's messages in order. The rosters are recorders of what the exchange tells them.
 */

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

class Bus {
  readonly nodes = new Map<string, { handler?: (from: string, body: unknown) => void; lost: ((node: string, reason: string) => void)[]; reconnected: (() => void)[] }>();
  readonly sent: { from: string; body: unknown }[] = [];
  maxMessageBytes = 1024 * 1024;

  port(node: string): PresenceClusterPort {
    const entry: { handler?: (from: string, body: unknown) => void; lost: ((node: string, reason: string) => void)[]; reconnected: (() => void)[] } = { lost: [], reconnected: [] };
    this.nodes.set(node, entry);
    const bus = this;
    return {
      publish: (body) => {
        // As on the wire: JSON, so nothing is shared by reference between nodes.
        const copy: unknown = JSON.parse(JSON.stringify(body));
        bus.sent.push({ from: node, body: copy });
        for (const [other, { handler }] of this.nodes) if (other !== node) handler?.(node, copy);
        return true;
      },
      subscribe: (handler) => {
        entry.handler = handler;
      },
      get maxMessageBytes() {
        return bus.maxMessageBytes;
      },
      onReconnected: (listener) => void entry.reconnected.push(listener),
      onNodeLost: (listener) => void entry.lost.push(listener),
      close: () => this.nodes.delete(node),
    };
  }

  /** Every remaining node hears that `node` is lost. */
  lose(node: string, reason = 'silent'): void {
    this.nodes.delete(node);
    for (const { lost } of this.nodes.values()) for (const listener of lost) listener(node, reason);
  }

  /** A message from a node that is not an exchange (a stranger with the credentials, a bug). */
  inject(from: string, body: unknown): void {
    for (const [other, { handler }] of this.nodes) if (other !== from) handler?.(from, body);
  }
}

class RecordingRoster {
  readonly local = new Set<string>();
  /** What the exchange says the other nodes hold: `node event user`. */
  readonly remote = new Set<string>();
  readonly calls: string[] = [];

  *localEntries(): Iterable<[string, string]> {
    for (const key of this.local) yield key.split(' ') as [string, string];
  }

  remoteChanged(node: string, eventId: string, userId: string, present: boolean): void {
    this.calls.push(`${present ? '+' : '-'}${node} ${eventId} ${userId}`);
    if (present) this.remote.add(`${node} ${eventId} ${userId}`);
    else this.remote.delete(`${node} ${eventId} ${userId}`);
  }
}

function node(bus: Bus, name: string): { roster: RecordingRoster; exchange: PresenceExchange; come(eventId: string, userId: string): void; go(eventId: string, userId: string): void } {
  const roster = new RecordingRoster();
  const exchange = new PresenceExchange(roster, bus.port(name));
  return {
    roster,
    exchange,
    come(eventId, userId) {
      roster.local.add(`${eventId} ${userId}`);
      exchange.localChanged(eventId, userId, true);
    },
    go(eventId, userId) {
      roster.local.delete(`${eventId} ${userId}`);
      exchange.localChanged(eventId, userId, false);
    },
  };
}

describe('presence exchange', () => {
  it('a user coming and going on one node is present and gone on the others, changes batched per turn', async () => {
    const bus = new Bus();
    const a = node(bus, 'a');
    const b = node(bus, 'b');
    const c = node(bus, 'c');
    for (const each of [a, b, c]) each.exchange.start();
    bus.sent.length = 0;

    a.come('e1', 'u1');
    a.come('e1', 'u2');
    a.come('e2', 'u1');
    await turn();
    expect(bus.sent.filter((message) => message.from === 'a')).toHaveLength(1);
    expect([...b.roster.remote].sort()).toEqual(['a e1 u1', 'a e1 u2', 'a e2 u1']);
    expect([...c.roster.remote].sort()).toEqual(['a e1 u1', 'a e1 u2', 'a e2 u1']);

    a.go('e1', 'u2');
    await turn();
    expect([...b.roster.remote].sort()).toEqual(['a e1 u1', 'a e2 u1']);
    // A come and go within one turn: the last word is what travels.
    a.come('e3', 'u9');
    a.go('e3', 'u9');
    await turn();
    expect(b.roster.calls.filter((call) => call.includes('u9'))).toEqual([]);
  });

  it('a node starting late gets everyone state (hello, snapshots), and its own state reaches them', async () => {
    const bus = new Bus();
    const a = node(bus, 'a');
    a.exchange.start();
    a.come('e1', 'u1');
    await turn();
    const b = node(bus, 'b');
    // Sockets already back on a restarted node before the exchange started.
    b.roster.local.add('e1 u2');
    b.exchange.start();
    expect([...b.roster.remote]).toEqual(['a e1 u1']);
    expect([...a.roster.remote]).toEqual(['b e1 u2']);
  });

  it('a lost node takes its users with it; a restarted one is asked again', async () => {
    const bus = new Bus();
    const a = node(bus, 'a');
    const b = node(bus, 'b');
    a.exchange.start();
    b.exchange.start();
    a.come('e1', 'u1');
    a.come('e1', 'u3');
    b.come('e1', 'u2');
    await turn();
    bus.lose('a');
    expect([...b.roster.remote]).toEqual([]);
    expect(b.roster.calls.slice(-2).sort()).toEqual(['-a e1 u1', '-a e1 u3']);

    // The same node id again: its snapshot reached b before its old self was noticed lost.
    const again = node(bus, 'a');
    again.roster.local.add('e1 u1');
    again.exchange.start();
    expect([...b.roster.remote]).toEqual(['a e1 u1']);
    bus.nodes.get('b')!.lost.forEach((listener) => listener('a', 'restarted'));
    // Dropped, then asked again with a hello: the new process's state is back.
    expect([...b.roster.remote]).toEqual(['a e1 u1']);
  });

  it('a snapshot larger than one message goes in parts and replaces the node state whole', async () => {
    const bus = new Bus();
    bus.maxMessageBytes = 1_600; // 10 entries per part
    const a = node(bus, 'a');
    const b = node(bus, 'b');
    a.exchange.start();
    b.exchange.start();
    for (let index = 0; index < 35; index += 1) a.roster.local.add(`e1 u${index}`);
    // What b held of a and a no longer has goes with the replacement.
    b.roster.remoteChanged('a', 'e9', 'stale', true);
    bus.inject('a', { kind: 'changes', changes: [['e9', 'stale', 1]] });
    bus.sent.length = 0;
    bus.inject('b', { kind: 'hello' });
    const parts = bus.sent.filter((message) => message.from === 'a' && (message.body as { kind: string }).kind === 'snapshot');
    expect(parts.length).toBe(4);
    expect(b.roster.remote.size).toBe(35);
    expect(b.roster.remote.has('a e9 stale')).toBe(false);
  });

  it('malformed messages are counted and change nothing', async () => {
    const bus = new Bus();
    const b = node(bus, 'b');
    b.exchange.start();
    const bad: unknown[] = [
      null,
      'hello',
      { kind: 'nope' },
      { kind: 'changes' },
      { kind: 'changes', changes: [['e1', 'u1', 2]] },
      { kind: 'changes', changes: [['e1', 'u\n1', 1]] },
      { kind: 'changes', changes: [['', 'u1', 1]] },
      { kind: 'changes', changes: [['e1', 'x'.repeat(201), 1]] },
      { kind: 'snapshot', epoch: -1, last: true, entries: [] },
      { kind: 'snapshot', epoch: 1, last: 'yes', entries: [] },
      { kind: 'snapshot', epoch: 1, last: true, entries: [['e1']] },
    ];
    for (const body of bad) bus.inject('x', body);
    expect(b.exchange.stats).toEqual({ malformed: bad.length, remoteEntries: 0 });
    expect(b.roster.calls).toEqual([]);
  });

  it('a change lost on the way is repaired by the next periodic snapshot, and the greeting is repeated after start', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval'] });
    try {
      const bus = new Bus();
      const a = node(bus, 'a');
      const b = node(bus, 'b');
      a.exchange.start();
      b.exchange.start();
      // A join that never reached b (a subscription not yet propagated, a slow consumer):
      // a's roster has it, b heard nothing.
      a.roster.local.add('e1 u1');
      expect(b.roster.remote.size).toBe(0);
      bus.sent.length = 0;
      vi.advanceTimersByTime(GREET_AGAIN_AFTER_MS);
      expect(bus.sent.filter((message) => (message.body as { kind: string }).kind === 'hello').map((message) => message.from).sort()).toEqual(['a', 'b']);
      expect([...b.roster.remote]).toEqual(['a e1 u1']);
      // And a leave lost later: the periodic snapshot replaces a's pairs whole.
      a.roster.local.delete('e1 u1');
      vi.advanceTimersByTime(SNAPSHOT_EVERY_MS);
      expect([...b.roster.remote]).toEqual([]);
      a.exchange.close();
      b.exchange.close();
      bus.sent.length = 0;
      vi.advanceTimersByTime(SNAPSHOT_EVERY_MS * 2);
      expect(bus.sent).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('after close nothing is published', async () => {
    const bus = new Bus();
    const a = node(bus, 'a');
    a.exchange.start();
    a.exchange.close();
    bus.sent.length = 0;
    a.exchange.localChanged('e1', 'u1', true);
    await turn();
    expect(bus.sent).toEqual([]);
  });
});
