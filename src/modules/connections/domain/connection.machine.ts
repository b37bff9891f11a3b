import { assign, setup } from 'xstate';
import type { Codec, ConnectionEvent, ConnectionOpenedData, Transport } from './connection.events.js';

export interface ConnectionContext {
  connectionId: string | null;
  codec: Codec | null;
  transport: Transport | null;
  remoteAddress: string | null;
  /** The gateway process that opened it (absent in events from before resume existed). */
  node?: string | undefined;
  openedAt: number | null;
  /** While detached: when its resume window ends. */
  detachedUntil?: number | undefined;
  closedAt: number | null;
  closeCode: number | null;
  closeReason: string | null;
}

/**
 * The `evolve` of a connection stream: stored events in, state out. No timers, no I/O:
 * the runtime feeds it events after they are committed (DESIGN.md).
 *
 * open -> detached (its socket was cut; PROTOCOL.md section 11) -> open (a new socket resumed
 * it) or closed (the window ended). A resume also arrives while open: the client noticed the
 * cut before the server did, and its old socket was replaced.
 */
export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
  },
  actions: {
    recordClose: assign(({ event }) => {
      if (event.type !== 'ConnectionClosed') return {};
      return { closedAt: event.data.closedAt, closeCode: event.data.code, closeReason: event.data.reason, detachedUntil: undefined };
    }),
  },
}).createMachine({
  id: 'connection',
  initial: 'idle',
  context: {
    connectionId: null,
    codec: null,
    transport: null,
    remoteAddress: null,
    openedAt: null,
    closedAt: null,
    closeCode: null,
    closeReason: null,
  },
  states: {
    idle: {
      on: {
        ConnectionOpened: {
          target: 'open',
          actions: assign(({ event }) => {
            const data: ConnectionOpenedData = event.data;
            return {
              connectionId: data.connectionId,
              codec: data.codec,
              transport: data.transport,
              remoteAddress: data.remoteAddress,
              node: data.node,
              openedAt: data.openedAt,
            };
          }),
        },
      },
    },
    open: {
      on: {
        ConnectionDetached: {
          target: 'detached',
          actions: assign(({ event }) => ({ detachedUntil: event.data.until })),
        },
        ConnectionResumed: {
          target: 'open',
          actions: assign(({ event }) => ({ remoteAddress: event.data.remoteAddress })),
        },
        ConnectionClosed: { target: 'closed', actions: 'recordClose' },
      },
    },
    detached: {
      on: {
        ConnectionResumed: {
          target: 'open',
          actions: assign(({ event }) => ({ remoteAddress: event.data.remoteAddress, detachedUntil: undefined })),
        },
        ConnectionClosed: { target: 'closed', actions: 'recordClose' },
      },
    },
    closed: { type: 'final' },
  },
});
