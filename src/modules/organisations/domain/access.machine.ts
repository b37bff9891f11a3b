import { assign, setup } from 'xstate';
import type { Permission } from '../../../protocol/topics/extream.js';
import type { AccessEvent } from './access.events.js';

export interface AccessContext {
  /** Group id -> the permissions it holds, in the order they were granted. */
  grants: Record<string, Permission[]>;
}

/** The `evolve` of an organisation's access policy. */
export const accessMachine = setup({ types: { context: {} as AccessContext, events: {} as AccessEvent } }).createMachine({
  id: 'organisationAccess',
  context: { grants: {} },
  on: {
    PermissionsGranted: {
      actions: assign(({ context, event }) => {
        const held = context.grants[event.data.groupId] ?? [];
        return { grants: { ...context.grants, [event.data.groupId]: [...held, ...event.data.permissions.filter((p) => !held.includes(p))] } };
      }),
    },
    PermissionsRevoked: {
      actions: assign(({ context, event }) => {
        const held = context.grants[event.data.groupId] ?? [];
        return { grants: { ...context.grants, [event.data.groupId]: held.filter((p) => !event.data.permissions.includes(p)) } };
      }),
    },
  },
});
