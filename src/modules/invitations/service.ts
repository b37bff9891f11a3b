import { randomBytes, randomUUID } from 'node:crypto';
import type { TokenService } from '../../auth/tokens.js';
import { AppError, isAppError, streamId, type Clock, type EventMetadata } from '../../core/index.js';
import type { ActorRuntime } from '../../runtime/index.js';
import { calendarFile, requireSchedule } from './calendar.js';
import type { InvitationsConfig } from './config.js';
import { INVITATION_CATEGORY, ticketNotValid, type InvitationCommand, type MailMethod } from './domain/index.js';
import { INVITABLE_TYPES, roomOf, type InvitableItem, type InvitationItemsPort } from './ports.js';
import type { InvitationDirectory, InvitationRecord } from './projection.js';

/** Who issues a change (the audit view's answer) and what ties its answers together. */
export interface InvitationContext {
  actor: string;
  connection?: string;
  correlationId?: string;
  now?: number;
}

export interface InviteOutcome {
  position: number | undefined;
  invited: { invitation: string; email: string; status: 'invited' | 'already_invited' }[];
}

export interface RemoveOutcome {
  position: number | undefined;
  removed: { invitation: string | null; email: string; status: 'removed' | 'not_invited' }[];
}

export interface GuestGrant {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  item: { id: string; name: string; type: string; start_date: string | null; end_date: string | null; room: string };
}

export interface InvitationsServiceDependencies {
  runtime: ActorRuntime;
  directory: InvitationDirectory;
  items: InvitationItemsPort;
  tokens: Pick<TokenService, 'issue' | 'verify'>;
  clock: Clock;
  config: Pick<InvitationsConfig, 'guestTicketSeconds' | 'guestTokenSeconds' | 'mailFrom'>;
}

const iso = (epochMs: number | null): string | null => (epochMs === null ? null : new Date(epochMs).toISOString());

const notFound = (message: string): AppError => new AppError('NOT_FOUND', message, { errors: [{ path: 'id', message }] });

/**
 * Invitations of guests to calls (PROTOCOL.md section 9).
 *
 * Tickets: the log never holds a usable ticket. TokenService.issue picks each token's `jti`
 * itself, so a ticket cannot be re-made with a recorded jti; instead the invitation records a
 * ticket id (`ticketJti`, random) and every ticket signed for it carries that as its `tid`
 * claim. The mailer signs a ticket when it builds a mail (expiring at the invitation's
 * `ticketExpiresAt`, whenever it is sent), so a retried or updated mail carries a fresh
 * signature for the same invitation. Single use is per invitation, decided on its stream: the
 * first exchange of any of its tickets records TicketExchanged, and every later one is refused.
 */
export class Invitations {
  constructor(private readonly deps: InvitationsServiceDependencies) {}

  /** The item an invitation may be made to: a call with dates. NOT_FOUND / BAD_REQUEST naming `id`. */
  invitableItem(itemId: string): InvitableItem & { startDate: number; endDate: number } {
    const item = this.deps.items.get(itemId);
    if (!item) throw notFound('unknown item');
    if (!INVITABLE_TYPES.has(item.type)) {
      throw new AppError('BAD_REQUEST', `id: guests are invited to webrtc and zoom items, not ${item.type}`, { errors: [{ path: 'id', message: 'not a webrtc or zoom item' }] });
    }
    const { start, end } = requireSchedule(item);
    return { ...item, startDate: start, endDate: end };
  }

  async invite(
    itemId: string,
    emails: readonly string[],
    title: string | undefined,
    baseURL: string,
    names: Readonly<Record<string, string>> | undefined,
    context: InvitationContext,
  ): Promise<InviteOutcome> {
    // Every check before the first append: a refused command leaves nothing half-done.
    const item = this.invitableItem(itemId);
    const now = context.now ?? this.deps.clock.now();
    const nameOf = new Map(Object.entries(names ?? {}).map(([email, name]) => [email.toLowerCase(), name]));
    const outcome: InviteOutcome = { position: undefined, invited: [] };
    for (const raw of emails) {
      const email = raw.toLowerCase();
      // Re-inviting an invited address answers the invitation it has: no second mail.
      const existing = this.deps.directory.byItemAndEmail(itemId, email);
      if (existing) {
        outcome.invited.push({ invitation: existing.invitationId, email, status: 'already_invited' });
        continue;
      }
      const invitationId = randomUUID();
      const result = await this.run(
        invitationId,
        {
          type: 'IssueInvitation',
          invitationId,
          itemId,
          itineraryId: item.itineraryId,
          eventId: item.eventId,
          organisationId: item.organisationId,
          email,
          name: nameOf.get(email) ?? null,
          title: title ?? item.name,
          joinUrl: baseURL,
          ticketJti: randomBytes(16).toString('base64url'),
          ticketExpiresAt: now + this.deps.config.guestTicketSeconds * 1000,
          now,
        },
        context,
      );
      outcome.position = result ?? outcome.position;
      outcome.invited.push({ invitation: invitationId, email, status: 'invited' });
    }
    return outcome;
  }

