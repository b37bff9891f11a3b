import { assign, setup } from 'xstate';
import type { CustomerEvent } from './customer.events.js';

export interface CustomerKeyState {
  keyId: string;
  publicKey: string;
  namespace: string | null;
  addedAt: number;
}

export interface CustomerContext {
  customerId: string | null;
  maxPeers: number | null;
  maxRooms: number | null;
  registeredAt: number | null;
  /** Active keys by key id; revoked keys are removed. */
  keys: Record<string, CustomerKeyState>;
}

/** The `evolve` of a customer stream: stored events in, state out. */
export const customerMachine = setup({
  types: {
    context: {} as CustomerContext,
    events: {} as CustomerEvent,
  },
}).createMachine({
  id: 'customer',
  initial: 'unknown',
  context: { customerId: null, maxPeers: null, maxRooms: null, registeredAt: null, keys: {} },
  states: {
    unknown: {
      on: {
        CustomerRegistered: {
          target: 'registered',
          actions: assign(({ event }) => ({
            customerId: event.data.customerId,
            maxPeers: event.data.maxPeers,
            maxRooms: event.data.maxRooms,
            registeredAt: event.data.registeredAt,
          })),
        },
      },
    },
    registered: {
      on: {
        CustomerKeyAdded: {
          actions: assign(({ context, event }) => ({
            keys: {
              ...context.keys,
              [event.data.keyId]: {
                keyId: event.data.keyId,
                publicKey: event.data.publicKey,
                namespace: event.data.namespace,
                addedAt: event.data.addedAt,
              },
            },
          })),
        },
        CustomerKeyRevoked: {
          guard: ({ context, event }) => event.data.keyId in context.keys,
          actions: assign(({ context, event }) => {
            const keys = { ...context.keys };
            delete keys[event.data.keyId];
            return { keys };
          }),
        },
        CustomerLimitsChanged: {
          actions: assign(({ event }) => ({ maxPeers: event.data.maxPeers, maxRooms: event.data.maxRooms })),
        },
      },
    },
  },
});
