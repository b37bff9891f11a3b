import BetterSqlite3 from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { fixedClock } from '../../src/core/clock.js';
import { roomAggregate, type RoomContext } from '../../src/modules/rooms/domain/index.js';
import { roomsProjection } from '../../src/modules/rooms/projection.js';
import { ActorRuntime, runTopic } from '../../src/runtime/index.js';
import { ClientConnection } from '../../src/edge/connection.js';
import type { ClosedListener } from '../../src/modules/connections/index.js';
import { roomsModule } from '../../src/modules/rooms/index.js';
import { InMemoryEventStore } from '../../src/store/index.js';

const PEERS = ['p0', 'p1', 'p2', 'p3'];
const ROOMS = ['alpha', 'beta'];

type Step =
  | { kind: 'create' | 'join' | 'leave'; peer: number; room: number }
  | { kind: 'approve' | 'reject'; peer: number; room: number; target: number }
  | { kind: 'relay'; peer: number; room: number; target: number; sdp: boolean; raw: boolean }
  | { kind: 'disconnect'; peer: number };

const peer = fc.integer({ min: 0, max: PEERS.length - 1 });
const room = fc.integer({ min: 0, max: ROOMS.length - 1 });
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constantFrom('create' as const, 'join' as const, 'leave' as const), peer, room }),
  fc.record({ kind: fc.constantFrom('approve' as const, 'reject' as const), peer, room, target: peer }),
  fc.record({ kind: fc.constant('relay' as const), peer, room, target: peer, sdp: fc.boolean(), raw: fc.boolean() }),
  fc.record({ kind: fc.constant('disconnect' as const), peer }),
);

function tableRows(db: BetterSqlite3.Database): string[] {
  return roomsProjection.tables.flatMap((table) =>
    (db.prepare(`SELECT * FROM ${table}`).raw().all() as unknown[][]).map((row) => `${table}:${JSON.stringify(row)}`),
  ).sort();
}

/**
 * Random sequences of room operations by several connections, through the real rooms module
 * (its topics, processors and the relay hot path) over the in-memory log.
 */
