import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/core/index.js';
import { streamId } from '../../src/core/index.js';
import { ClientConnection, type SocketSink } from '../../src/edge/index.js';
import { Adoptions, type AdoptionSessions } from '../../src/modules/connections/adoption.js';
import { CONNECTION_CATEGORY, connectionAggregate, type connectionMachine, type OpenConnection } from '../../src/modules/connections/domain/index.js';
import { connectionsProjection } from '../../src/modules/connections/projection.js';
import { newResumeSecret, resumeDigest, secretMatchesDigest, type ResumeToken } from '../../src/modules/connections/resume-token.js';
import { LostNodeSessions } from '../../src/modules/connections/takeover.js';
import { ActorRuntime, type Scheduler } from '../../src/runtime/index.js';
import { SqliteEventStore } from '../../src/store/index.js';

/**
 * A lost cluster node's connections (PROTOCOL.md sections 11 and 12): kept for their window by
 * the node taking over (takeover.ts), adopted by the node a client resumes on (adoption.ts),
 * against a real log and runtime. Every refusal a client can cause is here with its reason.
 */

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const WINDOW_SECONDS = 120;
const LOST = 'LOSTnode001';
const LIVE = 'LIVEnode001';
const SELF = 'SELFnode001';
const USER: Principal = { kind: 'user', userId: 'u-1', organisationId: null, groups: [], external: false };

let store: SqliteEventStore;
let runtime: ActorRuntime;
let now: number;
const clock = { now: () => now };

/** The scheduler's one-off timers, fired by hand. */
class ManualTimers {
  readonly pending = new Map<string, { at: number; run: (now: number) => unknown }>();
  at(key: string, at: number, run: (now: number) => unknown): void {
    this.pending.set(key, { at, run });
  }
  cancel(key: string): void {
    this.pending.delete(key);
  }
  async fireDue(): Promise<void> {
    for (const [key, timer] of [...this.pending]) {
      if (timer.at > now) continue;
      this.pending.delete(key);
      await timer.run(now);
    }
  }
}

beforeEach(() => {
  now = T0;
  store = new SqliteEventStore({ path: ':memory:', projections: [connectionsProjection], walCheckpointIntervalMs: 0 });
  runtime = new ActorRuntime(store);
  runtime.register(connectionAggregate);
});

afterEach(async () => {
  await store.close();
});

/** A connection the log shows open on `node`, with a resume secret (unless `digest: false`). */
async function openOn(node: string, id: string, options: { digest?: boolean; pinned?: boolean; codec?: 'json' | 'msgpack' } = {}): Promise<ResumeToken> {
  const secret = newResumeSecret();
  const open: OpenConnection = {
    type: 'OpenConnection',
    connectionId: id,
    codec: options.codec ?? 'json',
    transport: 'native',
    remoteAddress: '192.0.2.1',
    userAgent: null,
    origin: null,
    node,
    ...(options.digest === false ? {} : { resumeDigest: resumeDigest(secret) }),
    now,
  };
  await runtime.execute(streamId(CONNECTION_CATEGORY, id), open);
  if (options.pinned) await runtime.execute(streamId(CONNECTION_CATEGORY, id), { type: 'PinConnection', topic: 'consumer_event_get', now });
  return { node, connectionId: id, secret };
}

const stateOf = (id: string) => runtime.read<typeof connectionMachine>(streamId(CONNECTION_CATEGORY, id));
const idOf = (n: number) => `conn${String(n).padStart(18, '0')}`;

function lostNodeSessions(timers: ManualTimers, left: string[][] = [], live: readonly string[] = [SELF, LIVE]): LostNodeSessions {
  const sessions = new LostNodeSessions({
    runtime,
    scheduler: timers as unknown as Scheduler,
    clock,
    resumeWindowSeconds: WINDOW_SECONDS,
    node: SELF,
    isLive: (node) => live.includes(node),
    readModels: store.readModels,
  });
  sessions.leaveRoomsWith(async (peers) => void left.push([...peers]));
  return sessions;
}

