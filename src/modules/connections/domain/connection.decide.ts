import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import type { ConnectionCommand } from './connection.commands.js';
import type { ConnectionEvent } from './connection.events.js';
import type { connectionMachine } from './connection.machine.js';

export type ConnectionSnapshot = SnapshotFrom<typeof connectionMachine>;

/** Checks a command against the connection's state and returns the events it causes. */
export function decideConnection(command: ConnectionCommand, snapshot: ConnectionSnapshot): ConnectionEvent[] {
  const { context } = snapshot;
  switch (command.type) {
    case 'OpenConnection': {
      const event: ConnectionEvent = {
        type: 'ConnectionOpened',
        data: {
          connectionId: command.connectionId,
          codec: command.codec,
          transport: command.transport,
          remoteAddress: command.remoteAddress,
          userAgent: command.userAgent,
          origin: command.origin,
          openedAt: command.now,
          ...(command.node === undefined ? {} : { node: command.node }),
          ...(command.resumeDigest === undefined ? {} : { resumeDigest: command.resumeDigest }),
        },
      };
      if (!snapshot.can(event)) throw new AppError('CONFLICT', 'connection was already opened');
      return [event];
    }
    case 'DetachConnection': {
      if (command.ifOnNode !== undefined && (context.node !== command.ifOnNode || !snapshot.matches('open'))) return [];
      const event: ConnectionEvent = {
        type: 'ConnectionDetached',
        data: {
          connectionId: context.connectionId ?? '',
          code: command.code,
          reason: command.reason,
          framesIn: command.framesIn,
          framesOut: command.framesOut,
          detachedAt: command.now,
          until: command.until,
        },
      };
      if (!snapshot.can(event)) throw new AppError('CONFLICT', 'only an open connection with its socket can be detached');
      return [event];
    }
    case 'ResumeConnection': {
      if (command.fromNode !== undefined && context.node !== command.fromNode) throw new AppError('CONFLICT', 'another node resumed this connection first');
      // Its node's memory holds state no other node could rebuild (ConnectionPinned).
      if (command.fromNode !== undefined && command.node !== undefined && command.node !== command.fromNode && context.pinned === true) {
        throw new AppError('CONFLICT', 'a pinned connection cannot move to another node');
      }
      const event: ConnectionEvent = {
        type: 'ConnectionResumed',
        data: {
          connectionId: context.connectionId ?? '',
          carrier: command.carrier,
          remoteAddress: command.remoteAddress,
          since: command.since,
          replacedSocket: command.replacedSocket,
          resumedAt: command.now,
          ...(command.node === undefined ? {} : { node: command.node }),
          ...(command.resumeDigest === undefined ? {} : { resumeDigest: command.resumeDigest }),
        },
      };
      if (!snapshot.can(event)) throw new AppError('CONFLICT', 'a closed connection cannot be resumed');
      return [event];
    }
    case 'PinConnection': {
      // Once is enough: the pin is for life.
      if (context.pinned === true || !snapshot.matches('open')) return [];
      return [{ type: 'ConnectionPinned', data: { connectionId: context.connectionId ?? '', topic: command.topic, pinnedAt: command.now } }];
    }
    case 'CloseConnection': {
      if (command.ifOnNode !== undefined && context.node !== command.ifOnNode) return [];
      const event: ConnectionEvent = {
        type: 'ConnectionClosed',
        data: {
          connectionId: context.connectionId ?? '',
          codec: context.codec ?? 'json',
          code: command.code,
          reason: command.reason,
          unclean: command.unclean ?? false,
          framesIn: command.framesIn,
          framesOut: command.framesOut,
          closedAt: command.now,
          ...(command.resumedConnection === undefined ? {} : { resumedConnection: command.resumedConnection }),
        },
      };
      // Closing twice is a no-op rather than an error: a socket can be closed by the peer
      // and by shutdown in the same moment, and only the first close is history.
      if (!snapshot.can(event)) return [];
      return [event];
    }
  }
}
