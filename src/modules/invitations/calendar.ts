import { createEvent, type EventAttributes } from 'ics';
import { AppError } from '../../core/index.js';
import type { MailMethod } from './domain/index.js';

/**
 * The invitation's calendar entry (RFC 5545), the only importer of `ics`. One UID per
 * invitation, so a calendar app files the update (higher SEQUENCE) and the CANCEL onto the
 * entry it made from the first REQUEST.
 */

export interface CalendarInvitation {
  invitationId: string;
  method: MailMethod;
  sequence: number;
  /** Epoch ms; written in UTC. */
  start: number;
  end: number;
  title: string;
  /** `Name <address>` or a bare address (config mailFrom). */
  organizer: string;
  attendee: { email: string; name: string | null };
  /** The join link with its ticket, or null (a CANCEL, or the .ics route's copy without one). */
  joinLink: string | null;
}

export const calendarUid = (invitationId: string): string => `${invitationId}@switchyard`;

/** `Name <address>` -> its parts; a bare address has no name. */
export function parseMailbox(mailbox: string): { name?: string; email: string } {
  const match = /^\s*(.*?)\s*<([^<>\s]+)>\s*$/.exec(mailbox);
  if (!match) return { email: mailbox.trim() };
  const name = match[1]!.replace(/^"|"$/g, '');
  return name === '' ? { email: match[2]! } : { name, email: match[2]! };
}

const utc = (epochMs: number): number => epochMs;

export function calendarFile(invitation: CalendarInvitation): string {
  const cancel = invitation.method === 'CANCEL';
  const organizer = parseMailbox(invitation.organizer);
  const attendee = { email: invitation.attendee.email, ...(invitation.attendee.name === null ? {} : { name: invitation.attendee.name }) };
  const description = cancel
    ? 'This invitation was withdrawn.'
    : invitation.joinLink === null
      ? 'Join with the link in your invitation mail.'
      : `Join the call: ${invitation.joinLink}`;
  const attributes: EventAttributes = {
    productId: 'switchyard/invitations',
    method: invitation.method,
    uid: calendarUid(invitation.invitationId),
    sequence: invitation.sequence,
    // Epoch numbers are instants: written as UTC (…Z), whatever the server's zone.
    start: utc(invitation.start),
    startInputType: 'utc',
    startOutputType: 'utc',
    end: utc(invitation.end),
    endInputType: 'utc',
    endOutputType: 'utc',
    title: invitation.title,
    description,
    status: cancel ? 'CANCELLED' : 'CONFIRMED',
    organizer,
    attendees: [{ ...attendee, rsvp: !cancel, partstat: 'NEEDS-ACTION', role: 'REQ-PARTICIPANT' }],
    ...(invitation.joinLink === null || cancel ? {} : { url: invitation.joinLink }),
  };
  const { error, value } = createEvent(attributes);
  // Inputs are checked at the edge (no line breaks, valid addresses); a refusal here is ours.
  if (error || value === null) throw new AppError('INTERNAL', 'the calendar entry could not be written');
  return value;
}

/** An item without dates has no calendar entry, so no invitation. */
export function requireSchedule(item: { startDate: number | null; endDate: number | null }): { start: number; end: number } {
  if (item.startDate === null || item.endDate === null) {
    throw new AppError('BAD_REQUEST', 'id: the item has no start_date and end_date to invite to', { errors: [{ path: 'id', message: 'the item has no start_date and end_date to invite to' }] });
  }
  return { start: item.startDate, end: item.endDate };
}
