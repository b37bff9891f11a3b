import { z } from 'zod';
import { commandPayload, extreamDateTime, extreamId } from './extream.js';

/**
 * Chat and forum topics (PROTOCOL.md section 8): consumers start, open, post in, leave and
 * add people to a chat item's conversations; moderators and operators ban, publish, read the
 * moderator view and take round-robin chats. Joining the item (`consumer_chat_get`,
 * `consumer_forum_get`) is the itineraries module's item join, extended by the chat module.
 * Message text is kept exactly as sent: it is never sanitised or interpreted, and clients must
 * render it as text. Imports only zod and extream.ts: the client SDK imports this.
 */

export const CHAT_TOPICS = {
  start: 'consumer_chat_start',
  open: 'consumer_chat_activate',
  send: 'consumer_chat_send',
  remove: 'consumer_chat_remove',
  leave: 'consumer_chat_leave',
  add: 'consumer_chat_add',
  ban: 'client_chat_ban',
  publish: 'client_chat_publish',
  moderatorGet: 'client_chat_get',
  take: 'client_chat_activate',
} as const;

/** Pushes, each from a committed event (its log position as `seq`). */
export const CHAT_PUSHES = {
  /** A message, to whoever may read it; again when a moderator publishes it. */
  receive: 'consumer_chat_receive',
  remove: 'consumer_chat_remove',
  leave: 'consumer_chat_leave',
  /** To a participant of a conversation someone started with (or added) them. */
  incoming: 'consumer_chat_incoming',
  /** To the item's operators: a round-robin chat waits for one of them. */
  operatorIncoming: 'client_chat_incoming',
  /** To the item's operators: one of them took it. */
  activated: 'client_chat_activated',
} as const;

/** The message size when the config names none (chatMaxMessageBytes), in UTF-8 bytes. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4096;
/** People named in one consumer_chat_start / consumer_chat_add. */
export const MAX_PARTICIPANTS_PER_COMMAND = 100;
export const MAX_REASON_LENGTH = 500;
/** A ban lasts at most a year unless it has no end (no `until`, no `seconds`). */
export const MAX_BAN_SECONDS = 366 * 86_400;
export const MAX_PAGE_SIZE = 500;

export const CHAT_MODERATION = ['trust', 'post-moderate', 'pre-moderate'] as const;
export type ChatModeration = (typeof CHAT_MODERATION)[number];
export const CHAT_MODES = ['group', 'direct', 'round-robin'] as const;
export type ChatMode = (typeof CHAT_MODES)[number];

/** A user id as configurations name them (not all ids are UUIDs: only their size is checked). */
const userReference = z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const participantList = (min: number) =>
  z
    .array(userReference)
    .min(min, min === 1 ? 'must name at least one user' : `must name at least ${min} users`)
    .max(MAX_PARTICIPANTS_PER_COMMAND, `at most ${MAX_PARTICIPANTS_PER_COMMAND} users per command`);
/** A position in the log: the `before` cursor of a history page (`page.before` of the previous one). */
const cursor = z.number({ error: 'must be a number' }).int('must be an integer').positive('must be positive');
const pageSize = z.number({ error: 'must be a number' }).int('must be an integer').min(1, 'must be at least 1').max(MAX_PAGE_SIZE, `must be at most ${MAX_PAGE_SIZE}`);
const reason = z.string().max(MAX_REASON_LENGTH, `must be at most ${MAX_REASON_LENGTH} characters`);

/** `consumer_chat_start {id, participants?}`: a direct conversation with them, or (round-robin) a chat with an operator. */
export const chatStart = z.object({ id: extreamId, participants: participantList(1).optional(), payload: commandPayload });

/** A history page: the newest `limit` messages before the `before` cursor, newest last; `parent` reads one thread. */
const pageShape = { before: cursor.optional(), limit: pageSize.optional(), parent: extreamId.optional() };

/**
 * `consumer_chat_get` / `consumer_forum_get {id, before?, limit?, parent?}`: the item join (the
 * itineraries module's) with a page of the item's own chat: the newest, or older ones by
 * `before`, or one forum thread by `parent`.
 */
export const chatJoin = z.object({ id: extreamId, ...pageShape, payload: commandPayload });

