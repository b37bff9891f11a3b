import type { z } from 'zod';
import type { consumerItemGet, consumerItineraryGet, itemCreate, itemDelete, itemRead, itemUpdate, itineraryCreate, itineraryDelete, itineraryRead, itineraryUpdate, ItemType } from '../../../src/protocol/topics/itineraries.js';
import type { eventCreateData, eventDeleteData, eventGetData, eventReadData, eventUpdateData } from '../../../src/protocol/topics/event-listings.js';
import type { authRequestData, loginData, mfaData, tokenRequestData } from '../../../src/protocol/topics/identity.js';
import type { webrtcAddSchema, webrtcRemoveSchema } from '../../../src/protocol/topics/invitations.js';
import type { groupGrantData, groupReadData, organisationCreateData, organisationDeleteData, organisationReadData, organisationUpdateData } from '../../../src/protocol/topics/organisations.js';
import type { roomCreateRequest, roomJoinAnswer, roomJoinRequest, roomLeave, RelayIceCandidate, RelaySessionDescription } from '../../../src/protocol/topics/rooms.js';
import type * as View from './views.js';

/**
 * The typed wire of the SDK: for each event a client sends, the data it takes (the server's
 * own zod schema, as input: `z.input<typeof schema>`, so renaming a field in
 * src/protocol/topics/ fails this package's typecheck) and the answers it may get; and for
 * each push, its data.
 *
 * The maps are interfaces so they can be extended where new topics appear: in this repo, add
 * the topic here (its schema from src/protocol/topics/<area>.ts); in an app, augment them:
 *
 *   declare module '@switchyard/client' {
 *     interface CommandMap { consumer_chat_send: { data: {...}; response: {...} } }
 *     interface PushMap { consumer_chat_receive: {...} }
 *   }
 */

type In<Schema extends z.ZodType> = z.input<Schema>;

/** A direct answer: the event it came on and its data. */
export interface Answer<Event extends string = string, Data = unknown> {
  event: Event;
  data: Data;
}

/** Frames answered by one direct answer (section 2): `request()`. */
export interface RequestMap {
  ping: { data: undefined; answer: Answer<'pong', { ts: number }> };
  authenticate: { data: In<typeof tokenRequestData>; answer: Answer<'authenticated', View.Authenticated> };
  authorize: { data: In<typeof tokenRequestData>; answer: Answer<'authorized', View.Authorized> };
  login: { data: In<typeof loginData>; answer: Answer<'authorized', View.UserAuthorized & { token: string }> | Answer<'mfa', View.MfaPrompt> };
  mfa: { data: In<typeof mfaData>; answer: Answer<'authorized', View.UserAuthorized & { token: string }> };
  'auth-request': { data: In<typeof authRequestData>; answer: Answer<'auth-accept', { token: string }> };
  /** Its success answer is `unauthorized {message:"logged out"}`: the one time that event is no refusal. */
  logout: { data: undefined; answer: Answer<'unauthorized', View.Refusal> };
  'room-create-request': { data: In<typeof roomCreateRequest>; answer: Answer<'room-create-accept', View.RoomCreated> };
  /** Answered when an owner decides (or at once with `pending` for a repeat): pass a `timeoutMs` that leaves them time. */
  'room-join-request': { data: In<typeof roomJoinRequest>; answer: Answer<'room-join-accept', View.RoomJoined> | Answer<'result', View.RoomJoinPending> };
  'room-join-accept': { data: In<typeof roomJoinAnswer>; answer: Answer<'result', View.RoomJoinAnswered> };
  'room-join-reject': { data: In<typeof roomJoinAnswer>; answer: Answer<'result', View.RoomJoinAnswered> };
  'room-leave': { data: In<typeof roomLeave>; answer: Answer<'result', { room: string; left: true }> };
  'relay-session-description': { data: RelaySessionDescription; answer: Answer<'result', { delivered: true }> };
  'relay-ice-candidate': { data: RelayIceCandidate; answer: Answer<'result', { delivered: true }> };
}

/** Extream's result body (section 8); `response` is the command's own. */
export interface CommandResult<Response = unknown> {
  status: 200 | 201;
  domain: string;
  action: string;
  command: string;
  meta: { permitted: true; message: 'success'; requiresLogin: boolean; items?: number; page?: unknown };
  response: Response;
}

