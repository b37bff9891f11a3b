import { describe, expect, it } from 'vitest';
import { GridDirectory } from '../../src/modules/grid/directory.js';
import { bestOfTwoRandom } from '../../src/modules/grid/placement.js';
import {
  checkLicence,
  groupKeyOf,
  roomKey,
  tagOf,
  type ReportedRoom,
  type RoomId,
  type SfuContext,
  type SfuStatus,
} from '../../src/modules/grid/domain/index.js';

const NOW = Date.UTC(2026, 0, 1);

function context(overrides: Partial<SfuContext> = {}): SfuContext {
  return {
    address: null,
    version: '1.0',
    keyId: 'k',
    registeredAt: NOW,
    lastSeenAt: NOW,
    load: 0,
    clients: 0,
    rooms: [],
    placed: [],
    tasks: [],
    taskSequence: 0,
    reports: 1,
    collisions: 0,
    disabledAt: null,
    ...overrides,
  };
}

const room = (id: RoomId, customer: string, peers: number): ReportedRoom => ({ id, customer, peers, age: { secs: 1, nanos: 0 } });

function grid(servers: Record<string, { status?: SfuStatus; load?: number; clients?: number; rooms?: ReportedRoom[] }>): GridDirectory {
  const directory = new GridDirectory();
  for (const [address, server] of Object.entries(servers)) {
    directory.loadServer(address, server.status ?? 'active', context({ load: server.load ?? 0, clients: server.clients ?? 0, rooms: server.rooms ?? [] }), NOW);
  }
  return directory;
}

/** A random source that plays back the given values (then repeats the last one). */
const sequence = (...values: number[]) => {
  let index = 0;
  return () => values[Math.min(index++, values.length - 1)]!;
};

const settled = Promise.resolve();

describe('room names', () => {
  it('a {tag} groups rooms of one namespace, and only of one namespace', () => {
    expect(tagOf('match-7{eu-1}')).toBe('eu-1');
    expect(tagOf('plain')).toBeNull();
    expect(tagOf('open{brace')).toBeNull();
    expect(groupKeyOf(['acme', 'a{x}'])).toBe(groupKeyOf(['acme', 'b{x}']));
    expect(groupKeyOf(['acme', 'a{x}'])).not.toBe(groupKeyOf(['other', 'a{x}']));
    expect(groupKeyOf(['acme', 'a{x}'])).not.toBe(groupKeyOf(['acme', 'a{y}']));
    expect(roomKey(['a', 'b:c'])).not.toBe(roomKey(['a:b', 'c']));
  });
});

describe('placement', () => {
  it('best of two random choices takes the one with the lower projected load', () => {
    const directory = grid({ a: { load: 0.9, clients: 90 }, b: { load: 0.1, clients: 10 }, c: { load: 0.5, clients: 50 } });
    // First choice index 0 (a), second index 0 of the rest (b): b is lighter.
    expect(bestOfTwoRandom(directory, sequence(0, 0))).toBe('b');
    // a against c: c.
    expect(bestOfTwoRandom(directory, sequence(0, 0.99))).toBe('c');
    // The same server is never drawn twice.
    expect(bestOfTwoRandom(directory, sequence(0.5, 0.4))).not.toBe(undefined);
  });

  it('counts reservations since the last report, so a burst spreads instead of piling onto one server', () => {
    const directory = grid({ a: { load: 0.1, clients: 10 }, b: { load: 0.2, clients: 20 } });
    const chosen: string[] = [];
    for (let index = 0; index < 300; index++) {
      const server = bestOfTwoRandom(directory, sequence(0, 0))!;
      directory.reservePeer(server, 'acme');
      chosen.push(server);
    }
    const onA = chosen.filter((server) => server === 'a').length;
    // Per peer each server adds its own load/clients = 0.01: they meet at ~0.2 + ... and alternate.
    expect(onA).toBeGreaterThan(150);
    expect(onA).toBeLessThan(175);
    expect(directory.projectedLoad('a')).toBeCloseTo(directory.projectedLoad('b'), 1);
    directory.clearReservations('a');
    expect(directory.projectedLoad('a')).toBeCloseTo(0.1);
  });

  it('only active servers are chosen; none active, no choice', () => {
    const directory = grid({ a: { status: 'disabled' }, b: { status: 'registered' }, c: {} });
    for (let index = 0; index < 20; index++) expect(bestOfTwoRandom(directory, Math.random)).toBe('c');
    expect(bestOfTwoRandom(grid({ a: { status: 'disabled' } }), Math.random)).toBeUndefined();
  });

  it('a placed room stays on its server; a {tag} follows its group', () => {
    const directory = grid({ a: { rooms: [room(['acme', 'lobby{eu}'], 'acme', 3)] }, b: {} });
    expect(directory.owner(['acme', 'lobby{eu}'], NOW)?.server).toBe('a');
    expect(directory.groupServer(['acme', 'match{eu}'])).toBe('a');
    expect(directory.groupServer(['acme', 'match{us}'])).toBeUndefined();
    expect(directory.groupServer(['other', 'match{eu}'])).toBeUndefined();
  });

  it("a disabled server's rooms are free to be placed again, and the new placement wins", () => {
    const directory = grid({ a: { rooms: [room(['acme', 'lobby'], 'acme', 3)] }, b: {} });
    directory.loadServer('a', 'disabled', context({ rooms: [room(['acme', 'lobby'], 'acme', 3)] }), NOW);
    expect(directory.owner(['acme', 'lobby'], NOW)).toBeUndefined();
    expect(directory.host(['acme', 'lobby'], NOW)?.server).toBe('a');
    const entry = directory.reserveRoom('b', ['acme', 'lobby'], 'acme', NOW, NOW + 300_000, settled);
    directory.settleRoom(entry, true);
    expect(directory.owner(['acme', 'lobby'], NOW)?.server).toBe('b');
    // Reloading the disabled server later does not take the room back.
    directory.loadServer('a', 'disabled', context({ rooms: [room(['acme', 'lobby'], 'acme', 3)] }), NOW);
    expect(directory.owner(['acme', 'lobby'], NOW)?.server).toBe('b');
  });

  it('a failed placement is undone; a report keeps placements still being appended', () => {
    const directory = grid({ a: {} });
    const failed = directory.reserveRoom('a', ['acme', 'x'], 'acme', NOW, NOW + 1000, settled);
    directory.settleRoom(failed, false);
    expect(directory.owner(['acme', 'x'], NOW)).toBeUndefined();
    const pending = directory.reserveRoom('a', ['acme', 'y'], 'acme', NOW, NOW + 1000, new Promise(() => {}));
    directory.loadServer('a', 'active', context(), NOW);
    expect(directory.owner(['acme', 'y'], NOW)).toBe(pending);
  });

  it('a placement not reported by its expiry no longer holds the room', () => {
    const directory = grid({ a: {} });
    directory.settleRoom(directory.reserveRoom('a', ['acme', 'x'], 'acme', NOW, NOW + 1000, settled), true);
    expect(directory.owner(['acme', 'x'], NOW + 999)?.server).toBe('a');
    expect(directory.owner(['acme', 'x'], NOW + 1000)).toBeUndefined();
    expect(directory.usage('acme', NOW + 1000).rooms).toBe(0);
  });
});

