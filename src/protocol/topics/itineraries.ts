import { z } from 'zod';
import { chatJoin } from './chat.js';
import { byIdData, commandPayload, extreamDateTime, extreamDescription, extreamId, extreamName, freeData } from './extream.js';

/**
 * The itinerary and item topics of PROTOCOL.md section 8: an event runs itineraries (a day,
 * say), an itinerary holds items of ten types, each with its own `configuration`. Fields the
 * protocol names are checked; others are kept as given (`.loose()`), as Extream keeps them.
 * Imports only zod and extream.ts: the client SDK imports this.
 */

export const ITEM_TYPES = ['rtmp', 'zoom', 'webrtc', 'video', 'vod', 'forum', 'chat', 'html', 'poll', 'presentation'] as const;
export type ItemType = (typeof ITEM_TYPES)[number];
export const isItemType = (value: unknown): value is ItemType => typeof value === 'string' && (ITEM_TYPES as readonly string[]).includes(value);

/** `consumer_${type}_get` for every item type: what a client sends to join an item. */
const consumerItemTopics = Object.fromEntries(ITEM_TYPES.map((type) => [type, `consumer_${type}_get`])) as { readonly [Type in ItemType]: `consumer_${Type}_get` };

export const ITINERARY_TOPICS = {
  itineraryCreate: 'admin_itinerary_create',
  itineraryRead: 'admin_itinerary_read',
  itineraryUpdate: 'admin_itinerary_update',
  itineraryDelete: 'admin_itinerary_delete',
  itemCreate: 'admin_item_create',
  itemRead: 'admin_item_read',
  itemUpdate: 'admin_item_update',
  itemDelete: 'admin_item_delete',
  consumerItineraryGet: 'consumer_itinerary_get',
  consumerItemGet: consumerItemTopics,
} as const;

/** Pushes, to every connection that read the event's itineraries (the event's audience). */
export const ITINERARY_PUSHES = {
  update: 'consumer_itinerary_update',
} as const;

/** Lists in a configuration (moderators, operators, questions' answers...) are bounded: one command cannot bloat the log. */
export const MAX_CONFIGURATION_LIST = 1000;
export const MAX_POLL_QUESTIONS = 100;
export const MAX_POLL_ANSWERS = 50;
export const MAX_ITEM_HTML_LENGTH = 100_000;
export const MAX_URL_LENGTH = 2048;
/** A whole configuration as JSON: room for the largest HTML item and some. */
export const MAX_CONFIGURATION_BYTES = 128 * 1024;

/** http(s) only: z.url() alone takes `javascript:` URLs, which a client would put in an href or a player. */
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(MAX_URL_LENGTH, `must be at most ${MAX_URL_LENGTH} characters`);
/** User ids, group ids and the like: Switchyard's ids are not all UUIDs, so only their size is checked. */
const reference = z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const references = z.array(reference).max(MAX_CONFIGURATION_LIST, `must have at most ${MAX_CONFIGURATION_LIST} entries`);
const int = () => z.number({ error: 'must be a number' }).int('must be an integer');

const chatConfiguration = z
  .object({
    moderation: z.enum(['trust', 'post-moderate', 'pre-moderate']).optional(),
    moderators: references.optional(),
    threads: z.boolean().optional(),
    private: z.boolean().optional(),
    mode: z.enum(['group', 'direct', 'round-robin']).optional(),
    participants: references.optional(),
    participants_only: z.boolean().optional(),
    operators: references.optional(),
  })
  .loose();

const pollAnswer = z.object({ text: z.string().min(1, 'must not be empty').max(500, 'must be at most 500 characters'), order: int() }).loose();
const pollQuestion = z
  .object({
    question: z.string().min(1, 'must not be empty').max(1000, 'must be at most 1000 characters'),
    answers: z.array(pollAnswer).max(MAX_POLL_ANSWERS, `must have at most ${MAX_POLL_ANSWERS} answers`),
    order: int(),
    /** Seconds a timed question stays open. */
    time: int().min(0, 'must not be negative').max(86_400, 'must be at most 86400 seconds').optional(),
  })
  .loose();
const pollConfiguration = z
  .object({
    mode: z.enum(['timed', 'poll', 'survey', 'quiz']).optional(),
    show_responses: z.boolean().optional(),
    questions: z.array(pollQuestion).max(MAX_POLL_QUESTIONS, `must have at most ${MAX_POLL_QUESTIONS} questions`).optional(),
  })
  .loose();

/** Who may join a call: PROTOCOL.md names the field, Extream's docs its parts. */
const callCriteria = z
  .object({
    groups: references.optional(),
    emails: z.array(z.email('must be an email address').max(254)).max(MAX_CONFIGURATION_LIST).optional(),
    domains: z.array(z.string().min(1).max(253)).max(MAX_CONFIGURATION_LIST).optional(),
    guests: z.boolean().optional(),
  })
  .loose();
