import { z } from 'zod';
import type { PresenceRoster } from './roster.js';

/**
 * What presence needs of the cluster (PROTOCOL.md section 12): a broadcast channel to the
 * other nodes (app/cluster.ts gives it one on core NATS, cluster/channel.ts) and word of
 * nodes that are lost. Single node: none, and presence is this process's sockets alone.
 */
export interface PresenceClusterPort {
  publish(body: unknown): boolean;
  subscribe(handler: (from: string, body: unknown) => void): void;
  /** The largest message the channel carries: a snapshot is split below it. */
  readonly maxMessageBytes: number;
  onReconnected(listener: () => void): void;
  /** `restarted`: the same node id came back with a new process (its state may already be here). */
  onNodeLost(listener: (node: string, reason: string) => void): void;
  close(): void;
}

export interface PresenceExchangeStats {
  /** Messages from other nodes that did not match the channel's schema, dropped. */
  malformed: number;
  /** (event, user) pairs held for other nodes now. */
  remoteEntries: number;
}

// Log ids: a newline would break the pair key below.
const id = z.string().min(1).max(200).regex(/^[^\n]+$/);
const eventUser = z.tuple([id, id]);
const presenceMessage = z.discriminatedUnion('kind', [
  // A node that (re)joined, or lost messages: every node answers with its snapshot.
  z.object({ kind: z.literal('hello') }),
  // A node's whole state, in parts sent back to back (one publisher's messages keep their order).
  z.object({ kind: z.literal('snapshot'), epoch: z.number().int().nonnegative(), last: z.boolean(), entries: z.array(eventUser).max(100_000) }),
  // What changed on a node since its last message: [event, user, 1 present | 0 gone].
  z.object({ kind: z.literal('changes'), changes: z.array(z.tuple([id, id, z.union([z.literal(0), z.literal(1)])])).max(100_000) }),
]);

/** An (event, user) pair as one Map key: ids never hold a newline (they are the log's ids). */
const keyOf = (eventId: string, userId: string): string => `${eventId}\n${userId}`;
const pairOf = (key: string): [string, string] => {
  const at = key.indexOf('\n');
  return [key.slice(0, at), key.slice(at + 1)];
};

/** Roughly the JSON bytes one entry takes in a message: two ids of ~24 characters and punctuation. */
const ENTRY_BYTES_ESTIMATE = 80;
/**
 * Core NATS delivers at most once: a message sent before another node's subscription reached
 * this node's server (a subscription travels between servers on its own time), or dropped for
 * a slow consumer, is lost. Every node's whole state again this often repairs any such loss.
 */
export const SNAPSHOT_EVERY_MS = 30_000;
/** The greeting again this soon after start: the first one may have gone out before the others' subscriptions reached it. */
export const GREET_AGAIN_AFTER_MS = 2_000;

/**
 * Presence across the nodes of a cluster: each node tells the others which (event, user) pairs
 * its own connections make online, and keeps theirs, per node, for its roster. Changes go out
 * once per turn of the event loop, batched; a node that joins or reconnects to NATS says
 * `hello` and every node answers with its whole state, so a message missed during a cut is
 * repaired, and every node sends its whole state every SNAPSHOT_EVERY_MS, which repairs any
 * other loss; a lost node's pairs are dropped, and its users' leaves pushed, by every node alike.
 *
 * The state is not in the log, like the sockets that make it: a node that restarts starts
 * with what its sockets do again, and the others hear its fresh snapshot.
 */
