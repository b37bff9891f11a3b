import { describe, expect, it } from 'vitest';
import { MAX_PENDING_TASKS, sfuAggregate, statusOf, type SfuCommand, type SfuEvent, type SfuTask } from '../../src/modules/grid/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

const ADDRESS = 'sfu-1.example:4433';
const T0 = Date.UTC(2026, 0, 1);

/** given events / when command / then events, and the state those events lead to. */
const spec = deciderSpec(sfuAggregate);

const registered: SfuEvent = { type: 'SfuServerRegistered', data: { address: ADDRESS, version: '1.0', keyId: 'AkEy', registeredAt: T0 } };
const report = (at: number, rooms: { id: [string, string]; customer: string; peers: number }[] = []): SfuEvent => ({
  type: 'SfuServerReported',
  data: {
    address: ADDRESS,
    version: '1.0',
    load: 0.2,
    clients: rooms.reduce((sum, room) => sum + room.peers, 0),
    rooms: rooms.map((room) => ({ ...room, age: { secs: 1, nanos: 0 } })),
    reportedAt: at,
  },
});
const close: SfuTask = { task: 'RoomClose', id: ['acme', 'lobby'], ban_time: { secs: 60, nanos: 0 } };
const queued = (taskId: string, task: SfuTask = close, at = T0 + 1): SfuEvent => ({ type: 'SfuTaskQueued', data: { taskId, task, queuedAt: at, reason: 'api' } });
const reportCommand = (now: number, extra: Partial<Extract<SfuCommand, { type: 'ReportLoad' }>> = {}): SfuCommand => ({
  type: 'ReportLoad',
  address: ADDRESS,
  version: '1.1',
  keyId: 'AkEy',
  load: 0.5,
  clients: 3,
  rooms: [{ id: ['acme', 'lobby'], customer: 'acme', age: { secs: 5, nanos: 0 }, peers: 3 }],
  collisions: [],
  collisionBanSeconds: 5,
  now,
  ...extra,
});