async function runScenario(steps: Step[]): Promise<void> {
  const clock = fixedClock(1_800_000_000_000, 10);
  const store = new InMemoryEventStore({ projections: [roomsProjection], clock });
  const runtime = new ActorRuntime(store);
  runtime.register(roomAggregate);
  const config = loadConfig({ env: { SWITCHYARD_RELAY_ICE_PER_SECOND: '100000', SWITCHYARD_RELAY_SDP_PER_SECOND: '100000' } });
  const connections = new Map<string, ClientConnection>();
  const closedListeners: ClosedListener[] = [];
  const rooms = roomsModule.create({
    runtime,
    config,
    clock,
    connections: { get: (id) => connections.get(id), onClosed: (listener) => closedListeners.push(listener), moves: { onAdopted: () => undefined, onMovedAway: () => undefined, missedWith: () => undefined } },
  });
  store.onCommitted((events) => {
    runtime.applyCommitted(events);
    for (const processor of rooms.processors ?? []) void processor.handle(events.filter((event) => processor.canHandle(event)));
  });
  const topics = new Map((rooms.topics ?? []).map((topic) => [topic.name, topic]));

  const violations: string[] = [];
  const roomState = (name: string): RoomContext => rooms.api.service.state(name).context;
  const open = (index: number) => {
    const id = PEERS[index]!;
    const connection = new ClientConnection(
      { id, codec: 'json', transport: 'native', remoteAddress: '127.0.0.1', userAgent: null, origin: null },
      {
        send: (message) => {
          const frame = JSON.parse(String(message)) as { event: string; data: { room: string; peer_id: string } };
          if (frame.event === 'ice-candidate' || frame.event === 'session-description') {
            // Invariant 1: a relay reaches only a member, and comes only from a member.
            const members = roomState(frame.data.room).members.map((member) => member.peerId);
            if (!members.includes(id) || !members.includes(frame.data.peer_id)) {
              violations.push(`${frame.event} from ${frame.data.peer_id} to non-member ${id} of ${frame.data.room}`);
            }
          }
          return 1;
        },
        end: () => undefined,
        bufferedAmount: () => 0,
      },
      { maxBackpressureBytes: 1 << 20, badFrameLimit: 1_000_000, badFrameWindowMs: 1000 },
      () => undefined,
    );
    connection.principal = { kind: 'app', app: 'prop', sessionToken: 'session' };
    connections.set(id, connection);
    return connection;
  };
  for (let index = 0; index < PEERS.length; index++) open(index);

  const send = async (connection: ClientConnection, event: string, data: unknown) => {
    const topic = topics.get(event)!;
    try {
      await runTopic(topic, connection, { event, data, id: undefined }, clock.now());
    } catch {
      // Refusals (FORBIDDEN, NOT_FOUND, CONFLICT) are part of the game.
    }
  };

  for (const action of steps) {
    const id = PEERS[action.peer]!;
    let connection = connections.get(id)!;
    if (connection.closed) connection = open(action.peer);
    const roomName = 'room' in action ? ROOMS[action.room]! : '';
    switch (action.kind) {
      case 'create':
        await send(connection, 'room-create-request', { room: roomName });
        break;
      case 'join':
        await send(connection, 'room-join-request', { room: roomName });
        break;
      case 'leave':
        await send(connection, 'room-leave', { room: roomName });
        break;
      case 'approve':
      case 'reject':
        await send(connection, action.kind === 'approve' ? 'room-join-accept' : 'room-join-reject', { room: roomName, peer_id: PEERS[action.target] });
        break;
      case 'relay': {
        const event = action.sdp ? 'relay-session-description' : 'relay-ice-candidate';
        const data = {
          room: roomName,
          to: PEERS[action.target],
          ...(action.sdp ? { session_description: { type: 'offer', sdp: 'v=0\r\n' } } : { ice_candidate: { candidate: 'c' } }),
        };
        // Half the relays take the route-on-the-envelope path the native socket uses for JSON text.
        if (action.raw) {
          const handled = rooms.fastPath!(connection, Buffer.from(JSON.stringify({ event, data })), clock.now(), () => {}, false);
          expect(handled).toBe(true);
        } else {
          await send(connection, event, data);
        }
        break;
      }
      case 'disconnect':
        connection.closed = true;
        for (const listener of closedListeners) await listener(connection);
        break;
    }
    // Invariant 2: a room with members has an owner, and owners are members.
    for (const name of ROOMS) {
      const { open: isOpen, context } = rooms.api.service.state(name);
      if (!isOpen) continue;
      const members = context.members.map((member) => member.peerId);
      if (members.length > 0 && context.owners.length === 0) violations.push(`${name} has members but no owner`);
      for (const owner of context.owners) if (!members.includes(owner)) violations.push(`${name} owner ${owner} is not a member`);
      if (members.length === 0) violations.push(`${name} is open but empty`);
    }
  }
  expect(violations).toEqual([]);

  // Invariant 3: replaying the log gives the same rooms as live, in actors and read models.
  const rebuilt = new ActorRuntime(store);
  rebuilt.register(roomAggregate);
  rebuilt.rebuild();
  for (const name of ROOMS) {
    expect(rebuilt.read(`room-${name}`).context).toEqual(runtime.read(`room-${name}`).context);
  }
  const fresh = new BetterSqlite3(':memory:');
  roomsProjection.setup(fresh);
  for (const event of store.readAll()) roomsProjection.apply(fresh, event);
  expect(tableRows(fresh)).toEqual(tableRows(store.readModels));
  fresh.close();
  await store.close();
}

describe('rooms under random operations (fast-check)', () => {
  it('never relays to non-members, always has an owner, and replays to the same rooms', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => runScenario(steps)),
      { numRuns: 150 },
    );
  });
});