export class PresenceExchange {
  private readonly remote = new Map<string, Set<string>>();
  /** Snapshots being received, by node: their parts so far. */
  private readonly incoming = new Map<string, { epoch: number; keys: Set<string> }>();
  private pending = new Map<string, 0 | 1>();
  private flushScheduled = false;
  private epoch = 0;
  private malformed = 0;
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly roster: Pick<PresenceRoster, 'remoteChanged' | 'localEntries'>,
    private readonly port: PresenceClusterPort,
  ) {}

  /** Subscribes, then asks every node for its state and offers this one's (it may be a restart with sockets already back). */
  start(): void {
    this.port.subscribe((from, body) => this.receive(from, body));
    this.port.onNodeLost((node, reason) => {
      this.dropNode(node);
      // A restarted node may have sent its fresh state before its old self was noticed gone.
      if (reason === 'restarted') this.port.publish({ kind: 'hello' });
    });
    this.port.onReconnected(() => this.greet());
    this.greet();
    const again = setTimeout(() => this.greet(), GREET_AGAIN_AFTER_MS);
    const periodic = setInterval(() => this.publishSnapshot(), SNAPSHOT_EVERY_MS);
    for (const timer of [again, periodic]) {
      timer.unref();
      this.timers.push(timer);
    }
  }

  /** The roster's localListener: this node's connections made the user present on, or gone from, the event. */
  localChanged(eventId: string, userId: string, present: boolean): void {
    if (this.closed) return;
    this.pending.set(keyOf(eventId, userId), present ? 1 : 0);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  get stats(): PresenceExchangeStats {
    let remoteEntries = 0;
    for (const keys of this.remote.values()) remoteEntries += keys.size;
    return { malformed: this.malformed, remoteEntries };
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers.splice(0)) clearTimeout(timer);
    this.port.close();
  }

  private greet(): void {
    this.port.publish({ kind: 'hello' });
    this.publishSnapshot();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.pending.size === 0) return;
    const changes = [...this.pending].map(([key, present]) => [...pairOf(key), present] as const);
    this.pending = new Map();
    for (const part of this.parts(changes)) this.port.publish({ kind: 'changes', changes: part });
  }

  private publishSnapshot(): void {
    if (this.closed) return;
    // Changes not yet sent are in the snapshot: sending them after it would only repeat them.
    this.pending = new Map();
    const entries = [...this.roster.localEntries()];
    const epoch = ++this.epoch;
    const parts = this.parts(entries);
    parts.forEach((part, index) => this.port.publish({ kind: 'snapshot', epoch, last: index === parts.length - 1, entries: part }));
  }

  /** Splits a list into parts that each fit one channel message (an empty list is one empty part). */
  private parts<T>(list: readonly T[]): T[][] {
    const perPart = Math.max(1, Math.floor(this.port.maxMessageBytes / 2 / ENTRY_BYTES_ESTIMATE));
    const parts: T[][] = [];
    for (let start = 0; start < list.length; start += perPart) parts.push(list.slice(start, start + perPart));
    return parts.length > 0 ? parts : [[]];
  }

  private receive(from: string, body: unknown): void {
    if (this.closed) return;
    const parsed = presenceMessage.safeParse(body);
    if (!parsed.success) {
      this.malformed += 1;
      return;
    }
    const message = parsed.data;
    switch (message.kind) {
      case 'hello':
        this.publishSnapshot();
        return;
      case 'changes':
        for (const [eventId, userId, present] of message.changes) this.set(from, keyOf(eventId, userId), present === 1);
        return;
      case 'snapshot': {
        let incoming = this.incoming.get(from);
        if (!incoming || incoming.epoch !== message.epoch) {
          incoming = { epoch: message.epoch, keys: new Set() };
          this.incoming.set(from, incoming);
        }
        for (const [eventId, userId] of message.entries) incoming.keys.add(keyOf(eventId, userId));
        if (!message.last) return;
        this.incoming.delete(from);
        this.replace(from, incoming.keys);
        return;
      }
    }
  }

  /** A node's whole state arrived: what it no longer has is gone, what is new is present. */
  private replace(node: string, keys: Set<string>): void {
    for (const key of [...(this.remote.get(node) ?? [])]) if (!keys.has(key)) this.set(node, key, false);
    for (const key of keys) this.set(node, key, true);
  }

  private dropNode(node: string): void {
    this.incoming.delete(node);
    for (const key of [...(this.remote.get(node) ?? [])]) this.set(node, key, false);
    this.remote.delete(node);
  }

  private set(node: string, key: string, present: boolean): void {
    let keys = this.remote.get(node);
    if (present) {
      if (!keys) {
        keys = new Set();
        this.remote.set(node, keys);
      }
      if (keys.has(key)) return;
      keys.add(key);
    } else {
      if (!keys?.delete(key)) return;
      if (keys.size === 0) this.remote.delete(node);
    }
    const [eventId, userId] = pairOf(key);
    this.roster.remoteChanged(node, eventId, userId, present);
  }
}
