import { z } from 'zod';
import { configInt as int } from '../../core/index.js';

/**
 * Configuration keys of invitations (PROTOCOL.md section 9), spread into the one config schema
 * (src/app/config.ts); each is also `SWITCHYARD_<KEY>` (smtpUrl: SWITCHYARD_SMTP_URL).
 */

const bool = z.preprocess((value) => (value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value), z.boolean());

export const invitationsConfigShape = {
  /**
   * `smtp://user:pass@host:587` or `smtps://host:465`. Unset: mails are written to
   * `<data>/outbox/` as .eml files, and the start-up log says so.
   */
  smtpUrl: z.url({ protocol: /^smtps?$/, error: 'smtpUrl must be an smtp:// or smtps:// URL' }).optional(),
  /** The From of every invitation and the calendar entry's ORGANIZER. */
  mailFrom: z.string().regex(/^[^\r\n]+$/, 'mailFrom must be one line').default('Switchyard <no-reply@localhost>'),
  /** False only for a test server with a self-signed certificate. */
  smtpTlsRejectUnauthorized: bool.default(true),
  /** Connection, greeting and socket timeouts of the SMTP client: a slow server fails the send, then it is retried. */
  smtpTimeoutSeconds: int(1, 300).default(10),
  /** How long an invitation's ticket (the link in the mail) can be exchanged. */
  guestTicketSeconds: int(60, 90 * 86400).default(7 * 86400),
  /** Lifetime of the guest access token a ticket is exchanged for. */
  guestTokenSeconds: int(60, 86400).default(3600),
  /** Invitees of one client_webrtc_add / remove. */
  maxInviteesPerCommand: int(1, 10_000).default(100),
  /** First retry of a failed mail after this many seconds, doubling with each attempt. */
  mailRetrySeconds: int(1, 3600).default(5),
  /** Attempts of one mail before it is given up (recorded, counted). */
  mailMaxAttempts: int(1, 50).default(8),
};

/** The slice of the gateway's config the invitations module reads. */
export interface InvitationsConfig {
  readonly smtpUrl?: string | undefined;
  readonly mailFrom: string;
  readonly smtpTlsRejectUnauthorized: boolean;
  readonly smtpTimeoutSeconds: number;
  readonly guestTicketSeconds: number;
  readonly guestTokenSeconds: number;
  readonly maxInviteesPerCommand: number;
  readonly mailRetrySeconds: number;
  readonly mailMaxAttempts: number;
  /** The data directory: the outbox is `<dataDir>/outbox`. */
  readonly dataDir: string;
}