const callShape = {
  mode: z.enum(['instant', 'round-robin', 'group']).optional(),
  operators: references.optional(),
  participants: references.optional(),
  max_participants: int().min(1, 'must be at least 1').max(10_000, 'must be at most 10000').optional(),
  criteria: callCriteria.optional(),
  /** The room the call runs in (section 8: a UUID, or memorable words). */
  instance: z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters').optional(),
  generator: z.literal('memorable', 'must be "memorable"').optional(),
};
const webrtcConfiguration = z.object(callShape).loose();
const zoomConfiguration = z
  .object({
    ...callShape,
    meeting_number: z.union([z.string().regex(/^\d{6,15}$/, 'must be 6-15 digits'), int().positive()], 'must be a meeting number').optional(),
    join_url: httpUrl.optional(),
  })
  .loose();

const rtmpConfiguration = z
  .object({ mode: z.enum(['live', 'record']).optional(), broadcast: z.string().max(MAX_URL_LENGTH).optional(), actor: reference.optional() })
  .loose();

/** `crew` is a list of users in Extream's examples and a flag in older ones: both are taken. */
const videoConfiguration = z
  .object({ mode: z.string().max(50).optional(), url: httpUrl.optional(), crew: z.union([references, z.boolean()]).optional() })
  .loose();

/** HTML is sanitised when it is written (the module's join.ts), not here: the schema only bounds it. */
const htmlConfiguration = z
  .object({ html: z.string().max(MAX_ITEM_HTML_LENGTH, `must be at most ${MAX_ITEM_HTML_LENGTH} characters`).optional(), url: httpUrl.optional() })
  .loose()
  .refine((value) => value.html === undefined || value.url === undefined, { message: 'an html item shows html or a url, not both', path: ['url'] });

const presentationConfiguration = z.object({}).loose();

export const ITEM_CONFIGURATIONS = {
  rtmp: rtmpConfiguration,
  zoom: zoomConfiguration,
  webrtc: webrtcConfiguration,
  video: videoConfiguration,
  vod: videoConfiguration,
  forum: chatConfiguration,
  chat: chatConfiguration,
  html: htmlConfiguration,
  poll: pollConfiguration,
  presentation: presentationConfiguration,
} as const satisfies Record<ItemType, z.ZodType<Record<string, unknown>>>;

export type ItemConfiguration = Record<string, unknown>;
export type ChatConfiguration = z.infer<typeof chatConfiguration>;
export type PollConfiguration = z.infer<typeof pollConfiguration>;
export type CallConfiguration = z.infer<typeof zoomConfiguration>;
export type VideoConfiguration = z.infer<typeof videoConfiguration>;
export type HtmlConfiguration = z.infer<typeof htmlConfiguration>;

export interface FieldError {
  path: string;
  message: string;
}

/**
 * Checks a configuration against its item's type. Exported for the module's service, which
 * checks an update's configuration against the stored item's type (the update names none).
 * Paths are the wire's: `data.configuration.questions.0.answers`.
 */
export function checkItemConfiguration(type: ItemType, configuration: unknown): { ok: true; configuration: ItemConfiguration } | { ok: false; errors: FieldError[] } {
  const parsed = ITEM_CONFIGURATIONS[type].safeParse(configuration);
  if (parsed.success) return { ok: true, configuration: parsed.data };
  return { ok: false, errors: parsed.error.issues.map((issue) => ({ path: ['data', 'configuration', ...issue.path.map(String)].join('.'), message: issue.message })) };
}

/** A configuration before its type is known: an object, bounded as JSON. */
const rawConfiguration = z.record(z.string(), z.unknown(), 'must be an object').refine((value) => JSON.stringify(value).length <= MAX_CONFIGURATION_BYTES, {
  message: `must be at most ${MAX_CONFIGURATION_BYTES} bytes as JSON`,
});

/** Field changes that are refused rather than silently dropped: the client meant something. */
const unchangeable = (message: string) => z.never({ error: message });

/** Adds an issue when the end comes before the start (both present). */
function endNotBeforeStart(value: { start_date?: number | null | undefined; end_date?: number | null | undefined }, context: z.RefinementCtx): void {
  if (typeof value.start_date === 'number' && typeof value.end_date === 'number' && value.end_date < value.start_date) {
    context.addIssue({ code: 'custom', message: 'must not be before start_date', path: ['end_date'] });
  }
}

// ---- itineraries ----

const itineraryFields = {
  name: extreamName,
  description: extreamDescription,
  start_date: extreamDateTime,
  end_date: extreamDateTime,
  data: freeData,
};

export const itineraryCreate = z.object({
  data: z
    .object({ event: extreamId, ...itineraryFields, description: extreamDescription.optional(), data: freeData.optional() })
    .superRefine(endNotBeforeStart),
  payload: commandPayload,
});

