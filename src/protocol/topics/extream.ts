import { z } from 'zod';

/**
 * What every Extream command topic (PROTOCOL.md section 8) shares: the validation rules of
 * Extream's fields, the command envelope, and the names of the answers. Each area's topics
 * (organisations.ts, event-listings.ts, itineraries.ts) build their schemas from these.
 * Imports only zod: the client SDK imports this.
 *
 * Envelope: a command's data is `{...fields, payload?: {correlationId?}}`. Creations carry
 * their fields in `data` (`{data: {name, ...}}`), updates `{id, data: {...changes}}`, reads
 * and deletions `{id}` (PROTOCOL.md section 9 writes `client_webrtc_add {id, data}` alike).
 */

export const MAX_NAME_LENGTH = 250;
export const MIN_NAME_LENGTH = 2;
export const MAX_WEBSITE_LENGTH = 250;
export const MIN_WEBSITE_LENGTH = 4;
export const MAX_DESCRIPTION_LENGTH = 10_000;
/** `data` objects Extream keeps as given: bounded as JSON so one command cannot bloat the log. */
export const MAX_FREE_DATA_BYTES = 16_384;

export const extreamName = z.string().trim().min(MIN_NAME_LENGTH, `must be at least ${MIN_NAME_LENGTH} characters`).max(MAX_NAME_LENGTH, `must be at most ${MAX_NAME_LENGTH} characters`);
export const extreamWebsite = z.string().trim().min(MIN_WEBSITE_LENGTH, `must be at least ${MIN_WEBSITE_LENGTH} characters`).max(MAX_WEBSITE_LENGTH, `must be at most ${MAX_WEBSITE_LENGTH} characters`);
export const extreamDescription = z.string().max(MAX_DESCRIPTION_LENGTH, `must be at most ${MAX_DESCRIPTION_LENGTH} characters`);
export const extreamId = z.uuid('must be a UUID');
/** Slugs as URLs carry them: lower case letters, digits and single dashes. */
export const extreamSlug = z
  .string()
  .min(2, 'must be at least 2 characters')
  .max(128, 'must be at most 128 characters')
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'must be lower case letters, digits and dashes');

/** Free-form JSON Extream keeps as given, bounded in size. */
export const freeData = z.record(z.string(), z.unknown()).refine((value) => JSON.stringify(value).length <= MAX_FREE_DATA_BYTES, {
  message: `must be at most ${MAX_FREE_DATA_BYTES} bytes as JSON`,
});

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * A datetime as Extream accepts it: ISO 8601 (`2026-05-04T09:30:00Z`, with an offset or
 * without) or `YYYY-MM-DD HH:MM:SS`. Without an offset it is UTC. Returns epoch
 * milliseconds, or undefined for anything else, including dates the calendar does not
 * have (2026-02-30) and times past 23:59:59.
 */
export function parseExtreamDateTime(text: string): number | undefined {
  const match = ISO_DATE_TIME.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour = '00', minute = '00', second = '00', fraction = '', zone = 'Z'] = match;
  const y = Number(year);
  const m = Number(month);
  const d = Number(day);
  if (m < 1 || m > 12 || d < 1 || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return undefined;
  // Date.UTC rolls 30 February over into March; the round trip catches it.
  if (new Date(Date.UTC(y, m - 1, d)).getUTCDate() !== d) return undefined;
  const millis = Number(fraction.slice(0, 3).padEnd(3, '0'));
  const local = Date.UTC(y, m - 1, d, Number(hour), Number(minute), Number(second), millis);
  if (zone === 'Z') return local;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const offsetMinutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4));
  if (offsetMinutes > 14 * 60) return undefined;
  return local - sign * offsetMinutes * 60_000;
}

/** A datetime field: the text on the wire, epoch milliseconds after the schema. */
export const extreamDateTime = z
  .string()
  .max(40, 'must be an ISO 8601 datetime or YYYY-MM-DD HH:MM:SS')
  .transform((text, context) => {
    const parsed = parseExtreamDateTime(text.trim());
    if (parsed === undefined) {
      context.addIssue({ code: 'custom', message: 'must be an ISO 8601 datetime or YYYY-MM-DD HH:MM:SS' });
      return z.NEVER;
    }
    return parsed;
  });

/** How a datetime goes back out: ISO 8601 in UTC, as Extream's clients parse it. */
export const formatExtreamDateTime = (epochMs: number | null): string | null => (epochMs === null ? null : new Date(epochMs).toISOString());

/** `payload.correlationId`: where both answers go instead of the command's name. */
export const commandPayload = z.object({ correlationId: z.string().max(128).optional() }).loose().optional();

/** `{id}`: reads and deletions of one entity. */
export const byIdData = z.object({ id: extreamId, payload: commandPayload });

/** `{data: {...}}`: a creation. */
export const createData = <Shape extends z.ZodRawShape>(shape: Shape) => z.object({ data: z.object(shape), payload: commandPayload });

/** `{id, data: {...changes}}`: an update; every field optional, at least one present. */
export const updateData = <Shape extends z.ZodRawShape>(shape: Shape) =>
  z.object({
    id: extreamId,
    data: z
      .object(shape)
      .partial()
      .refine((changes) => Object.values(changes).some((value) => value !== undefined), { message: 'names no field to change' }),
    payload: commandPayload,
  });

/** Extream's service topics, named by the receipt (`{status:202, topic, messageId}`). */
export const SERVICE_TOPICS = {
  manage: 'ex-manage',
  discussion: 'ex-discussion',
  collab: 'ex-collab',
  streamer: 'ex-streamer',
  poll: 'ex-poll',
  notification: 'ex-notification',
} as const;

/** Why a refusal was refused (`meta.reason`). */
export const REFUSAL_REASONS = ['unauthorized', 'locked', 'unmet_criteria'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** Permissions granted to groups (PROTOCOL.md section 8). */
export const ENTITY_PERMISSIONS = ['organisation', 'event', 'itinerary', 'item'] as const;
export type PermissionEntity = (typeof ENTITY_PERMISSIONS)[number];
export const PERMISSIONS = [
  ...ENTITY_PERMISSIONS.flatMap((entity) => [`view_${entity}`, `edit_${entity}`, `delete_${entity}`] as const),
  'moderate_chat',
  'manage_poll',
  'send_notice',
  'operate_webrtc',
  'stream_rtmp',
] as const;
export type Permission = `${'view' | 'edit' | 'delete'}_${PermissionEntity}` | 'moderate_chat' | 'manage_poll' | 'send_notice' | 'operate_webrtc' | 'stream_rtmp';
export const isPermission = (value: string): value is Permission => (PERMISSIONS as readonly string[]).includes(value);

/** A user's role in an event (`user_type`). */
export const USER_TYPES = ['audience', 'actor', 'crew', 'chief'] as const;
export type UserType = (typeof USER_TYPES)[number];
export const userType = z.enum(USER_TYPES);
