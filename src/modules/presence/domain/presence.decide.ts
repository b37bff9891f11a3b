import type { SnapshotFrom } from 'xstate';
import type { PresenceCommand } from './presence.commands.js';
import type { PresenceEvent } from './presence.events.js';
import type { presenceMachine } from './presence.machine.js';

export type PresenceSnapshot = SnapshotFrom<typeof presenceMachine>;

/** Checks a command against the user's presence settings and returns the events it causes. */
export function decidePresence(command: PresenceCommand, snapshot: PresenceSnapshot): PresenceEvent[] {
  switch (command.type) {
    case 'SetVisibility':
      // Choosing what holds already changes nothing: no event, no push, no receipt.
      if (snapshot.context.visible === command.visible) return [];
      return [{ type: 'PresenceVisibilitySet', data: { userId: command.userId, visible: command.visible, setAt: command.now } }];
  }
}
