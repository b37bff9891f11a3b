import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import { durationOf, roomKey } from './room-id.js';
import type { SfuCommand } from './sfu.commands.js';
import type { QueuedTask, SfuEvent, SfuTask } from './sfu.events.js';
import type { SfuStatus, sfuMachine } from './sfu.machine.js';

export type SfuSnapshot = SnapshotFrom<typeof sfuMachine>;

export const statusOf = (snapshot: SfuSnapshot): SfuStatus => snapshot.value as SfuStatus;

const taskId = (sequence: number): string => `t${sequence}`;

/**
 * Tasks a server may have waiting. A server that stopped reporting hands nothing out, and
 * without a cap a customer's loop of RoomSendMessage calls would grow its state (and every
 * restart's rebuild) without end; a reporting server drains its queue every interval.
 */
export const MAX_PENDING_TASKS = 10_000;

/** Checks a command against the server's state and returns the events it causes. */
export function decideSfu(command: SfuCommand, snapshot: SfuSnapshot): SfuEvent[] {
  const { context } = snapshot;
  const status = statusOf(snapshot);
  switch (command.type) {
    case 'RegisterServer': {
      if (status !== 'unregistered' && status !== 'removed') return [];
      return [
        {
          type: 'SfuServerRegistered',
          data: { address: command.address, version: command.version, keyId: command.keyId, registeredAt: command.now },
        },
      ];
    }
    case 'ReportLoad': {
      const events: SfuEvent[] = [];
      const fresh = status === 'unregistered' || status === 'removed';
      if (fresh) {
        events.push({
          type: 'SfuServerRegistered',
          data: { address: command.address, version: command.version, keyId: command.keyId, registeredAt: command.now },
        });
      }
      const collided = new Set(command.collisions.map((collision) => roomKey(collision.room)));
      events.push({
        type: 'SfuServerReported',
        data: {
          address: command.address,
          version: command.version,
          load: command.load,
          clients: command.clients,
          rooms: command.rooms.filter((room) => !collided.has(roomKey(room.id))),
          reportedAt: command.now,
        },
      });
      const pending: QueuedTask[] = fresh ? [] : [...context.tasks];
      let sequence = context.taskSequence;
      for (const collision of command.collisions) {
        // The owner keeps the room; the reporter is told to close its copy and keep it closed
        // at least until its next report, by which time clients have gone to the owner.
        const task: SfuTask = { task: 'RoomClose', id: collision.room, ban_time: durationOf(command.collisionBanSeconds) };
        sequence += 1;
        const queued: QueuedTask = { taskId: taskId(sequence), task, queuedAt: command.now };
        events.push({
          type: 'SfuRoomCollided',
          data: { room: collision.room, customer: collision.customer, owner: collision.owner, collidedAt: command.now },
        });
        events.push({ type: 'SfuTaskQueued', data: { ...queued, reason: 'collision' } });
        pending.push(queued);
      }
      if (pending.length > 0) events.push({ type: 'SfuTasksHandedOut', data: { tasks: pending, handedOutAt: command.now } });
      return events;
    }
    case 'PlaceRoom': {
      if (status !== 'active') throw new AppError('UNAVAILABLE', `SFU server ${context.address ?? ''} is not active`);
      const key = roomKey(command.room);
      const alreadyHere =
        context.rooms.some((room) => roomKey(room.id) === key) ||
        context.placed.some((room) => roomKey(room.id) === key && room.expiresAt > command.now);
      if (alreadyHere) return [];
      return [
        {
          type: 'SfuRoomPlaced',
          data: { room: command.room, customer: command.customer, placedAt: command.now, expiresAt: command.expiresAt },
        },
      ];
    }
    case 'QueueTask': {
      if (status !== 'registered' && status !== 'active' && status !== 'disabled') {
        throw new AppError('NOT_FOUND', 'no SFU server hosts this room');
      }
      if (context.tasks.length >= MAX_PENDING_TASKS) {
        throw new AppError('LIMIT_EXCEEDED', 'too many tasks are waiting for the server hosting this room; retry later', {
          limit: 'pendingTasks',
          max: MAX_PENDING_TASKS,
        });
      }
      return [
        {
          type: 'SfuTaskQueued',
          data: { taskId: taskId(context.taskSequence + 1), task: command.task, queuedAt: command.now, reason: 'api' },
        },
      ];
    }
    case 'DisableServer': {
      if (status !== 'registered' && status !== 'active') return [];
      const silentSince = Math.max(context.lastSeenAt ?? 0, command.since);
      // Re-checked here, inside the mailbox: a report that arrived after the scheduler looked
      // makes this a no-op instead of disabling a live server.
      if (command.now - silentSince <= command.disableAfterMs) return [];
      return [{ type: 'SfuServerDisabled', data: { silentSince, disabledAt: command.now } }];
    }
    case 'RemoveServer': {
      if (status !== 'disabled') return [];
      const silentSince = Math.max(context.lastSeenAt ?? 0, command.since);
      if (command.now - silentSince <= command.removeAfterMs) return [];
      return [
        {
          type: 'SfuServerRemoved',
          data: { silentSince, droppedTaskIds: context.tasks.map((task) => task.taskId), removedAt: command.now },
        },
      ];
    }
  }
}
