import type { Projection, ReadModelDatabase } from '../../store/index.js';
import { statement } from '../../store/index.js';
import { isInvitationEvent, mailKey, type InvitationIssuedData, type MailMethod } from './domain/index.js';

/**
 * Read model `invitations`, inline: the service answers a re-invite from it at once (one live
 * invitation per item and address), the mailer skips mails it already recorded sent, and the
 * guest checks (`isRevoked`) read it on every guest command. Statement keys are prefixed
 * `invitations:` since the statement cache is shared by every projection.
 */
export const invitationsProjection: Projection = {
  name: 'invitations',
  mode: 'inline',
  tables: ['invitations'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS invitations (
        invitation_id TEXT PRIMARY KEY, item_id TEXT NOT NULL, itinerary_id TEXT NOT NULL, event_id TEXT NOT NULL,
        organisation_id TEXT NOT NULL, email TEXT NOT NULL, name TEXT, title TEXT NOT NULL, join_url TEXT NOT NULL,
        status TEXT NOT NULL, sequence INTEGER NOT NULL, start_date INTEGER, end_date INTEGER,
        ticket_jti TEXT NOT NULL, ticket_expires_at INTEGER NOT NULL,
        mails_sent TEXT NOT NULL, mail_attempts INTEGER NOT NULL, last_mail_error TEXT,
        issued_at INTEGER NOT NULL, exchanged_at INTEGER, revoked_at INTEGER);
      CREATE INDEX IF NOT EXISTS invitations_by_item ON invitations (item_id, email);
    `);
  },
  apply(db, event) {
    if (!isInvitationEvent(event)) return;
    switch (event.type) {
      case 'InvitationIssued': {
        const d = event.data;
        statement(
          db,
          'invitations:issue',
          `INSERT INTO invitations (invitation_id, item_id, itinerary_id, event_id, organisation_id, email, name, title, join_url, status, sequence,
             ticket_jti, ticket_expires_at, mails_sent, mail_attempts, issued_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'issued', ?, ?, ?, '[]', 0, ?)`,
        ).run(d.invitationId, d.itemId, d.itineraryId, d.eventId, d.organisationId, d.email, d.name, d.title, d.joinUrl, d.sequence, d.ticketJti, d.ticketExpiresAt, d.issuedAt);
        return;
      }
      case 'InvitationUpdated': {
        const d = event.data;
        statement(db, 'invitations:update', 'UPDATE invitations SET sequence = ?, start_date = ?, end_date = ?, title = ?, mail_attempts = 0 WHERE invitation_id = ?').run(
          d.sequence,
          d.start,
          d.end,
          d.title,
          d.invitationId,
        );
        return;
      }
      case 'TicketExchanged':
        statement(db, 'invitations:exchange', "UPDATE invitations SET status = 'exchanged', exchanged_at = ? WHERE invitation_id = ?").run(event.data.exchangedAt, event.data.invitationId);
        return;
      case 'InvitationRevoked':
        statement(db, 'invitations:revoke', "UPDATE invitations SET status = 'revoked', revoked_at = ?, mail_attempts = 0 WHERE invitation_id = ?").run(event.data.revokedAt, event.data.invitationId);
        return;
      case 'InvitationMailSent': {
        const row = statement(db, 'invitations:mails', 'SELECT mails_sent FROM invitations WHERE invitation_id = ?').get(event.data.invitationId) as { mails_sent: string } | undefined;
        if (!row) return;
        const sent = [...parseKeys(row.mails_sent), mailKey(event.data.sequence, event.data.method)];
        statement(db, 'invitations:sent', 'UPDATE invitations SET mails_sent = ?, mail_attempts = 0, last_mail_error = NULL WHERE invitation_id = ?').run(JSON.stringify(sent), event.data.invitationId);
        return;
      }
      case 'InvitationMailFailed':
        statement(db, 'invitations:failed', 'UPDATE invitations SET mail_attempts = ?, last_mail_error = ? WHERE invitation_id = ?').run(event.data.attempt, event.data.error, event.data.invitationId);
        return;
    }
  },
};

/** The column holds a JSON array of mail keys the projection wrote. */
const parseKeys = (text: string): string[] => JSON.parse(text) as string[];

interface InvitationRow {
  invitation_id: string;
  item_id: string;
  itinerary_id: string;
  event_id: string;
  organisation_id: string;
  email: string;
  name: string | null;
  title: string;
  join_url: string;
  status: InvitationStatus;
  sequence: number;
  start_date: number | null;
  end_date: number | null;
  ticket_jti: string;
  ticket_expires_at: number;
  mails_sent: string;
  mail_attempts: number;
  last_mail_error: string | null;
  issued_at: number;
  exchanged_at: number | null;
  revoked_at: number | null;
}

export type InvitationStatus = 'issued' | 'exchanged' | 'revoked';

/** An invitation as the read model holds it: what its issue recorded, and where it stands now. */
export type InvitationRecord = InvitationIssuedData & {
  status: InvitationStatus;
  /** The dates of the last update, when the item's schedule changed since the invitation; else the item's. */
  startDate: number | null;
  endDate: number | null;
  mailsSent: readonly string[];
  /** Failed attempts of the mail now due (reset when one is sent or a new one is due). */
  mailAttempts: number;
  lastMailError: string | null;
  exchangedAt: number | null;
  revokedAt: number | null;
};

const recordOf = (row: InvitationRow): InvitationRecord => ({
  invitationId: row.invitation_id,
  itemId: row.item_id,
  itineraryId: row.itinerary_id,
  eventId: row.event_id,
  organisationId: row.organisation_id,
  email: row.email,
  name: row.name,
  title: row.title,
  joinUrl: row.join_url,
  status: row.status,
  sequence: row.sequence,
  startDate: row.start_date,
  endDate: row.end_date,
  ticketJti: row.ticket_jti,
  ticketExpiresAt: row.ticket_expires_at,
  mailsSent: parseKeys(row.mails_sent),
  mailAttempts: row.mail_attempts,
  lastMailError: row.last_mail_error,
  issuedAt: row.issued_at,
  exchangedAt: row.exchanged_at,
  revokedAt: row.revoked_at,
});

/** Queries over the read model (`store.readModels`). */
export class InvitationDirectory {
  constructor(private readonly db: ReadModelDatabase) {}

  get(invitationId: string): InvitationRecord | undefined {
    const row = statement(this.db, 'invitations:get', 'SELECT * FROM invitations WHERE invitation_id = ?').get(invitationId) as InvitationRow | undefined;
    return row && recordOf(row);
  }

  /** Every invitation of the item, revoked ones too, oldest first. */
  byItem(itemId: string): InvitationRecord[] {
    const rows = statement(this.db, 'invitations:by-item', 'SELECT * FROM invitations WHERE item_id = ? ORDER BY issued_at, invitation_id').all(itemId) as InvitationRow[];
    return rows.map(recordOf);
  }

  /** The item's live (not revoked) invitation of this address: at most one, as the service keeps it. */
  byItemAndEmail(itemId: string, email: string): InvitationRecord | undefined {
    const row = statement(this.db, 'invitations:by-item-email', "SELECT * FROM invitations WHERE item_id = ? AND email = ? AND status != 'revoked' ORDER BY issued_at DESC LIMIT 1").get(
      itemId,
      email.toLowerCase(),
    ) as InvitationRow | undefined;
    return row && recordOf(row);
  }

  /** True for revoked invitations and for ids never issued: a guest token naming either counts for nothing. */
  isRevoked(invitationId: string): boolean {
    const row = statement(this.db, 'invitations:status', 'SELECT status FROM invitations WHERE invitation_id = ?').get(invitationId) as { status: InvitationStatus } | undefined;
    return row === undefined || row.status === 'revoked';
  }

  /** Invitations whose owed mail failed and has attempts left: the retries to re-arm at start. */
  owedMails(maxAttempts: number): InvitationRecord[] {
    const rows = statement(this.db, 'invitations:owed', 'SELECT * FROM invitations WHERE mail_attempts > 0 AND mail_attempts < ? ORDER BY issued_at').all(maxAttempts) as InvitationRow[];
    return rows.map(recordOf);
  }

  /** Whether this mail was recorded sent: the mailer's guard against a second send after a restart. */
  mailSent(invitationId: string, sequence: number, method: MailMethod): boolean {
    return this.get(invitationId)?.mailsSent.includes(mailKey(sequence, method)) ?? false;
  }
}
