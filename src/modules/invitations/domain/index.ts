import type { AggregateDefinition } from '../../../core/index.js';
import type { InvitationCommand } from './invitation.commands.js';
import { decideInvitation } from './invitation.decide.js';
import { INVITATION_CATEGORY } from './invitation.events.js';
import { invitationMachine } from './invitation.machine.js';

export * from './invitation.events.js';
export * from './invitation.commands.js';
export { invitationMachine, type InvitationContext } from './invitation.machine.js';
export { decideInvitation, ticketNotValid, type InvitationSnapshot } from './invitation.decide.js';

export const invitationAggregate: AggregateDefinition<typeof invitationMachine, InvitationCommand> = {
  category: INVITATION_CATEGORY,
  machine: invitationMachine,
  decide: decideInvitation,
  // Invitations take a few commands in their life (a mail, an exchange, a revoke): loaded
  // from their stream when one comes, not kept for every invitation ever sent.
  rebuildAtStart: false,
  keepInMemory: false,
};
