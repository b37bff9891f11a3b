import { assign, setup } from 'xstate';
import type { StreamEvent, StreamStatus } from './stream.events.js';

export interface StreamContext {
  itemId: string | null;
  /** How many keys were issued; 0: none yet, so no key activates the stream. */
  generation: number;
  /** SHA-256 of the only key that counts (the latest). */
  keyHash: string | null;
  activatedAt: number | null;
  completedAt: number | null;
  recordingUrl: string | null;
  /** The status last recorded (StreamStatusChanged); every stream starts rehearsing. */
  status: StreamStatus;
}

/**
 * The `evolve` of an rtmp item's stream: open (keys, activation and the clock's status
 * changes) -> completed (the streaming service said the recording is done: final for the
 * stream's life, though a key may still be shown or rotated). The status itself is context:
 * it follows the clock back and forth when the item's schedule moves, so it is no state.
 */
export const streamMachine = setup({
  types: { context: {} as StreamContext, events: {} as StreamEvent },
}).createMachine({
  id: 'stream',
  initial: 'open',
  context: { itemId: null, generation: 0, keyHash: null, activatedAt: null, completedAt: null, recordingUrl: null, status: 'rehearsing' },
  on: {
    StreamKeyIssued: { actions: assign(({ event }) => ({ itemId: event.data.itemId, generation: event.data.generation, keyHash: event.data.keyHash })) },
    StreamStatusChanged: { actions: assign(({ event }) => ({ itemId: event.data.itemId, status: event.data.status })) },
  },
  states: {
    open: {
      on: {
        StreamActivated: { actions: assign(({ event }) => ({ itemId: event.data.itemId, activatedAt: event.data.activatedAt })) },
        StreamCompleted: {
          target: 'completed',
          actions: assign(({ event }) => ({ itemId: event.data.itemId, completedAt: event.data.completedAt, recordingUrl: event.data.recordingUrl })),
        },
      },
    },
    completed: {},
  },
});