describe('SFU server: registration and reports', () => {
  it('GridConfig registers an unknown server once', () => {
    const command: SfuCommand = { type: 'RegisterServer', address: ADDRESS, version: '1.0', keyId: 'AkEy', now: T0 };
    const first = spec.given().when(command).then([registered]);
    expect(statusOf(first.state)).toBe('registered');
    spec.given([registered]).when(command).then([]);
  });

  it('a first report from an unknown server registers it and makes it active', () => {
    const { events, after } = spec.given().when(reportCommand(T0 + 10));
    expect(events.map((event) => event.type)).toEqual(['SfuServerRegistered', 'SfuServerReported']);
    expect(statusOf(after.state)).toBe('active');
    expect(after.state.context).toMatchObject({ load: 0.5, clients: 3, version: '1.1', lastSeenAt: T0 + 10, reports: 1 });
  });

  it('hands out the queued tasks with the report, once', () => {
    const history = [registered, report(T0 + 1), queued('t1'), queued('t2', { task: 'RoomUpdate', id: ['acme', 'lobby'], user_data: [1, 2] })];
    const first = spec.given(history).when(reportCommand(T0 + 5));
    const handedOut = first.events.find((event) => event.type === 'SfuTasksHandedOut');
    expect(handedOut?.data).toEqual({
      tasks: [
        { taskId: 't1', task: close, queuedAt: T0 + 1 },
        { taskId: 't2', task: { task: 'RoomUpdate', id: ['acme', 'lobby'], user_data: [1, 2] }, queuedAt: T0 + 1 },
      ],
      handedOutAt: T0 + 5,
    });
    expect(first.after.state.context.tasks).toEqual([]);
    const second = first.after.when(reportCommand(T0 + 10));
    expect(second.events.map((event) => event.type)).toEqual(['SfuServerReported']);
  });

  it('a collision keeps the room off the reporter and queues a RoomClose for it in the same answer', () => {
    const collisions = [{ room: ['acme', 'lobby'] as [string, string], customer: 'acme', owner: 'sfu-2.example:4433' }];
    const { events, after } = spec.given([registered, report(T0 + 1)]).when(reportCommand(T0 + 5, { collisions }));
    expect(events.map((event) => event.type)).toEqual(['SfuServerReported', 'SfuRoomCollided', 'SfuTaskQueued', 'SfuTasksHandedOut']);
    const reported = events[0] as Extract<SfuEvent, { type: 'SfuServerReported' }>;
    expect(reported.data.rooms).toEqual([]);
    expect(events[1]!.data).toEqual({ room: ['acme', 'lobby'], customer: 'acme', owner: 'sfu-2.example:4433', collidedAt: T0 + 5 });
    const handedOut = events[3] as Extract<SfuEvent, { type: 'SfuTasksHandedOut' }>;
    expect(handedOut.data.tasks.map((task) => task.task)).toEqual([{ task: 'RoomClose', id: ['acme', 'lobby'], ban_time: { secs: 5, nanos: 0 } }]);
    expect(after.state.context.collisions).toBe(1);
    expect(after.state.context.tasks).toEqual([]);
  });

  it('task ids are never reused, even after the server was removed and came back', () => {
    const history: SfuEvent[] = [
      registered,
      report(T0 + 1),
      queued('t1'),
      queued('t2'),
      { type: 'SfuServerDisabled', data: { silentSince: T0 + 1, disabledAt: T0 + 9000 } },
      { type: 'SfuServerRemoved', data: { silentSince: T0 + 1, droppedTaskIds: ['t1', 't2'], removedAt: T0 + 700_000 } },
    ];
    const { events, after } = spec.given(history).when(reportCommand(T0 + 800_000));
    expect(events.map((event) => event.type)).toEqual(['SfuServerRegistered', 'SfuServerReported']);
    expect(after.state.context.tasks).toEqual([]);
    const next = after.when({ type: 'QueueTask', task: close, now: T0 + 800_001 });
    expect(next.events[0]!.data).toMatchObject({ taskId: 't3' });
  });
});

describe('SFU server: placements', () => {
  const place = (now: number, room: [string, string] = ['acme', 'lobby']): SfuCommand => ({
    type: 'PlaceRoom',
    room,
    customer: 'acme',
    expiresAt: now + 300_000,
    now,
  });

  it('places a room on an active server, once', () => {
    const after = spec
      .given([registered, report(T0 + 1)])
      .when(place(T0 + 2))
      .then([{ type: 'SfuRoomPlaced', data: { room: ['acme', 'lobby'], customer: 'acme', placedAt: T0 + 2, expiresAt: T0 + 300_002 } }]);
    expect(after.state.context.placed).toHaveLength(1);
    after.when(place(T0 + 3)).then([]);
  });

  it('does not place on a server that is not active', () => {
    spec.given([registered]).when(place(T0 + 2)).thenThrows('UNAVAILABLE');
    const disabled = [registered, report(T0 + 1), { type: 'SfuServerDisabled', data: { silentSince: T0 + 1, disabledAt: T0 + 9000 } } as SfuEvent];
    spec.given(disabled).when(place(T0 + 9001)).thenThrows('UNAVAILABLE');
  });

  it('a placement ends when the server reports the room, or when it expires unreported', () => {
    const placed = spec.given([registered, report(T0 + 1)]).when(place(T0 + 2)).after;
    const reportedRoom = placed.and([report(T0 + 5, [{ id: ['acme', 'lobby'], customer: 'acme', peers: 1 }])]).state;
    expect(reportedRoom.context.placed).toEqual([]);
    expect(reportedRoom.context.rooms).toHaveLength(1);
    const stillWaiting = placed.and([report(T0 + 5)]).state;
    expect(stillWaiting.context.placed).toHaveLength(1);
    const expired = placed.and([report(T0 + 300_002)]).state;
    expect(expired.context.placed).toEqual([]);
  });
});

