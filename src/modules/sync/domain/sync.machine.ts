import { assign, setup } from 'xstate';
import type { SyncSessionEvent } from './sync.events.js';

export interface SyncSessionContext {
  syncId: string | null;
  userId: string | null;
  /** The only id that works now (QR code while rotating, verification id while paused); null once ended. */
  currentId: string | null;
  rotation: number;
  changeLimit: number;
  /** The device of the handshake, while paused. */
  devicePublicKey: string | null;
  failures: number;
  resumeAt: number | null;
}

/**
 * The `evolve` of a sync session stream. No timers: rotation, resumption and expiry are
 * commands the sync module's scheduler timers issue (DESIGN.md). `rotating` also covers the
 * time before the page's socket connects; the module knows about sockets, the machine does not.
 */
export const syncSessionMachine = setup({
  types: {
    context: {} as SyncSessionContext,
    events: {} as SyncSessionEvent,
  },
}).createMachine({
  id: 'syncsession',
  initial: 'none',
  context: {
    syncId: null,
    userId: null,
    currentId: null,
    rotation: 0,
    changeLimit: 0,
    devicePublicKey: null,
    failures: 0,
    resumeAt: null,
  },
  on: {
    // Any live state can expire (page gone, restart, changes used up).
    SyncSessionExpired: { target: '.expired', actions: assign({ currentId: null, devicePublicKey: null, resumeAt: null }) },
  },
  states: {
    none: {
      on: {
        SyncSessionCreated: {
          target: 'rotating',
          actions: assign(({ event }) => ({
            syncId: event.data.syncId,
            userId: event.data.userId,
            currentId: event.data.sessionId,
            changeLimit: event.data.changeLimit,
          })),
        },
        // Nothing to expire before creation.
        SyncSessionExpired: {},
      },
    },
    rotating: {
      on: {
        SyncSessionRotated: { actions: assign(({ event }) => ({ currentId: event.data.to, rotation: event.data.rotation })) },
        SyncSessionPaused: {
          target: 'paused',
          actions: assign(({ event }) => ({
            currentId: event.data.sessionId,
            devicePublicKey: event.data.devicePublicKey,
            resumeAt: event.data.resumeAt,
          })),
        },
      },
    },
    paused: {
      on: {
        SyncSessionResumed: { target: 'rotating', actions: assign({ currentId: null, devicePublicKey: null, resumeAt: null }) },
        SyncSessionPasswordRejected: { actions: assign(({ event }) => ({ failures: event.data.failures })) },
        SyncSessionVerified: { target: 'verified', actions: assign({ currentId: null, resumeAt: null }) },
        SyncSessionFailed: { target: 'failed', actions: assign(({ event }) => ({ currentId: null, resumeAt: null, failures: event.data.failures })) },
      },
    },
    verified: { type: 'final' },
    failed: { type: 'final' },
    expired: { type: 'final' },
  },
});