describe('the connections of a lost node (takeover.ts)', () => {
  it('keeps a resumable one detached for a window from the loss; ends a pinned one and one without a digest at once', async () => {
    await openOn(LOST, idOf(1));
    await openOn(LOST, idOf(2), { pinned: true });
    await openOn(LOST, idOf(3), { digest: false });
    const timers = new ManualTimers();
    const left: string[][] = [];
    now = T0 + 5_000;
    expect(await lostNodeSessions(timers, left).takeOver()).toBe(2);
    expect(left.flat().sort()).toEqual([idOf(2), idOf(3)]);
    expect(stateOf(idOf(1)).value).toBe('detached');
    expect(stateOf(idOf(1)).context.detachedUntil).toBe(T0 + 5_000 + WINDOW_SECONDS * 1000);
    expect(stateOf(idOf(2)).value).toBe('closed');
    expect(stateOf(idOf(2)).context.closeReason).toBe('node lost');
    expect(stateOf(idOf(3)).value).toBe('closed');
    expect([...timers.pending.keys()]).toEqual([`lost-node-window:${idOf(1)}`]);
  });

  it("ends one not resumed when its window ends, taking it out of its rooms; leaves one another node adopted", async () => {
    await openOn(LOST, idOf(1));
    await openOn(LOST, idOf(2));
    const timers = new ManualTimers();
    const left: string[][] = [];
    await lostNodeSessions(timers, left).takeOver();
    // Another node adopts the second.
    await runtime.execute(streamId(CONNECTION_CATEGORY, idOf(2)), { type: 'ResumeConnection', carrier: 'carrier', remoteAddress: '192.0.2.2', since: 0, replacedSocket: false, node: LIVE, fromNode: LOST, now });
    now = T0 + WINDOW_SECONDS * 1000;
    await timers.fireDue();
    expect(left.flat()).toEqual([idOf(1)]);
    expect(stateOf(idOf(1)).value).toBe('closed');
    expect(stateOf(idOf(1)).context.closeReason).toBe(`node lost; not resumed within ${WINDOW_SECONDS} s`);
    expect(stateOf(idOf(2)).value).toBe('open');
    expect(stateOf(idOf(2)).context.node).toBe(LIVE);
  });

  it('leaves the connections of live nodes and its own alone, and decides nothing twice', async () => {
    await openOn(LIVE, idOf(1));
    await openOn(SELF, idOf(2));
    await openOn(LOST, idOf(3));
    const timers = new ManualTimers();
    const sessions = lostNodeSessions(timers);
    await sessions.takeOver();
    const before = store.headPosition();
    // A second loss sweeps every lost node again; a second node taking over does the same.
    await sessions.takeOver();
    await lostNodeSessions(new ManualTimers()).takeOver();
    expect(store.headPosition()).toBe(before);
    expect(stateOf(idOf(1)).value).toBe('open');
    expect(stateOf(idOf(2)).value).toBe('open');
    expect(stateOf(idOf(3)).value).toBe('detached');
  });

  it('does not detach a connection another node adopted before the takeover read it', async () => {
    await openOn(LOST, idOf(1));
    await runtime.execute(streamId(CONNECTION_CATEGORY, idOf(1)), { type: 'ResumeConnection', carrier: 'carrier', remoteAddress: '192.0.2.2', since: 0, replacedSocket: false, node: LIVE, fromNode: LOST, now });
    // The decision names the lost node: the connection has moved, so nothing is decided.
    const { events } = await runtime.execute(streamId(CONNECTION_CATEGORY, idOf(1)), { type: 'DetachConnection', code: 1006, reason: 'node lost', framesIn: 0, framesOut: 0, until: now + 1, ifOnNode: LOST, now });
    expect(events).toEqual([]);
    const closed = await runtime.execute(streamId(CONNECTION_CATEGORY, idOf(1)), { type: 'CloseConnection', code: 1006, reason: 'node lost', framesIn: 0, framesOut: 0, ifOnNode: LOST, now });
    expect(closed.events).toEqual([]);
  });
});

