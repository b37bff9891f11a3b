import type { InvitationIssuedData, MailMethod } from './invitation.events.js';

/** Commands carry `now`: domain code never reads the clock. */
export type InvitationCommand =
  | ({ type: 'IssueInvitation'; now: number } & Omit<InvitationIssuedData, 'issuedAt' | 'sequence'>)
  | { type: 'UpdateInvitation'; start: number; end: number; title: string; now: number }
  | { type: 'ExchangeTicket'; ticketId: string; jti: string; remoteAddress: string; now: number }
  | { type: 'RevokeInvitation'; now: number }
  | { type: 'RecordMailSent'; sequence: number; method: MailMethod; transport: 'smtp' | 'outbox'; messageId: string; now: number }
  | { type: 'RecordMailFailed'; sequence: number; method: MailMethod; error: string; retryAt: number | null; now: number };
