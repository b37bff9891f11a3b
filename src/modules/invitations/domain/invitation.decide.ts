import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import type { InvitationCommand } from './invitation.commands.js';
import { mailKey, type InvitationEvent } from './invitation.events.js';
import type { invitationMachine } from './invitation.machine.js';

export type InvitationSnapshot = SnapshotFrom<typeof invitationMachine>;

/**
 * Every refused ticket gets this one answer: whether it was used, revoked or never ours is
 * for the log, not for whoever holds the link.
 */
export const ticketNotValid = (): AppError => new AppError('UNAUTHORIZED', 'ticket is not valid');

/** Checks a command against the invitation's state and returns the events it causes. */
export function decideInvitation(command: InvitationCommand, snapshot: InvitationSnapshot): InvitationEvent[] {
  const { context } = snapshot;
  const invitationId = context.invitationId;
  switch (command.type) {
    case 'IssueInvitation': {
      if (!snapshot.matches('none')) throw new AppError('CONFLICT', 'this invitation exists already');
      const { type: _type, now, ...data } = command;
      return [{ type: 'InvitationIssued', data: { ...data, sequence: 0, issuedAt: now } }];
    }
    case 'UpdateInvitation': {
      if (invitationId === null) throw new AppError('NOT_FOUND', 'unknown invitation');
      if (snapshot.matches('revoked')) throw new AppError('CONFLICT', 'this invitation was revoked');
      const { start, end, title, now } = command;
      return [{ type: 'InvitationUpdated', data: { invitationId, sequence: context.sequence + 1, start, end, title, updatedAt: now } }];
    }
    case 'ExchangeTicket': {
      // Unknown, revoked, or a ticket of an earlier generation: not a ticket of this invitation.
      if (invitationId === null || snapshot.matches('revoked') || command.ticketId !== context.ticketJti) throw ticketNotValid();
      // Single use; the service answers it as any other refused ticket.
      if (snapshot.matches('exchanged')) throw new AppError('CONFLICT', 'this ticket was exchanged already');
      return [{ type: 'TicketExchanged', data: { invitationId, jti: command.jti, exchangedAt: command.now, remoteAddress: command.remoteAddress } }];
    }
    case 'RevokeInvitation': {
      if (invitationId === null) throw new AppError('NOT_FOUND', 'unknown invitation');
      // Removing someone twice is the same as once.
      if (snapshot.matches('revoked')) return [];
      return [{ type: 'InvitationRevoked', data: { invitationId, itemId: context.itemId!, email: context.email!, revokedAt: command.now } }];
    }
    case 'RecordMailSent': {
      if (invitationId === null) throw new AppError('NOT_FOUND', 'unknown invitation');
      // A mail recorded sent once stays so: a replayed send (after a crash) records nothing new.
      if (context.mailsSent[mailKey(command.sequence, command.method)]) return [];
      const { sequence, method, transport, messageId, now } = command;
      return [{ type: 'InvitationMailSent', data: { invitationId, sequence, method, transport, messageId, sentAt: now } }];
    }
    case 'RecordMailFailed': {
      if (invitationId === null) throw new AppError('NOT_FOUND', 'unknown invitation');
      const key = mailKey(command.sequence, command.method);
      if (context.mailsSent[key]) return [];
      const attempt = (context.attempts[key] ?? 0) + 1;
      const { sequence, method, error, retryAt } = command;
      return [{ type: 'InvitationMailFailed', data: { invitationId, sequence, method, attempt, error, retryAt } }];
    }
  }
}