/** Adoption's view of the connections module, with what each test sets. */
class FakeSessions implements AdoptionSessions {
  principal: Principal | undefined = USER;
  /** The log position of the last push a module sent the connection (0: none). */
  lastPush = 0;
  readonly missedAsked: [string, number][] = [];
  readonly adopted: ClientConnection[] = [];
  readonly endedLost: string[] = [];
  restorePrincipal(): Principal | undefined {
    return this.principal;
  }
  missedSince(connectionId: string, since: number): boolean {
    this.missedAsked.push([connectionId, since]);
    return this.lastPush > since;
  }
  adopt(connection: ClientConnection): void {
    this.adopted.push(connection);
  }
  async endLost(connectionId: string): Promise<void> {
    this.endedLost.push(connectionId);
  }
}

const sink: SocketSink = { send: () => 1, end: () => undefined, bufferedAmount: () => 0 };

function carrier(id = 'carrier-socket-000000', codec: 'json' | 'msgpack' = 'json'): ClientConnection {
  const connection = new ClientConnection({ id, codec, transport: 'native', remoteAddress: '198.51.100.7', userAgent: 'sdk', origin: null }, sink, { maxBackpressureBytes: 1 << 20, badFrameLimit: 20, badFrameWindowMs: 10_000 }, () => undefined);
  connection.framesDispatched = 1;
  return connection;
}

