import { z } from 'zod';
import { commandPayload, extreamId } from './extream.js';

/**
 * Invitation topics (PROTOCOL.md section 9): an organiser invites people by email to a webrtc
 * or zoom item, or removes them. Names, titles and addresses end up in mail headers and in an
 * .ics file: CR and LF are refused here, at the edge, so nothing downstream can be led into
 * writing a header or a calendar property of the sender's choosing.
 */

export const INVITATION_TOPICS = {
  add: 'client_webrtc_add',
  remove: 'client_webrtc_remove',
} as const;

/** The invitee limit when the config names none (maxInviteesPerCommand). */
export const DEFAULT_MAX_INVITEES = 100;
export const MAX_EMAIL_LENGTH = 254;
export const MAX_TITLE_LENGTH = 200;
export const MAX_NAME_LENGTH = 200;
export const MAX_BASE_URL_LENGTH = 2048;

const NO_LINE_BREAKS = /^[^\r\n]*$/;

/**
 * One address, lower-cased so that `Ada@Example.org` and `ada@example.org` are one invitee.
 * zod's email check is the HTML5 one: a local part and a dotted domain, no spaces, no quotes.
 */
export const inviteeEmail = z
  .string()
  .max(MAX_EMAIL_LENGTH, `must be at most ${MAX_EMAIL_LENGTH} characters`)
  .regex(NO_LINE_BREAKS, 'must not contain line breaks')
  .pipe(z.email('must be an email address'))
  .transform((email) => email.toLowerCase());

const headerSafeText = (max: number) =>
  z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`).regex(NO_LINE_BREAKS, 'must not contain line breaks');

export const invitationTitle = headerSafeText(MAX_TITLE_LENGTH);
export const inviteeName = headerSafeText(MAX_NAME_LENGTH);

/** Where the mail's link points: the gateway's `/guest` landing page, or the organiser's own page taking `?ticket=`. */
export const invitationBaseUrl = z
  .string()
  .max(MAX_BASE_URL_LENGTH, `must be at most ${MAX_BASE_URL_LENGTH} characters`)
  .regex(NO_LINE_BREAKS, 'must not contain line breaks')
  .pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }));

/** The emails of one command: 1..max, each once (a duplicate is named by its index, `data.emails.3`). */
export function inviteeEmails(maxInvitees: number) {
  return z
    .array(inviteeEmail)
    .min(1, 'must name at least one email')
    .max(maxInvitees, `at most ${maxInvitees} invitees per command`)
    .superRefine((emails, context) => {
      const seen = new Set<string>();
      emails.forEach((email, index) => {
        if (seen.has(email)) context.addIssue({ code: 'custom', path: [index], message: `${email} is named twice` });
        seen.add(email);
      });
    });
}

export function webrtcAddSchema(maxInvitees = DEFAULT_MAX_INVITEES) {
  return z.object({
    id: extreamId,
    data: z.object({
      emails: inviteeEmails(maxInvitees),
      title: invitationTitle.optional(),
      baseURL: invitationBaseUrl,
      /** Display names by email (as sent: matched lower-cased). */
      names: z
        .record(z.string().max(MAX_EMAIL_LENGTH), inviteeName)
        .refine((names) => Object.keys(names).length <= maxInvitees, `at most ${maxInvitees} names`)
        .optional(),
    }),
    payload: commandPayload,
  });
}

export function webrtcRemoveSchema(maxInvitees = DEFAULT_MAX_INVITEES) {
  return z.object({
    id: extreamId,
    data: z.object({ emails: inviteeEmails(maxInvitees) }),
    payload: commandPayload,
  });
}

export type WebrtcAdd = z.infer<ReturnType<typeof webrtcAddSchema>>;
export type WebrtcRemove = z.infer<ReturnType<typeof webrtcRemoveSchema>>;

/** `POST /guest/exchange` body. */
export const guestExchangeBody = z.object({ ticket: z.string().min(1, 'a ticket is needed').max(4096, 'is too long') });
