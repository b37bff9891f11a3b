import { Counter, type Registry } from 'prom-client';
import type { Clock, RecordedEvent } from '../../core/index.js';
import type { Processor, Scheduler } from '../../runtime/index.js';
import type { InvitationsConfig } from './config.js';
import { isInvitationEvent, mailKey, type MailMethod } from './domain/index.js';
import { escapeHtml } from '../identity/index.js';
import { mailError, type Mailer } from './mail.js';
import type { InvitationDirectory, InvitationRecord } from './projection.js';
import type { Invitations } from './service.js';
import type { InvitationItemsPort } from './ports.js';

export interface MailProcessorDependencies {
  invitations: Invitations;
  directory: InvitationDirectory;
  items: InvitationItemsPort;
  mailer: Mailer;
  scheduler: Scheduler;
  clock: Clock;
  registry: Registry;
  config: Pick<InvitationsConfig, 'mailFrom' | 'mailRetrySeconds' | 'mailMaxAttempts'>;
  logger: { warn(details: Record<string, unknown>, message: string): void };
}

/** The mail an invitation is owed now: its latest REQUEST, or the CANCEL once it is revoked. */
function dueMail(invitation: InvitationRecord): { sequence: number; method: MailMethod } | undefined {
  if (invitation.status !== 'revoked') return { sequence: invitation.sequence, method: 'REQUEST' };
  // Nobody to tell when no mail ever went out; the CANCEL outranks every REQUEST before it.
  if (invitation.mailsSent.length === 0) return undefined;
  return { sequence: invitation.sequence + 1, method: 'CANCEL' };
}

const when = (start: number | null, end: number | null): string =>
  start === null ? '' : `${new Date(start).toISOString().replace('T', ' ').slice(0, 16)} UTC${end === null ? '' : ` to ${new Date(end).toISOString().replace('T', ' ').slice(0, 16)} UTC`}`;

/**
 * The mailer: sends what the log says is owed, and records each send and failure on the
 * invitation's stream.
 *
 * No mail twice: before sending, the read model is asked whether this invitation's mail of
 * this sequence and method is recorded sent; a send is recorded (InvitationMailSent) before
 * the processor's checkpoint moves past the event that asked for it. Only a crash between the
 * SMTP server's acceptance and that append can repeat a mail, which no SMTP client can rule out.
 *
 * Retries: a failure is recorded (InvitationMailFailed, with when the next attempt is due)
 * and the checkpoint moves on; the next attempt is a scheduler timer, backing off
 * exponentially (mailRetrySeconds * 2^(attempt-1)) up to mailMaxAttempts. The processor's own
 * retry (rerunning the whole batch every second) would hammer a down server and hold every
 * later invitation behind it. Timers die with the process, so `resume()` at start re-arms the
 * owed mails from the read model.
 */
export class InvitationMailer {
  private readonly inFlight = new Set<string>();
  private readonly mails: Counter<'outcome'>;

  constructor(private readonly deps: MailProcessorDependencies) {
    this.mails = new Counter({
      name: 'switchyard_invitation_mails_total',
      help: 'Invitation mails by outcome: sent, failed (to be retried) or gave_up (attempts exhausted)',
      labelNames: ['outcome'],
      registers: [deps.registry],
    });
  }

  processor(): Processor {
    return {
      name: 'invitations.mailer',
      startFrom: 'checkpoint',
      canHandle: (event) => isInvitationEvent(event) && (event.type === 'InvitationIssued' || event.type === 'InvitationUpdated' || event.type === 'InvitationRevoked'),
      handle: async (events) => {
        const ids = new Set<string>();
        for (const event of events) if (isInvitationEvent(event)) ids.add(event.data.invitationId);
        // One send per invitation of the batch: what is owed now (an update overtakes the mail it replaces).
        for (const invitationId of ids) await this.deliver(invitationId);
      },
    };
  }

  /** Re-arms the retries of mails owed and not given up (timers do not survive a restart). */
  resume(): number {
    let armed = 0;
    for (const invitation of this.deps.directory.owedMails(this.deps.config.mailMaxAttempts)) {
      this.deps.scheduler.at(`invitation-mail:${invitation.invitationId}`, this.deps.clock.now(), () => this.deliver(invitation.invitationId));
      armed += 1;
    }
    return armed;
  }

  /** Sends the invitation's owed mail unless it is recorded sent (or being sent). */
  async deliver(invitationId: string): Promise<void> {
    const invitation = this.deps.directory.get(invitationId);
    if (!invitation) return;
    const due = dueMail(invitation);
    if (!due || this.deps.directory.mailSent(invitationId, due.sequence, due.method)) return;
    const key = `${invitationId}:${mailKey(due.sequence, due.method)}`;
    if (this.inFlight.has(key)) return;
    this.inFlight.add(key);
    try {
      await this.attempt(invitation, due.sequence, due.method);
    } finally {
      this.inFlight.delete(key);
    }
  }