describe('a resume on this node of a lost node connection (adoption.ts)', () => {
  let sessions: FakeSessions;
  let adoptions: Adoptions;

  beforeEach(() => {
    sessions = new FakeSessions();
    adoptions = new Adoptions(sessions, { node: SELF, runtime });
  });

  it('adopts it: the same id and principal, the log moves it here with a new secret', async () => {
    const token = await openOn(LOST, idOf(1));
    const adoption = await adoptions.adopt(carrier(), token, 0, now);
    expect(adoption).toMatchObject({ kind: 'adopted', missed: false });
    const connection = (adoption as { connection: ClientConnection }).connection;
    expect(connection.id).toBe(idOf(1));
    expect(connection.principal).toEqual(USER);
    expect(connection.info.remoteAddress).toBe('198.51.100.7');
    expect(sessions.adopted).toEqual([connection]);
    const { context, value } = stateOf(idOf(1));
    expect(value).toBe('open');
    expect(context.node).toBe(SELF);
    expect(secretMatchesDigest(context.resumeDigest, connection.resumeSecret!)).toBe(true);
    expect(secretMatchesDigest(context.resumeDigest, token.secret)).toBe(false);
    expect(store.readStream(streamId(CONNECTION_CATEGORY, idOf(1))).at(-1)).toMatchObject({ type: 'ConnectionResumed', data: { carrier: 'carrier-socket-000000', node: SELF } });
  });

  it('adopts one the takeover already detached, inside its window', async () => {
    const token = await openOn(LOST, idOf(1));
    await lostNodeSessions(new ManualTimers()).takeOver();
    now += 60_000;
    expect(await adoptions.adopt(carrier(), token, 0, now)).toMatchObject({ kind: 'adopted' });
  });

  it('refuses, with the reason the client is told', async () => {
    const token = await openOn(LOST, idOf(1));
    const cases: [string, () => Promise<unknown>, string][] = [
      ['a guessed secret', () => adoptions.adopt(carrier(), { ...token, secret: newResumeSecret() }, 0, now), 'unknown'],
      ['another codec than the session', () => adoptions.adopt(carrier('carrier-socket-000001', 'msgpack'), token, 0, now), 'forbidden'],
      [
        'a session the log cannot rebuild (a guest, or mid-MFA)',
        async () => {
          sessions.principal = undefined;
          const refused = await adoptions.adopt(carrier(), token, 0, now);
          sessions.principal = USER;
          return refused;
        },
        'restarted',
      ],
      ['an unknown connection', () => adoptions.adopt(carrier(), { ...token, connectionId: idOf(99) }, 0, now), 'unknown'],
    ];
    for (const [what, attempt, reason] of cases) expect(await attempt(), what).toEqual({ kind: 'failed', reason });
    // None of them touched the connection.
    expect(stateOf(idOf(1)).value).toBe('open');
    expect(stateOf(idOf(1)).context.node).toBe(LOST);
  });

  it('refuses a pinned one (restarted), one past its window (expired), an ended one (restarted to its holder only)', async () => {
    const pinned = await openOn(LOST, idOf(1), { pinned: true });
    expect(await adoptions.adopt(carrier(), pinned, 0, now)).toEqual({ kind: 'failed', reason: 'restarted' });

    const late = await openOn(LOST, idOf(2));
    await lostNodeSessions(new ManualTimers()).takeOver();
    now += WINDOW_SECONDS * 1000;
    expect(await adoptions.adopt(carrier(), late, 0, now)).toEqual({ kind: 'failed', reason: 'expired' });

    const ended = await openOn(LOST, idOf(3), {});
    await runtime.execute(streamId(CONNECTION_CATEGORY, idOf(3)), { type: 'CloseConnection', code: 1006, reason: 'node lost', framesIn: 0, framesOut: 0, now });
    expect(await adoptions.adopt(carrier(), ended, 0, now)).toEqual({ kind: 'failed', reason: 'restarted' });
    expect(await adoptions.adopt(carrier(), { ...ended, secret: newResumeSecret() }, 0, now)).toEqual({ kind: 'failed', reason: 'unknown' });
  });

  it('is a gap when a module pushed it something past since, and ends it there', async () => {
    const token = await openOn(LOST, idOf(1));
    sessions.lastPush = 41;
    expect(await adoptions.adopt(carrier(), token, 40, now)).toEqual({ kind: 'failed', reason: 'gap' });
    expect(sessions.endedLost).toEqual([idOf(1)]);
    expect(sessions.missedAsked).toEqual([[idOf(1), 40]]);
    // Since the last of them, nothing was missed.
    expect(await adoptions.adopt(carrier(), token, 41, now)).toMatchObject({ kind: 'adopted', missed: false });
  });

  it('lets exactly one of two nodes racing for one token adopt it', async () => {
    const token = await openOn(LOST, idOf(1));
    const other = new Adoptions(new FakeSessions(), { node: LIVE, runtime });
    const results = await Promise.all([adoptions.adopt(carrier(), token, 0, now), other.adopt(carrier('carrier-socket-000002'), token, 0, now)]);
    expect(results.map((result) => result.kind).sort()).toEqual(['adopted', 'failed']);
    expect(results.find((result) => result.kind === 'failed')).toEqual({ kind: 'failed', reason: 'unknown' });
    // The token is spent: a third try finds it moved.
    expect(await adoptions.adopt(carrier('carrier-socket-000003'), token, 0, now)).toEqual({ kind: 'failed', reason: 'unknown' });
  });

  it('gives up quietly when the socket closed before anything was recorded', async () => {
    const token = await openOn(LOST, idOf(1));
    const socket = carrier();
    socket.closed = true;
    expect(await adoptions.adopt(socket, token, 0, now)).toEqual({ kind: 'gone' });
    expect(stateOf(idOf(1)).context.node).toBe(LOST);
  });
});

describe('a lost node that comes back within the window (a healed partition)', () => {
  it('keeps its connections: the window end closes nothing', async () => {
    await openOn(LOST, idOf(1));
    const timers = new ManualTimers();
    const live = [SELF, LIVE];
    const left: string[][] = [];
    await lostNodeSessions(timers, left, live).takeOver();
    live.push(LOST);
    now = T0 + WINDOW_SECONDS * 1000;
    await timers.fireDue();
    expect(stateOf(idOf(1)).value).toBe('detached');
    expect(left.flat()).toEqual([]);
  });
});

describe('ending a connection whose resume found a gap (endNow)', () => {
  it('ends a lost node connection and takes its peer out of its rooms; leaves a live node its own', async () => {
    await openOn(LOST, idOf(1));
    await openOn(LIVE, idOf(2));
    const left: string[][] = [];
    const sessions = lostNodeSessions(new ManualTimers(), left);
    await sessions.endNow(idOf(1), LOST);
    await sessions.endNow(idOf(2), LIVE);
    expect(stateOf(idOf(1)).value).toBe('closed');
    expect(stateOf(idOf(2)).value).toBe('open');
    expect(left.flat()).toEqual([idOf(1)]);
  });
});