describe('SFU server: tasks and timers', () => {
  it('queues tasks on registered, active and disabled servers, not on removed ones', () => {
    const disabled: SfuEvent = { type: 'SfuServerDisabled', data: { silentSince: T0 + 1, disabledAt: T0 + 9000 } };
    for (const history of [[registered], [registered, report(T0 + 1)], [registered, report(T0 + 1), disabled]]) {
      expect(spec.given(history).when({ type: 'QueueTask', task: close, now: T0 + 10 }).events[0]!.type).toBe('SfuTaskQueued');
    }
    const removed: SfuEvent = { type: 'SfuServerRemoved', data: { silentSince: T0 + 1, droppedTaskIds: [], removedAt: T0 + 700_000 } };
    spec.given([registered, report(T0 + 1), disabled, removed]).when({ type: 'QueueTask', task: close, now: T0 }).thenThrows('NOT_FOUND');
    spec.given([]).when({ type: 'QueueTask', task: close, now: T0 }).thenThrows('NOT_FOUND');
  });

  it('refuses a task when the server already has the most it may have waiting', () => {
    const full = [registered, report(T0 + 1), ...Array.from({ length: MAX_PENDING_TASKS }, (_, index) => queued(`t${index + 1}`))];
    // One fold of the long history serves both sides of the limit.
    const oneShort = spec.given(full.slice(0, -1));
    const refusal = oneShort.and(full.slice(-1)).when({ type: 'QueueTask', task: close, now: T0 + 10 }).thenThrows('LIMIT_EXCEEDED');
    expect(refusal.details).toEqual({ limit: 'pendingTasks', max: MAX_PENDING_TASKS });
    expect(oneShort.when({ type: 'QueueTask', task: close, now: T0 + 10 }).events).toHaveLength(1);
  });

  it('disables a server only after 1.5 intervals of silence, counted from its last report or the gateway start', () => {
    const history = [registered, report(T0 + 1000)];
    const disable = (now: number, since = T0): SfuCommand => ({ type: 'DisableServer', since, disableAfterMs: 7500, now });
    const server = spec.given(history);
    server.when(disable(T0 + 8500)).then([]);
    const after = server.when(disable(T0 + 8501)).then([{ type: 'SfuServerDisabled', data: { silentSince: T0 + 1000, disabledAt: T0 + 8501 } }]);
    expect(statusOf(after.state)).toBe('disabled');
    // The gateway was down until T0 + 5000: the server could not report meanwhile.
    server.when(disable(T0 + 9000, T0 + 5000)).then([]);
    // A report that came in after the scheduler looked wins: the disable is a no-op.
    server.and([report(T0 + 8000)]).when(disable(T0 + 8501)).then([]);
  });

  it('a disabled server that reports again is active; a removed one loses rooms and tasks', () => {
    const disabled: SfuEvent = { type: 'SfuServerDisabled', data: { silentSince: T0 + 1, disabledAt: T0 + 9000 } };
    const history = [registered, report(T0 + 1, [{ id: ['acme', 'lobby'], customer: 'acme', peers: 2 }]), queued('t1'), disabled];
    const server = spec.given(history);
    expect(statusOf(server.when(reportCommand(T0 + 9500)).after.state)).toBe('active');
    const remove = (now: number): SfuCommand => ({ type: 'RemoveServer', since: T0, removeAfterMs: 600_000, now });
    server.when(remove(T0 + 600_001)).then([]);
    const after = server.when(remove(T0 + 600_002)).then([{ type: 'SfuServerRemoved', data: { silentSince: T0 + 1, droppedTaskIds: ['t1'], removedAt: T0 + 600_002 } }]);
    expect(statusOf(after.state)).toBe('removed');
    expect(after.state.context).toMatchObject({ rooms: [], placed: [], tasks: [] });
    // Only a disabled server is removed.
    spec.given([registered, report(T0 + 1)]).when(remove(T0 + 10_000_000)).then([]);
  });
});
