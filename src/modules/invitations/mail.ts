import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import type { MailMethod } from './domain/index.js';

/**
 * Mail out, the only importer of nodemailer: SMTP when `smtpUrl` is configured, else `.eml`
 * files in `<data>/outbox/` (development, demos). Every header value (From, To, Subject) goes
 * in as one of nodemailer's structured fields, which it encodes; nothing here concatenates a
 * header, and the schemas refuse CR/LF in names and titles before they get this far.
 */

export interface OutgoingMail {
  invitationId: string;
  sequence: number;
  method: MailMethod;
  from: string;
  to: { name: string | null; address: string };
  subject: string;
  text: string;
  html: string;
  /** The .ics, attached as `invite.ics`. */
  calendar: string;
}

export interface SentMail {
  transport: 'smtp' | 'outbox';
  messageId: string;
}

export interface Mailer {
  readonly transport: 'smtp' | 'outbox';
  send(mail: OutgoingMail): Promise<SentMail>;
  close(): void;
}

export interface MailerOptions {
  smtpUrl?: string | undefined;
  smtpTlsRejectUnauthorized: boolean;
  smtpTimeoutSeconds: number;
  dataDir: string;
  logger: { info(details: Record<string, unknown>, message: string): void };
}

export const outboxDirectory = (dataDir: string): string => join(dataDir, 'outbox');

/** The message as nodemailer takes it: structured fields only. */
function messageOf(mail: OutgoingMail): SendMailOptions {
  return {
    from: mail.from,
    to: mail.to.name === null ? mail.to.address : { name: mail.to.name, address: mail.to.address },
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    // Calendar apps read the attached file; `method=` tells them what to do with it.
    attachments: [{ filename: 'invite.ics', content: mail.calendar, contentType: `text/calendar; charset=utf-8; method=${mail.method}` }],
  };
}

/** What a failure says in the log and in InvitationMailFailed: its code and a short message, never a URL with a password. */
export function mailError(error: unknown): string {
  if (!(error instanceof Error)) return 'mail transport failed';
  const code = (error as { code?: unknown }).code;
  const text = error.message.replace(/[a-z]+:\/\/[^\s]*/gi, '<url>').replace(/\s+/g, ' ').slice(0, 160);
  return typeof code === 'string' ? `${code}: ${text}` : text;
}

export function createMailer(options: MailerOptions): Mailer {
  if (options.smtpUrl !== undefined) {
    const timeout = options.smtpTimeoutSeconds * 1000;
    const transport = nodemailer.createTransport({
      url: options.smtpUrl,
      tls: { rejectUnauthorized: options.smtpTlsRejectUnauthorized },
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    });
    return {
      transport: 'smtp',
      async send(mail) {
        const info = await transport.sendMail(messageOf(mail));
        return { transport: 'smtp', messageId: String(info.messageId) };
      },
      close: () => transport.close(),
    };
  }
  const directory = outboxDirectory(options.dataDir);
  options.logger.info({ outbox: directory }, 'no smtpUrl configured: invitation mails go to data/outbox as .eml files');
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    transport: 'outbox',
    async send(mail) {
      const info = await transport.sendMail(messageOf(mail));
      // The files hold live tickets: readable by the gateway's user only.
      mkdirSync(directory, { recursive: true, mode: 0o700 });
      chmodSync(directory, 0o700);
      const file = join(directory, `${mail.invitationId}-${mail.sequence}-${mail.method}.eml`);
      // buffer: true makes the message a Buffer; anything else is a bug of ours.
      if (!Buffer.isBuffer(info.message)) throw new Error('the outbox transport did not buffer the message');
      writeFileSync(file, info.message, { mode: 0o600 });
      chmodSync(file, 0o600);
      return { transport: 'outbox', messageId: String(info.messageId) };
    },
    close: () => transport.close(),
  };
}
