import type { RecordedEvent } from '../../../core/index.js';

/**
 * Events of one invitation (PROTOCOL.md section 9): one stream per invitee of an item,
 * `invitation-<invitationId>`, so the single use of its ticket is decided on one stream's
 * state (two racing exchanges: the second is refused, and the append's expected version
 * would refuse it even if two processes decided at once). Times are epoch milliseconds.
 *
 * No event holds a usable ticket: InvitationIssued records the ticket's id (`ticketJti`,
 * carried in every ticket of this invitation as its `tid` claim) and its expiry; the signed
 * JWT is made when a mail is built and exists only in that mail.
 */

export const INVITATION_CATEGORY = 'invitation';

export type MailMethod = 'REQUEST' | 'CANCEL';

export interface InvitationIssuedData {
  invitationId: string;
  itemId: string;
  itineraryId: string;
  eventId: string;
  organisationId: string;
  /** Lower-cased. */
  email: string;
  name: string | null;
  /** What the mail and the calendar entry call it: the command's title, else the item's name. */
  title: string;
  /** The join link's base; the link is `${joinUrl}?ticket=<ticket>`. */
  joinUrl: string;
  ticketJti: string;
  ticketExpiresAt: number;
  /** The calendar SEQUENCE of the first mail: 0. */
  sequence: number;
  issuedAt: number;
}

export interface InvitationUpdatedData {
  invitationId: string;
  sequence: number;
  start: number;
  end: number;
  title: string;
  updatedAt: number;
}

export interface TicketExchangedData {
  invitationId: string;
  /** The `jti` of the ticket that was exchanged. */
  jti: string;
  exchangedAt: number;
  remoteAddress: string;
}

export interface InvitationRevokedData {
  invitationId: string;
  itemId: string;
  email: string;
  revokedAt: number;
}

export interface InvitationMailSentData {
  invitationId: string;
  sequence: number;
  method: MailMethod;
  transport: 'smtp' | 'outbox';
  messageId: string;
  sentAt: number;
}

export interface InvitationMailFailedData {
  invitationId: string;
  sequence: number;
  method: MailMethod;
  attempt: number;
  /** Short and free of secrets (the SMTP URL's password never gets here). */
  error: string;
  /** When the next attempt is due; null when no attempt is left. */
  retryAt: number | null;
}

export type InvitationEvent =
  | { type: 'InvitationIssued'; data: InvitationIssuedData }
  | { type: 'InvitationUpdated'; data: InvitationUpdatedData }
  | { type: 'TicketExchanged'; data: TicketExchangedData }
  | { type: 'InvitationRevoked'; data: InvitationRevokedData }
  | { type: 'InvitationMailSent'; data: InvitationMailSentData }
  | { type: 'InvitationMailFailed'; data: InvitationMailFailedData };

export type RecordedInvitationEvent = RecordedEvent & InvitationEvent;

/** Every InvitationEvent type; `satisfies` fails to compile when the union gains one not listed. */
export const INVITATION_EVENT_TYPES = Object.keys({
  InvitationIssued: true,
  InvitationUpdated: true,
  TicketExchanged: true,
  InvitationRevoked: true,
  InvitationMailSent: true,
  InvitationMailFailed: true,
} satisfies Record<InvitationEvent['type'], true>) as readonly InvitationEvent['type'][];

const EVENT_TYPES: ReadonlySet<string> = new Set(INVITATION_EVENT_TYPES);
const STREAM_PREFIX = `${INVITATION_CATEGORY}-`;

/** An invitation's event: on an `invitation-<id>` stream and of one of its types (the log is the only writer). */
export function isInvitationEvent(event: RecordedEvent): event is RecordedInvitationEvent {
  return EVENT_TYPES.has(event.type) && event.streamId.startsWith(STREAM_PREFIX);
}

/** The key a mail is known by: one per sequence and method, sent at most once. */
export const mailKey = (sequence: number, method: MailMethod): string => `${sequence}:${method}`;