  private async attempt(invitation: InvitationRecord, sequence: number, method: MailMethod): Promise<void> {
    const { invitations, mailer, clock, config, scheduler } = this.deps;
    const now = clock.now();
    const metadata = { actor: 'system:mailer' };
    let sent;
    try {
      sent = await mailer.send(await this.build(invitation, sequence, method, now));
    } catch (error) {
      const attempt = invitation.mailAttempts + 1;
      const retryAt = attempt < config.mailMaxAttempts ? now + config.mailRetrySeconds * 1000 * 2 ** (attempt - 1) : null;
      const message = mailError(error);
      await invitations.run(invitation.invitationId, { type: 'RecordMailFailed', sequence, method, error: message, retryAt, now }, metadata);
      this.mails.inc({ outcome: retryAt === null ? 'gave_up' : 'failed' });
      this.deps.logger.warn({ invitation: invitation.invitationId, attempt, error: message }, 'invitation mail failed');
      if (retryAt !== null) scheduler.at(`invitation-mail:${invitation.invitationId}`, retryAt, () => this.deliver(invitation.invitationId));
      return;
    }
    await invitations.run(invitation.invitationId, { type: 'RecordMailSent', sequence, method, transport: sent.transport, messageId: sent.messageId, now: clock.now() }, metadata);
    this.mails.inc({ outcome: 'sent' });
  }

  private async build(invitation: InvitationRecord, sequence: number, method: MailMethod, now: number) {
    const item = this.deps.items.get(invitation.itemId);
    const start = invitation.startDate ?? item?.startDate ?? null;
    const end = invitation.endDate ?? item?.endDate ?? null;
    const cancel = method === 'CANCEL';
    const link = cancel ? null : `${invitation.joinUrl}${invitation.joinUrl.includes('?') ? '&' : '?'}ticket=${await this.deps.invitations.ticketFor(invitation, now)}`;
    const subject = cancel ? `Cancelled: ${invitation.title}` : sequence > 0 ? `Updated invitation: ${invitation.title}` : `Invitation: ${invitation.title}`;
    const greeting = invitation.name === null ? 'Hello,' : `Hello ${invitation.name},`;
    const lines = cancel
      ? [greeting, '', `Your invitation to "${invitation.title}" (${when(start, end)}) was withdrawn.`]
      : [greeting, '', `You are invited to "${invitation.title}", ${when(start, end)}.`, '', `Join the call: ${link}`, '', 'The link is yours alone and can be used once.'];
    const html = cancel
      ? `<p>${escapeHtml(greeting)}</p><p>Your invitation to <b>${escapeHtml(invitation.title)}</b> (${escapeHtml(when(start, end))}) was withdrawn.</p>`
      : `<p>${escapeHtml(greeting)}</p><p>You are invited to <b>${escapeHtml(invitation.title)}</b>, ${escapeHtml(when(start, end))}.</p>` +
        `<p><a href="${escapeHtml(link!)}">Join the call</a></p><p>The link is yours alone and can be used once.</p>`;
    return {
      invitationId: invitation.invitationId,
      sequence,
      method,
      from: this.deps.config.mailFrom,
      to: { name: invitation.name, address: invitation.email },
      subject,
      text: lines.join('\n'),
      html,
      calendar: this.deps.invitations.calendarOf(invitation, method, link, sequence),
    };
  }
}

interface ItemUpdatedEvent {
  itemId: string;
  changes: { startDate?: number | null; endDate?: number | null; name?: string };
}

const isItemUpdated = (event: RecordedEvent): event is RecordedEvent<'ItemUpdated', ItemUpdatedEvent> =>
  event.type === 'ItemUpdated' && event.streamId.startsWith('itinerary-');

/**
 * An invited item's dates or name changed (the itineraries module's ItemUpdated, read from
 * the log by its type name): each live invitation of it gets an InvitationUpdated, and so a
 * mail with a higher SEQUENCE. Checkpointed, so a change while the gateway was down still
 * reaches the invitees; rerunning an event appends nothing when the invitation already says so.
 */
export function itemUpdateProcessor({ invitations, directory, items, clock }: Pick<MailProcessorDependencies, 'invitations' | 'directory' | 'items' | 'clock'>): Processor {
  return {
    name: 'invitations.item-updates',
    startFrom: 'checkpoint',
    canHandle: (event) => {
      if (!isItemUpdated(event)) return false;
      const { changes } = event.data;
      return changes.startDate !== undefined || changes.endDate !== undefined || changes.name !== undefined;
    },
    handle: async (events) => {
      for (const event of events) {
        if (!isItemUpdated(event)) continue;
        const item = items.get(event.data.itemId);
        if (!item || item.startDate === null || item.endDate === null) continue;
        for (const invitation of directory.byItem(item.itemId)) {
          if (invitation.status === 'revoked') continue;
          const title = event.data.changes.name ?? invitation.title;
          if (invitation.startDate === item.startDate && invitation.endDate === item.endDate && invitation.title === title) continue;
          await invitations.run(
            invitation.invitationId,
            { type: 'UpdateInvitation', start: item.startDate, end: item.endDate, title, now: clock.now() },
            { actor: 'system:invitations', causationId: String(event.position) },
          );
        }
      }
    },
  };
}
