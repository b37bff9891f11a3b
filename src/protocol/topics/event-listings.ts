import { z } from 'zod';
import {
  byIdData,
  commandPayload,
  createData,
  extreamDateTime,
  extreamDescription,
  extreamId,
  extreamName,
  extreamSlug,
  extreamWebsite,
  freeData,
  updateData,
  userType,
} from './extream.js';

/**
 * The wire topics of Extream's events (PROTOCOL.md section 8), called event listings in code
 * because the log's records are events: names and the schemas of their `data`. Datetimes
 * leave the schema as epoch milliseconds; everything else as the client sent it (trimmed).
 * Imports only zod and the shared Extream fields: the client SDK imports this.
 */

export const EVENT_LISTING_TOPICS = {
  create: 'admin_event_create',
  read: 'admin_event_read',
  update: 'admin_event_update',
  delete: 'admin_event_delete',
  get: 'consumer_event_get',
} as const;

export const MAX_TIMEZONE_LENGTH = 64;
/** Roles one update may set: bounded so one command cannot append an unbounded batch. */
export const MAX_USER_TYPES_PER_UPDATE = 500;
export const MAX_USER_ID_LENGTH = 200;

/** An IANA zone name (`Europe/Berlin`) as the client gives it; kept for display, never computed with. */
const timezone = z.string().trim().min(1, 'must not be empty').max(MAX_TIMEZONE_LENGTH, `must be at most ${MAX_TIMEZONE_LENGTH} characters`);

/** The fields an event has and an update may change (organisation is fixed at creation). */
const editableFields = {
  name: extreamName,
  slug: extreamSlug,
  description: extreamDescription,
  website: extreamWebsite,
  start_date: extreamDateTime,
  end_date: extreamDateTime,
  public: z.boolean('must be true or false'),
  data: freeData,
  timezone,
};

/** `admin_event_create {data: {...}}`; without `slug` the gateway derives one from the name. */
export const eventCreateData = createData({
  organisation: extreamId,
  name: editableFields.name,
  slug: editableFields.slug.optional(),
  description: editableFields.description.optional(),
  website: editableFields.website.optional(),
  start_date: editableFields.start_date,
  end_date: editableFields.end_date,
  parent: extreamId.optional(),
  public: editableFields.public.default(false),
  data: editableFields.data.optional(),
  timezone: editableFields.timezone.optional(),
});

/** One role in `user_types`: who, and what they are in this event. */
export const eventUserTypeEntry = z.object({
  user: z.string().min(1, 'must not be empty').max(MAX_USER_ID_LENGTH, `must be at most ${MAX_USER_ID_LENGTH} characters`),
  user_type: userType,
});

/**
 * `admin_event_update {id, data: {...changes}}`: any editable field, `parent: null` to
 * un-nest, and `user_types` to set roles in the same command.
 */
export const eventUpdateData = updateData({
  ...editableFields,
  parent: extreamId.nullable(),
  user_types: z.array(eventUserTypeEntry).max(MAX_USER_TYPES_PER_UPDATE, `must have at most ${MAX_USER_TYPES_PER_UPDATE} entries`),
});

/** `{id}` or `{organisation}`, exactly one: one event, or an organisation's events. */
const oneOrByOrganisation = z
  .object({ id: extreamId.optional(), organisation: extreamId.optional(), payload: commandPayload })
  .refine((data) => (data.id === undefined) !== (data.organisation === undefined), { message: 'give exactly one of id and organisation' });

export const eventReadData = oneOrByOrganisation;
export const eventDeleteData = byIdData;
/** `consumer_event_get {id?}` or `{organisation?}`: the same choice as the admin read. */
export const eventGetData = oneOrByOrganisation;

export type EventCreateData = z.infer<typeof eventCreateData>;
export type EventUpdateData = z.infer<typeof eventUpdateData>;
export type EventReadData = z.infer<typeof eventReadData>;
export type EventDeleteData = z.infer<typeof eventDeleteData>;
export type EventGetData = z.infer<typeof eventGetData>;
export type EventUserTypeEntry = z.infer<typeof eventUserTypeEntry>;
