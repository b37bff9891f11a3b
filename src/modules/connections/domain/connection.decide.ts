import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import type { ConnectionCommand } from './connection.commands.js';
import type { ConnectionEvent } from './connection.events.js';
import type { connectionMachine } from './connection.machine.js';

export type ConnectionSnapshot = SnapshotFrom<typeof connectionMachine>;

/** Checks a command against the connection's state and returns the events it causes. */
export function decideConnection(command: ConnectionCommand, snapshot: ConnectionSnapshot): ConnectionEvent[] {
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
        },
      };
      if (!snapshot.can(event)) throw new AppError('CONFLICT', 'connection was already opened');
      return [event];
    }
    case 'CloseConnection': {
      const { context } = snapshot;
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
        },
      };
      // Closing twice is a no-op rather than an error: a socket can be closed by the peer
      // and by shutdown in the same moment, and only the first close is history.
      if (!snapshot.can(event)) return [];
      return [event];
    }
  }
}
