import { assign, setup } from 'xstate';
import { roomKey } from './room-id.js';
import type { QueuedTask, ReportedRoom, RoomId, SfuEvent } from './sfu.events.js';

export interface PlacedRoom {
  id: RoomId;
  customer: string;
  placedAt: number;
  expiresAt: number;
}

export interface SfuContext {
  address: string | null;
  version: string | null;
  keyId: string | null;
  registeredAt: number | null;
  /** Last report, or registration when none yet: what the silence timers count from. */
  lastSeenAt: number | null;
  load: number;
  clients: number;
  /** Rooms as last reported (owned by this server). */
  rooms: ReportedRoom[];
  /** Rooms placed here by Connect and not reported yet; dropped once reported or expired. */
  placed: PlacedRoom[];
  /** Tasks queued and not handed out yet, oldest first. */
  tasks: QueuedTask[];
  /** Last task sequence number used; task ids are never reused within a stream. */
  taskSequence: number;
  reports: number;
  collisions: number;
  disabledAt: number | null;
}

const initialContext: SfuContext = {
  address: null,
  version: null,
  keyId: null,
  registeredAt: null,
  lastSeenAt: null,
  load: 0,
  clients: 0,
  rooms: [],
  placed: [],
  tasks: [],
  taskSequence: 0,
  reports: 0,
  collisions: 0,
  disabledAt: null,
};

type EventOf<Type extends SfuEvent['type']> = Extract<SfuEvent, { type: Type }>;

/** Sequence number of a task id `t<n>`. */
const sequenceOf = (taskId: string): number => Number(taskId.slice(1)) || 0;

/**
 * The `evolve` of an SFU server: registered -> active (reporting) -> disabled (silent) ->
 * removed. No timers in here: the grid scheduler sends DisableServer / RemoveServer
 * commands, and their events move the machine. A removed server that announces itself again
 * starts over as registered, with nothing of its old rooms or tasks.
 */
export const sfuMachine = setup({
  types: {
    context: {} as SfuContext,
    events: {} as SfuEvent,
  },
  actions: {
    register: assign(({ context, event }) => {
      const { data } = event as EventOf<'SfuServerRegistered'>;
      return {
        ...initialContext,
        // Task ids stay unique across incarnations of the same address.
        taskSequence: context.taskSequence,
        address: data.address,
        version: data.version,
        keyId: data.keyId,
        registeredAt: data.registeredAt,
        lastSeenAt: data.registeredAt,
      };
    }),
    report: assign(({ context, event }) => {
      const { data } = event as EventOf<'SfuServerReported'>;
      const reported = new Set(data.rooms.map((room) => roomKey(room.id)));
      return {
        version: data.version,
        load: data.load,
        clients: data.clients,
        rooms: data.rooms,
        placed: context.placed.filter((room) => room.expiresAt > data.reportedAt && !reported.has(roomKey(room.id))),
        lastSeenAt: data.reportedAt,
        reports: context.reports + 1,
        disabledAt: null,
      };
    }),
    place: assign(({ context, event }) => {
      const { data } = event as EventOf<'SfuRoomPlaced'>;
      const key = roomKey(data.room);
      return {
        placed: [
          ...context.placed.filter((room) => roomKey(room.id) !== key),
          { id: data.room, customer: data.customer, placedAt: data.placedAt, expiresAt: data.expiresAt },
        ],
      };
    }),
    collide: assign(({ context }) => ({ collisions: context.collisions + 1 })),
    queue: assign(({ context, event }) => {
      const { data } = event as EventOf<'SfuTaskQueued'>;
      return {
        tasks: [...context.tasks, { taskId: data.taskId, task: data.task, queuedAt: data.queuedAt }],
        taskSequence: Math.max(context.taskSequence, sequenceOf(data.taskId)),
      };
    }),
    handOut: assign(({ context, event }) => {
      const { data } = event as EventOf<'SfuTasksHandedOut'>;
      const handedOut = new Set(data.tasks.map((task) => task.taskId));
      return { tasks: context.tasks.filter((task) => !handedOut.has(task.taskId)) };
    }),
    disable: assign(({ event }) => ({ disabledAt: (event as EventOf<'SfuServerDisabled'>).data.disabledAt })),
    remove: assign(() => ({ rooms: [], placed: [], tasks: [], load: 0, clients: 0 })),
  },
}).createMachine({
  id: 'sfu',
  initial: 'unregistered',
  context: initialContext,
  states: {
    unregistered: {
      on: { SfuServerRegistered: { target: 'registered', actions: 'register' } },
    },
    registered: {
      on: {
        SfuServerReported: { target: 'active', actions: 'report' },
        SfuTaskQueued: { actions: 'queue' },
        SfuTasksHandedOut: { actions: 'handOut' },
        SfuServerDisabled: { target: 'disabled', actions: 'disable' },
      },
    },
    active: {
      on: {
        SfuServerReported: { actions: 'report' },
        SfuRoomPlaced: { actions: 'place' },
        SfuRoomCollided: { actions: 'collide' },
        SfuTaskQueued: { actions: 'queue' },
        SfuTasksHandedOut: { actions: 'handOut' },
        SfuServerDisabled: { target: 'disabled', actions: 'disable' },
      },
    },
    disabled: {
      on: {
        SfuServerReported: { target: 'active', actions: 'report' },
        SfuTaskQueued: { actions: 'queue' },
        SfuTasksHandedOut: { actions: 'handOut' },
        SfuServerRemoved: { target: 'removed', actions: 'remove' },
      },
    },
    removed: {
      on: { SfuServerRegistered: { target: 'registered', actions: 'register' } },
    },
  },
});

export type SfuStatus = 'unregistered' | 'registered' | 'active' | 'disabled' | 'removed';