export const itineraryUpdate = z.object({
  id: extreamId,
  data: z
    .object({ ...itineraryFields, event: unchangeable('an itinerary stays in its event') })
    .partial()
    .refine((changes) => Object.values(changes).some((value) => value !== undefined), { message: 'names no field to change' })
    .superRefine(endNotBeforeStart),
  payload: commandPayload,
});

/** Either one itinerary (`{id}`) or every itinerary of an event (`{event}`). */
export const itineraryRead = z
  .object({ id: extreamId.optional(), event: extreamId.optional(), payload: commandPayload })
  .refine((value) => (value.id === undefined) !== (value.event === undefined), { message: 'names an itinerary id or an event, one of the two', path: ['id'] });

export const itineraryDelete = byIdData;

// ---- items ----

const itemType = z.enum(ITEM_TYPES, `must be one of ${ITEM_TYPES.join(', ')}`);
const itemOrder = int().min(0, 'must not be negative').max(1_000_000, 'must be at most 1000000');

/** Items need not have dates (a video), but an item with one has both. */
function bothDatesOrNone(value: { start_date?: number | null | undefined; end_date?: number | null | undefined }, context: z.RefinementCtx): void {
  const hasStart = typeof value.start_date === 'number';
  const hasEnd = typeof value.end_date === 'number';
  if (hasStart && !hasEnd) context.addIssue({ code: 'custom', message: 'an item with a start_date needs an end_date', path: ['end_date'] });
  if (hasEnd && !hasStart) context.addIssue({ code: 'custom', message: 'an item with an end_date needs a start_date', path: ['start_date'] });
}

export const itemCreate = z.object({
  data: z
    .object({
      itinerary: extreamId,
      type: itemType,
      name: extreamName,
      description: extreamDescription.optional(),
      start_date: extreamDateTime.optional(),
      end_date: extreamDateTime.optional(),
      order: itemOrder.optional(),
      configuration: rawConfiguration.optional(),
    })
    .superRefine(bothDatesOrNone)
    .superRefine(endNotBeforeStart)
    .transform((data, context) => {
      const checked = checkItemConfiguration(data.type, data.configuration ?? {});
      if (!checked.ok) {
        // Paths from checkItemConfiguration are the wire's; here they are relative to `data`.
        for (const error of checked.errors) context.addIssue({ code: 'custom', message: error.message, path: error.path.split('.').slice(1) });
        return z.NEVER;
      }
      return { ...data, configuration: checked.configuration };
    }),
  payload: commandPayload,
});

/**
 * An update's configuration is checked against the stored item's type by the service (the
 * update names no type); here only its shape and size. Dates may be set to null: an item can
 * lose its schedule (both dates at once; the service checks the result has both or none).
 */
export const itemUpdate = z.object({
  id: extreamId,
  data: z
    .object({
      name: extreamName,
      description: extreamDescription,
      start_date: extreamDateTime.nullable(),
      end_date: extreamDateTime.nullable(),
      order: itemOrder,
      configuration: rawConfiguration,
      itinerary: unchangeable('an item stays in its itinerary'),
      type: unchangeable("an item's type cannot change; remove it and add another"),
    })
    .partial()
    .refine((changes) => Object.values(changes).some((value) => value !== undefined), { message: 'names no field to change' })
    .superRefine(endNotBeforeStart),
  payload: commandPayload,
});

/** Either one item (`{id}`) or every item of an itinerary (`{itinerary}`). */
export const itemRead = z
  .object({ id: extreamId.optional(), itinerary: extreamId.optional(), payload: commandPayload })
  .refine((value) => (value.id === undefined) !== (value.itinerary === undefined), { message: 'names an item id or an itinerary, one of the two', path: ['id'] });

export const itemDelete = byIdData;

// ---- consumers ----

export const consumerItineraryGet = z
  .object({ event: extreamId.optional(), id: extreamId.optional(), payload: commandPayload })
  .refine((value) => (value.id === undefined) !== (value.event === undefined), { message: 'names an itinerary id or an event, one of the two', path: ['id'] });

export const consumerItemGet = byIdData;

/**
 * The data of `consumer_{type}_get`: `{id}`, and for chat and forum items the page of their
 * chat to answer with (chat.ts `chatJoin`: before, limit, parent).
 */
export function consumerItemGetOf(type: ItemType): typeof consumerItemGet | typeof chatJoin {
  return type === 'chat' || type === 'forum' ? chatJoin : consumerItemGet;
}

export type ItineraryCreate = z.infer<typeof itineraryCreate>;
export type ItineraryUpdate = z.infer<typeof itineraryUpdate>;
export type ItineraryRead = z.infer<typeof itineraryRead>;
export type ItemCreate = z.infer<typeof itemCreate>;
export type ItemUpdate = z.infer<typeof itemUpdate>;
export type ItemRead = z.infer<typeof itemRead>;
export type ConsumerItineraryGet = z.infer<typeof consumerItineraryGet>;
