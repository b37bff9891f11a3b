import { assign, setup } from 'xstate';
import type { Codec, ConnectionClosedData, ConnectionEvent, ConnectionOpenedData, Transport } from './connection.events.js';

export interface ConnectionContext {
  connectionId: string | null;
  codec: Codec | null;
  transport: Transport | null;
  remoteAddress: string | null;
  openedAt: number | null;
  closedAt: number | null;
  closeCode: number | null;
  closeReason: string | null;
}

/**
 * The `evolve` of a connection stream: stored events in, state out. No timers, no I/O:
 * the runtime feeds it events after they are committed (DESIGN.md).
 */
export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
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
              openedAt: data.openedAt,
            };
          }),
        },
      },
    },
    open: {
      on: {
        ConnectionClosed: {
          target: 'closed',
          actions: assign(({ event }) => {
            const data: ConnectionClosedData = event.data;
            return { closedAt: data.closedAt, closeCode: data.code, closeReason: data.reason };
          }),
        },
      },
    },
    closed: { type: 'final' },
  },
});