  async remove(itemId: string, emails: readonly string[], context: InvitationContext): Promise<RemoveOutcome> {
    if (!this.deps.items.get(itemId) && this.deps.directory.byItem(itemId).length === 0) throw notFound('unknown item');
    const now = context.now ?? this.deps.clock.now();
    const outcome: RemoveOutcome = { position: undefined, removed: [] };
    for (const raw of emails) {
      const email = raw.toLowerCase();
      const existing = this.deps.directory.byItemAndEmail(itemId, email);
      if (!existing) {
        outcome.removed.push({ invitation: null, email, status: 'not_invited' });
        continue;
      }
      outcome.position = (await this.run(existing.invitationId, { type: 'RevokeInvitation', now }, context)) ?? outcome.position;
      outcome.removed.push({ invitation: existing.invitationId, email, status: 'removed' });
    }
    return outcome;
  }

  /** A ticket for the invitation's mail: signed now, expiring when the invitation's ticket does. */
  async ticketFor(invitation: InvitationRecord, now: number): Promise<string> {
    const ttlSeconds = Math.max(1, Math.ceil((invitation.ticketExpiresAt - now) / 1000));
    const { token } = await this.deps.tokens.issue('guestTicket', {
      subject: invitation.invitationId,
      ttlSeconds,
      claims: { tid: invitation.ticketJti, item: invitation.itemId, email: invitation.email, name: invitation.name },
      now,
    });
    return token;
  }

  /** The invitation a ticket is for, checked: ours, of this kind, not expired, the invitation's current ticket id, not revoked. */
  async verifyTicket(ticket: unknown, now: number): Promise<{ invitation: InvitationRecord; jti: string }> {
    let claims;
    try {
      claims = await this.deps.tokens.verify('guestTicket', ticket, now);
    } catch {
      throw ticketNotValid();
    }
    const invitation = this.deps.directory.get(claims.sub);
    if (!invitation || invitation.status === 'revoked' || claims.tid !== invitation.ticketJti) throw ticketNotValid();
    return { invitation, jti: claims.jti };
  }

  /** `POST /guest/exchange`: the ticket, once, for a guest access token scoped to the item. */
  async exchange(ticket: unknown, remoteAddress: string, now: number): Promise<GuestGrant> {
    const { invitation, jti } = await this.verifyTicket(ticket, now);
    const item = this.deps.items.get(invitation.itemId);
    if (!item) throw ticketNotValid();
    try {
      await this.deps.runtime.execute(
        streamId(INVITATION_CATEGORY, invitation.invitationId),
        { type: 'ExchangeTicket', ticketId: invitation.ticketJti, jti, remoteAddress, now } satisfies InvitationCommand,
        { actor: `guest:${invitation.invitationId}`, remoteAddress },
      );
    } catch (error) {
      // Used (CONFLICT), revoked meanwhile, or a race lost on the stream's version: one answer for all.
      if (isAppError(error)) throw ticketNotValid();
      throw error;
    }
    const room = roomOf(item);
    const ttlSeconds = this.deps.config.guestTokenSeconds;
    const { token } = await this.deps.tokens.issue('guest', {
      subject: invitation.invitationId,
      ttlSeconds,
      claims: { item: item.itemId, room, org: item.organisationId, email: invitation.email, name: invitation.name },
      now,
    });
    return {
      access_token: token,
      token_type: 'Bearer',
      expires_in: ttlSeconds,
      item: { id: item.itemId, name: item.name, type: item.type, start_date: iso(item.startDate), end_date: iso(item.endDate), room },
    };
  }

  isRevoked(invitationId: string): boolean {
    return this.deps.directory.isRevoked(invitationId);
  }

  /**
   * `GET /invitations/<id>.ics`: to the holder of a ticket of that invitation (used or not),
   * while it is not revoked. The file names no ticket: the holder has one already.
   */
  async ics(invitationId: string, ticket: unknown, now: number): Promise<string> {
    const { invitation } = await this.verifyTicket(ticket, now);
    if (invitation.invitationId !== invitationId) throw ticketNotValid();
    return this.calendarOf(invitation, 'REQUEST', null);
  }

  /** The calendar entry of the invitation's current state; the item's dates unless an update recorded others. */
  calendarOf(invitation: InvitationRecord, method: MailMethod, joinLink: string | null, sequence = invitation.sequence): string {
    const item = this.deps.items.get(invitation.itemId);
    const start = invitation.startDate ?? item?.startDate ?? invitation.issuedAt;
    const end = invitation.endDate ?? item?.endDate ?? start;
    return calendarFile({
      invitationId: invitation.invitationId,
      method,
      sequence,
      start,
      end,
      title: invitation.title,
      organizer: this.deps.config.mailFrom,
      attendee: { email: invitation.email, name: invitation.name },
      joinLink,
    });
  }

  /** Runs a command on the invitation's stream; the position of its last event (undefined: nothing appended). */
  async run(invitationId: string, command: InvitationCommand, context: InvitationContext | EventMetadata): Promise<number | undefined> {
    const { now: _now, ...metadata } = context;
    const result = await this.deps.runtime.execute(streamId(INVITATION_CATEGORY, invitationId), command, metadata);
    return result.events.at(-1)?.position;
  }
}
