import { z } from 'zod';
import { commandPayload, extreamId } from './extream.js';
import { ROOM_NAME } from './rooms.js';

/**
 * Call topics on `webrtc` items (PROTOCOL.md section 8): `instant` calls ring participants,
 * `round-robin` calls queue for the item's operators, `group` calls let everyone waiting in
 * when the host starts. A call runs in a room of section 5 named by its `instance`.
 * `consumer_webrtc_get` (the item join) is not here: it is the itineraries topic, which the
 * calls module extends with the caller's call state. `client_webrtc_add` / `_remove` are the
 * invitations' (invitations.ts). Imports only zod and its siblings: the client SDK imports this.
 */

export const CALL_TOPICS = {
  consumerRead: 'consumer_webrtc_read',
  consumerStart: 'consumer_webrtc_start',
  consumerCallback: 'consumer_webrtc_callback',
  consumerAccept: 'consumer_webrtc_accept',
  consumerLeave: 'consumer_webrtc_leave',
  consumerEnd: 'consumer_webrtc_end',
  clientGet: 'client_webrtc_get',
  clientStart: 'client_webrtc_start',
  clientActivate: 'client_webrtc_activate',
  clientAssign: 'client_webrtc_assign',
  clientRecall: 'client_webrtc_recall',
  clientCallback: 'client_webrtc_callback',
  clientEnd: 'client_webrtc_end',
} as const;

/** Pushes (Extream's names), each with the log position of the event it comes from as `seq`. */
export const CALL_PUSHES = {
  /** A call rings you: `{item, instance, mode, from, name}`. */
  consumerIncoming: 'consumer_webrtc_incoming',
  /** You are in the call's room: `{item, instance, mode, room, peer_id, peers}`. */
  consumerActivated: 'consumer_webrtc_activated',
  /** The call is over: `{item, instance, reason}`. */
  consumerCompleted: 'consumer_webrtc_completed',
  /** A queued call is offered to you (operator): `{item, instance, from, name, callback, expires_at}`. */
  clientIncoming: 'client_webrtc_incoming',
  /** A consumer asks to be called back: `{item, instance, user, name}`. */
  clientCallback: 'client_webrtc_callback',
  /** Someone joined a call you host or operate: `{item, instance, user, name, peer_id}`. */
  clientJoined: 'client_webrtc_joined',
  /** A queued call was taken: `{item, instance, operator, by}`. */
  clientActivated: 'client_webrtc_activated',
  /** A call went back to the queue: `{item, instance, operator, by}`. */
  clientReturned: 'client_webrtc_returned',
} as const;

export const CALL_MODES = ['instant', 'round-robin', 'group'] as const;
export type CallMode = (typeof CALL_MODES)[number];

/** The most users one `consumer_webrtc_start` may ring. */
export const MAX_RING_PARTICIPANTS = 100;

const INSTANCE_RULE = 'instance must be 1-128 characters of [A-Za-z0-9_.:@+{}=-]';
/** A call's instance names its room, so it follows room names (section 5). */
export const callInstance = z.string(INSTANCE_RULE).regex(ROOM_NAME, INSTANCE_RULE);

/** A user id as the gateway makes them; only the size is checked (ids are not all UUIDs). */
const userReference = z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters');

/** `{id}`: reads and starts that name only the item. */
export const callItemData = z.object({ id: extreamId, payload: commandPayload });
export type CallItemData = z.infer<typeof callItemData>;

/** `{id, instance}`: one call of the item. */
export const callInstanceData = z.object({ id: extreamId, instance: callInstance, payload: commandPayload });
export type CallInstanceData = z.infer<typeof callInstanceData>;

/**
 * `consumer_webrtc_start {id, participants?, generator?}`: `participants` (user ids) are rung
 * in an instant call, instead of the configuration's; `generator: "memorable"` names the call
 * with words instead of a UUID.
 */
export const consumerWebrtcStart = z.object({
  id: extreamId,
  participants: z
    .array(userReference)
    .min(1, 'must name at least one participant')
    .max(MAX_RING_PARTICIPANTS, `at most ${MAX_RING_PARTICIPANTS} participants`)
    .optional(),
  generator: z.literal('memorable', 'must be "memorable"').optional(),
  payload: commandPayload,
});
export type ConsumerWebrtcStart = z.infer<typeof consumerWebrtcStart>;

/** `client_webrtc_assign {id, instance, operator}`: hands a queued call to that operator (a user id). */
export const clientWebrtcAssign = z.object({ id: extreamId, instance: callInstance, operator: userReference, payload: commandPayload });
export type ClientWebrtcAssign = z.infer<typeof clientWebrtcAssign>;

/** `client_webrtc_callback {id, instance | user}`: call back one consumer, by its call or by its user id. */
export const clientWebrtcCallback = z
  .object({ id: extreamId, instance: callInstance.optional(), user: userReference.optional(), payload: commandPayload })
  .refine((data) => (data.instance === undefined) !== (data.user === undefined), { message: 'name the call as instance or user, one of them', path: ['instance'] });
export type ClientWebrtcCallback = z.infer<typeof clientWebrtcCallback>;

export type CallStatus = 'ringing' | 'queued' | 'active' | 'ended';
export type CallPartyStatus = 'ringing' | 'joined' | 'left';
export type CallRole = 'host' | 'participant' | 'operator';

/** A call as answers show it (times ISO 8601 UTC). */
export interface CallView {
  instance: string;
  item: string;
  mode: CallMode;
  status: CallStatus;
  /** The room of section 5 the call runs in: its instance. */
  room: string;
  host: string | null;
  operator: string | null;
  participants: { user: string; name: string | null; role: CallRole; status: CallPartyStatus }[];
  max_participants: number | null;
  callback: boolean;
  /** 1 for the next call an operator takes; null unless queued. */
  queue_position: number | null;
  /** The operator the queued call is offered to now, and until when (operators' views only). */
  offered_to?: string | null;
  offer_expires_at?: string | null;
  started_at: string | null;
  ended_at: string | null;
  reason: string | null;
  /** The caller's own place in the call (consumers' views). */
  you?: { role: CallRole; status: CallPartyStatus } | null;
}