/** `consumer_chat_activate {id, instance?, before?, limit?, parent?}`: open a conversation (or the item's chat) and read its history. */
export const chatOpen = z.object({ id: extreamId, instance: extreamId.optional(), ...pageShape, payload: commandPayload });

/**
 * `consumer_chat_send {id, instance?, text, parent?}`; Extream's clients call the text
 * `message`, which is taken too. Blank text is refused; its size (in UTF-8 bytes, a config
 * key) is checked by the module, which answers PAYLOAD_TOO_LARGE past it.
 */
export const chatSend = z
  .object({
    id: extreamId,
    instance: extreamId.optional(),
    text: z.string({ error: 'must be a string' }).optional(),
    message: z.string({ error: 'must be a string' }).optional(),
    parent: extreamId.optional(),
    payload: commandPayload,
  })
  .superRefine((data, context) => {
    if (data.text === undefined && data.message === undefined) context.addIssue({ code: 'custom', path: ['text'], message: 'a message needs its text' });
    else if (data.text !== undefined && data.message !== undefined && data.text !== data.message) {
      context.addIssue({ code: 'custom', path: ['message'], message: 'text and message are the same field: send one' });
    } else if ((data.text ?? data.message)!.trim() === '') context.addIssue({ code: 'custom', path: [data.text === undefined ? 'message' : 'text'], message: 'must not be empty' });
  })
  .transform(({ message, text, ...rest }) => ({ ...rest, text: (text ?? message)! }));

/** `consumer_chat_remove {id, message, reason?}`: its author, or a moderator. */
export const chatRemove = z.object({ id: extreamId, message: extreamId, reason: reason.optional(), payload: commandPayload });

/** `consumer_chat_leave {id, instance?}`: leave a conversation, or (no instance) stop following the item's chat. */
export const chatLeave = z.object({ id: extreamId, instance: extreamId.optional(), payload: commandPayload });

/** `consumer_chat_add {id, instance, participants}`: bring people into a conversation. */
export const chatAdd = z.object({ id: extreamId, instance: extreamId, participants: participantList(1), payload: commandPayload });

/** `client_chat_ban {id, user, until? | seconds?, reason?}`, or `{id, user, unban: true}`. No end given: until unbanned. */
export const chatBan = z
  .object({
    id: extreamId,
    user: userReference,
    until: extreamDateTime.optional(),
    seconds: z.number({ error: 'must be a number' }).int('must be an integer').min(1, 'must be at least 1').max(MAX_BAN_SECONDS, `must be at most ${MAX_BAN_SECONDS}`).optional(),
    unban: z.boolean({ error: 'must be true or false' }).optional(),
    reason: reason.optional(),
    payload: commandPayload,
  })
  .superRefine((data, context) => {
    if (data.until !== undefined && data.seconds !== undefined) context.addIssue({ code: 'custom', path: ['seconds'], message: 'give until or seconds, not both' });
    if (data.unban === true && (data.until !== undefined || data.seconds !== undefined)) context.addIssue({ code: 'custom', path: ['unban'], message: 'an unban has no end date' });
  });

/** `client_chat_publish {id, message}`: a held (or moderators-only) message reaches everyone. */
export const chatPublish = z.object({ id: extreamId, message: extreamId, payload: commandPayload });

/** `client_chat_get {id, instance?, status?, before?, limit?, parent?}`: the moderator view (`held`: only what waits for a moderator). */
export const chatModeratorGet = z.object({ id: extreamId, instance: extreamId.optional(), status: z.enum(['held', 'all']).optional(), ...pageShape, payload: commandPayload });

/** `client_chat_activate {id, instance}`: an operator takes a waiting round-robin chat. */
export const chatTake = z.object({ id: extreamId, instance: extreamId, payload: commandPayload });

export type ChatStart = z.infer<typeof chatStart>;
export type ChatOpen = z.infer<typeof chatOpen>;
export type ChatJoin = z.infer<typeof chatJoin>;
export type ChatSend = z.output<typeof chatSend>;
export type ChatRemove = z.infer<typeof chatRemove>;
export type ChatLeave = z.infer<typeof chatLeave>;
export type ChatAdd = z.infer<typeof chatAdd>;
export type ChatBan = z.output<typeof chatBan>;
export type ChatPublish = z.infer<typeof chatPublish>;
export type ChatModeratorGet = z.infer<typeof chatModeratorGet>;
export type ChatTake = z.infer<typeof chatTake>;
