import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import type { StreamCommand } from './stream.commands.js';
import type { StreamEvent, StreamStatus, StreamStatusChangedData } from './stream.events.js';
import type { StreamContext, streamMachine } from './stream.machine.js';
import { streamStatus } from './stream.status.js';

export type StreamSnapshot = SnapshotFrom<typeof streamMachine>;

/**
 * Every refused key gets this one answer: whether it was rotated away, never issued or never
 * ours is for the log, not for whoever holds it.
 */
export const streamKeyNotValid = (): AppError => new AppError('UNAUTHORIZED', 'stream key is not valid', { reason: 'unauthorized' });

/** The status change `next` is, if it is one. */
function statusChange(context: StreamContext, itemId: string, next: StreamStatus, at: number, cause: StreamStatusChangedData['cause']): StreamEvent[] {
  if (next === context.status) return [];
  return [{ type: 'StreamStatusChanged', data: { itemId, status: next, previous: context.status, at, cause } }];
}

/** A presented key must be the latest one issued; a credential (null) was checked before the command. */
function requireKey(context: StreamContext, presentedKeyHash: string | null): void {
  if (presentedKeyHash === null) return;
  if (context.keyHash === null || presentedKeyHash !== context.keyHash) throw streamKeyNotValid();
}

/** Checks a command against the stream's state and returns the events it causes. */
export function decideStream(command: StreamCommand, snapshot: StreamSnapshot): StreamEvent[] {
  const { context } = snapshot;
  const completed = snapshot.matches('completed');
  switch (command.type) {
    case 'IssueStreamKey':
      // A first key asked for twice at once: the second finds the first and keeps it.
      if (!command.replace && context.keyHash !== null) return [];
      return [
        {
          type: 'StreamKeyIssued',
          data: { itemId: command.itemId, generation: context.generation + 1, keyHash: command.keyHash, sealedSecret: command.sealedSecret, issuedAt: command.now },
        },
      ];
    case 'ActivateStream': {
      requireKey(context, command.presentedKeyHash);
      if (completed) throw new AppError('CONFLICT', 'this stream is complete');
      if (command.phase === 'complete') throw new AppError('CONFLICT', "this item's stream is over: its recording window has passed");
      // The broadcaster reconnecting (or the hook firing twice) changes nothing.
      if (context.activatedAt !== null) return statusChange(context, command.itemId, streamStatus(command.phase, context), command.now, 'schedule');
      const activated = { ...context, activatedAt: command.now };
      return [
        { type: 'StreamActivated', data: { itemId: command.itemId, activatedAt: command.now, via: command.presentedKeyHash === null ? 'credential' : 'key' } },
        ...statusChange(context, command.itemId, streamStatus(command.phase, activated), command.now, 'activation'),
      ];
    }
    case 'CompleteStream': {
      requireKey(context, command.presentedKeyHash);
      if (completed) {
        // The service retrying its hook: the same answer again; another recording is a contradiction.
        if (command.recordingUrl === context.recordingUrl) return [];
        throw new AppError('CONFLICT', 'this stream was completed already, with another recording');
      }
      // Nothing went on air, so nothing was recorded: a complete now is a mistaken item id or hook.
      if (context.activatedAt === null) throw new AppError('CONFLICT', 'this stream was never activated');
      const done = { ...context, completedAt: command.now };
      return [
        {
          type: 'StreamCompleted',
          data: { itemId: command.itemId, recordingUrl: command.recordingUrl, completedAt: command.now, via: command.presentedKeyHash === null ? 'credential' : 'key' },
        },
        ...statusChange(context, command.itemId, streamStatus(command.phase, done), command.now, 'completion'),
      ];
    }
    case 'RecordStreamStatus':
      return statusChange(context, command.itemId, streamStatus(command.phase, context), command.now, 'schedule');
  }
}