describe('collisions', () => {
  it('a room another active server owns is a collision; an unowned one is claimed at once', () => {
    const directory = grid({ a: { rooms: [room(['acme', 'lobby'], 'acme', 2)] }, b: {}, c: {} });
    const collisions = directory.claimReported('b', [room(['acme', 'lobby'], 'acme', 1), room(['acme', 'new'], 'acme', 1)], NOW);
    expect(collisions).toEqual([{ room: ['acme', 'lobby'], customer: 'acme', owner: 'a' }]);
    expect(directory.owner(['acme', 'lobby'], NOW)?.server).toBe('a');
    // c reporting the same new room in the same moment collides with b's claim.
    expect(directory.claimReported('c', [room(['acme', 'new'], 'acme', 1)], NOW)).toEqual([{ room: ['acme', 'new'], customer: 'acme', owner: 'b' }]);
  });
});

describe('licences', () => {
  it('refuses a new room at maxRooms, counting placements not reported yet', () => {
    const directory = grid({ a: { rooms: [room(['acme', 'r1'], 'acme', 1)] } });
    directory.reserveRoom('a', ['acme', 'r2'], 'acme', NOW, NOW + 1000, settled);
    expect(directory.usage('acme', NOW)).toEqual({ rooms: 2, peers: 1 });
    expect(() => checkLicence({ maxPeers: null, maxRooms: 2 }, directory.usage('acme', NOW), true)).toThrow(
      expect.objectContaining({ code: 'LIMIT_EXCEEDED', message: 'room limit exceeded' }),
    );
    // Joining an existing room costs no room.
    expect(() => checkLicence({ maxPeers: null, maxRooms: 2 }, directory.usage('acme', NOW), false)).not.toThrow();
    expect(() => checkLicence({ maxPeers: null, maxRooms: 3 }, directory.usage('acme', NOW), true)).not.toThrow();
  });

  it('refuses at maxPeers, counting peers promised since the last report', () => {
    const directory = grid({ a: { rooms: [room(['acme', 'r1'], 'acme', 3)] }, b: {} });
    directory.reservePeer('b', 'acme');
    directory.reservePeer('b', 'other');
    expect(directory.usage('acme', NOW).peers).toBe(4);
    expect(() => checkLicence({ maxPeers: 4, maxRooms: null }, directory.usage('acme', NOW), false)).toThrow(
      expect.objectContaining({ code: 'LIMIT_EXCEEDED', message: 'peer limit exceeded' }),
    );
    directory.releasePeer('b', 'acme');
    expect(directory.usage('acme', NOW).peers).toBe(3);
    directory.reservePeer('b', 'acme');
    // b's report settles what was promised on b.
    directory.clearReservations('b');
    expect(directory.usage('acme', NOW).peers).toBe(3);
    expect(directory.usage('other', NOW).peers).toBe(0);
  });

  it('rooms and peers on servers that are not active do not count', () => {
    const directory = grid({ a: { rooms: [room(['acme', 'r1'], 'acme', 5)] } });
    directory.reservePeer('a', 'acme');
    expect(directory.usage('acme', NOW)).toEqual({ rooms: 1, peers: 6 });
    directory.loadServer('a', 'disabled', context({ rooms: [room(['acme', 'r1'], 'acme', 5)] }), NOW);
    expect(directory.usage('acme', NOW)).toEqual({ rooms: 0, peers: 0 });
  });

  it('a burst of reservations made the way Connect makes them never overshoots', () => {
    const directory = grid({ a: {}, b: {}, c: {} });
    const licence = { maxPeers: 25, maxRooms: 10 };
    let placed = 0;
    let refused = 0;
    for (let index = 0; index < 100; index++) {
      try {
        const usage = directory.usage('acme', NOW);
        checkLicence(licence, usage, true);
        const server = bestOfTwoRandom(directory, Math.random)!;
        directory.reservePeer(server, 'acme');
        directory.reserveRoom(server, ['acme', `room-${index}`], 'acme', NOW, NOW + 1000, new Promise(() => {}));
        placed += 1;
      } catch {
        refused += 1;
      }
    }
    expect(placed).toBe(10);
    expect(refused).toBe(90);
  });
});