type ItemJoinCommands = { [Type in ItemType as `consumer_${Type}_get`]: { data: In<typeof consumerItemGet>; response: View.ItemJoin } };

/** Extream commands (section 8): a receipt once committed (changes only), then the result: `command()`. */
export interface CommandMap extends ItemJoinCommands {
  admin_organisation_create: { data: In<typeof organisationCreateData>; response: View.OrganisationView };
  admin_organisation_read: { data: In<typeof organisationReadData>; response: View.OrganisationView | View.OrganisationView[] };
  admin_organisation_update: { data: In<typeof organisationUpdateData>; response: View.OrganisationView };
  admin_organisation_delete: { data: In<typeof organisationDeleteData>; response: View.DeletedView };
  admin_group_grant: { data: In<typeof groupGrantData>; response: View.GroupView };
  admin_group_revoke: { data: In<typeof groupGrantData>; response: View.GroupView };
  admin_group_read: { data: In<typeof groupReadData>; response: View.GroupView[] };
  admin_event_create: { data: In<typeof eventCreateData>; response: View.EventListingView };
  admin_event_read: { data: In<typeof eventReadData>; response: View.EventListingView | View.EventListingView[] };
  admin_event_update: { data: In<typeof eventUpdateData>; response: View.EventListingView };
  admin_event_delete: { data: In<typeof eventDeleteData>; response: View.DeletedView };
  consumer_event_get: { data: In<typeof eventGetData>; response: View.ConsumerEventListingView | View.ConsumerEventListingView[] };
  admin_itinerary_create: { data: In<typeof itineraryCreate>; response: View.ItineraryView };
  admin_itinerary_read: { data: In<typeof itineraryRead>; response: View.ItineraryView | View.ItineraryView[] };
  admin_itinerary_update: { data: In<typeof itineraryUpdate>; response: View.ItineraryView };
  admin_itinerary_delete: { data: In<typeof itineraryDelete>; response: View.DeletedView };
  admin_item_create: { data: In<typeof itemCreate>; response: View.ItemView };
  admin_item_read: { data: In<typeof itemRead>; response: View.ItemView | View.ItemView[] };
  admin_item_update: { data: In<typeof itemUpdate>; response: View.ItemView };
  admin_item_delete: { data: In<typeof itemDelete>; response: View.DeletedView };
  consumer_itinerary_get: { data: In<typeof consumerItineraryGet>; response: View.ItineraryView | View.ItineraryView[] };
  client_webrtc_add: { data: In<ReturnType<typeof webrtcAddSchema>>; response: { invited: View.InvitationOutcome[] } };
  client_webrtc_remove: { data: In<ReturnType<typeof webrtcRemoveSchema>>; response: { removed: View.InvitationOutcome[] } };
}

/** What the server pushes unasked (no `id`), by event. */
export interface PushMap {
  /** To a room's owners: someone asks to join. */
  'room-join-request': View.RoomPeerPayload;
  /** A join answered after its request timed out here (the answer has no pending request left). */
  'room-join-accept': View.RoomJoined;
  'room-join-reject': View.RoomJoinRejected;
  'room-user-join': View.RoomPeerPayload;
  'room-user-leave': View.RoomPeer;
  'room-owner-change': View.RoomPeer;
  'session-description': View.SessionDescriptionPush;
  'ice-candidate': View.IceCandidatePush;
  'room-closed': { room: string; reason: string };
  'room-banned': { room: string; until: number | null };
  'room-message': { room: string; message: number[] };
  'room-updated': { room: string; user_data: number[] };
  /** Sent before the refusal of a frame that needs a session this socket does not have. */
  unauthorized: View.Refusal;
  /** A refused frame that carried no valid `id` to answer on. */
  error: { code: string; message: string };
  consumer_itinerary_update: View.ItineraryUpdatePush;
}

export type RequestEvent = keyof RequestMap;
export type CommandEvent = keyof CommandMap;
export type PushEvent = keyof PushMap;

/** The answer union of a request. */
export type AnswerOf<Event extends RequestEvent> = RequestMap[Event]['answer'];
export type RequestData<Event extends RequestEvent> = RequestMap[Event]['data'];
export type CommandData<Event extends CommandEvent> = CommandMap[Event]['data'];
export type CommandResponse<Event extends CommandEvent> = CommandMap[Event]['response'];
