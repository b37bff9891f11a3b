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
  /** In a cluster: the digest of its current resume secret (ConnectionOpenedData.resumeDigest). */
  resumeDigest?: string | undefined;
  /** In a cluster: it holds state only its node had (ConnectionPinned): no other node can resume it. */
  pinned?: boolean;
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
 * cut before the server did, and its old socket was replaced. In a cluster a resume may name
 * another node: the connection's node was lost and that one adopted it (PROTOCOL.md section 12).
 */
export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
  },
  actions: {
    recordResume: assign(({ event }) => {
      if (event.type !== 'ConnectionResumed') return {};
      const { data } = event;
      // A resume on another node (an adoption after a node loss) moves the connection there.
      return {
        remoteAddress: data.remoteAddress,
        detachedUntil: undefined,
        ...(data.node === undefined ? {} : { node: data.node }),
        ...(data.resumeDigest === undefined ? {} : { resumeDigest: data.resumeDigest }),
      };
    }),
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
              resumeDigest: data.resumeDigest,
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
        ConnectionResumed: { target: 'open', actions: 'recordResume' },
        ConnectionPinned: { actions: assign(() => ({ pinned: true })) },
        ConnectionClosed: { target: 'closed', actions: 'recordClose' },
      },
    },
    detached: {
      on: {
        ConnectionResumed: { target: 'open', actions: 'recordResume' },
        ConnectionClosed: { target: 'closed', actions: 'recordClose' },
      },
    },
    closed: { type: 'final' },
  },
});
