import { CONNECTION_CATEGORY, CONNECTION_EVENT_TYPES, type ConnectionEvent } from '../modules/connections/domain/index.js';
import { CUSTOMER_CATEGORY, CUSTOMER_EVENT_TYPES, SFU_CATEGORY, SFU_EVENT_TYPES, type CustomerEvent, type SfuEvent } from '../modules/grid/domain/index.js';
import {
  APP_EVENT_TYPES,
  CLIENT_EVENT_TYPES,
  GROUP_EVENT_TYPES,
  IDENTITY_CATEGORIES,
  OAUTH_CATEGORIES,
  OAUTH_FLOW_EVENT_TYPES,
  OAUTH_GRANT_EVENT_TYPES,
  OAUTH_REQUEST_EVENT_TYPES,
  ORGANISATION_EVENT_TYPES,
  REFUSAL_CATEGORY,
  ORGANISATION_NAME_EVENT_TYPES,
  SESSION_CATEGORY,
  SESSION_EVENT_TYPES,
  USER_EVENT_TYPES,
  type AppEvent,
  type ClientRegistered,
  type GroupCreated,
  type OAuthEvent,
  type OrganisationEvent,
  type OrganisationNameClaimed,
  type RefusalEvent,
  type SessionEvent,
  type UserEvent,
} from '../modules/identity/domain/index.js';
import { ACCESS_CATEGORY, ACCESS_EVENT_TYPES, type AccessEvent } from '../modules/organisations/domain/index.js';
import { EVENT_LISTING_CATEGORY, EVENT_LISTING_EVENT_TYPES, type EventListingEvent } from '../modules/event-listings/domain/index.js';
import { ITINERARY_CATEGORY, ITINERARY_EVENT_TYPES, type ItineraryEvent } from '../modules/itineraries/domain/index.js';
import { INVITATION_CATEGORY, INVITATION_EVENT_TYPES, type InvitationEvent } from '../modules/invitations/domain/index.js';
import { ROOM_CATEGORY, ROOM_EVENT_TYPES, type RoomEvent } from '../modules/rooms/domain/index.js';
import { SYNC_SESSION_CATEGORY, SYNC_SESSION_EVENT_TYPES, type SyncSessionEvent } from '../modules/sync/domain/index.js';
import { CHAT_CATEGORY, CHAT_EVENT_TYPES, type ChatEvent } from '../modules/chat/domain/index.js';
import { POLL_ANSWERS_CATEGORY, POLL_ANSWER_EVENT_TYPES, POLL_CATEGORY, POLL_EVENT_TYPES, type PollAnswerEvent, type PollEvent } from '../modules/polls/domain/index.js';
import { PRESENCE_CATEGORY, PRESENCE_EVENT_TYPES, type PresenceEvent } from '../modules/presence/domain/index.js';
import { NOTICE_CATEGORY, NOTICE_READS_CATEGORY, type NoticeEvent, type NoticeReadsEvent } from '../modules/notices/domain/index.js';
import { CALL_CATEGORY, CALL_EVENT_TYPES, type CallEvent } from '../modules/calls/domain/index.js';
import { STREAM_CATEGORY, STREAM_EVENT_TYPES, ZOOM_CREDENTIALS_CATEGORY, ZOOM_CREDENTIALS_EVENT_TYPES, type StreamEvent, type ZoomCredentialsEvent } from '../modules/streams/domain/index.js';

/** Every event type a domain of the gateway declares, i.e. every type the log can hold. */
export type GatewayEventType =
  | ConnectionEvent['type']
  | SessionEvent['type']
  | OrganisationEvent['type']
  | AccessEvent['type']
  | EventListingEvent['type']
  | ItineraryEvent['type']
  | InvitationEvent['type']
  | OrganisationNameClaimed['type']
  | GroupCreated['type']
  | UserEvent['type']
  | ClientRegistered['type']
  | AppEvent['type']
  | OAuthEvent['type']
  | RefusalEvent['type']
  | RoomEvent['type']
  | CustomerEvent['type']
  | SfuEvent['type']
  | SyncSessionEvent['type']
  | ChatEvent['type']
  | PollEvent['type']
  | PollAnswerEvent['type']
  | PresenceEvent['type']
  | NoticeEvent['type']
  | NoticeReadsEvent['type']
  | StreamEvent['type']
  | ZoomCredentialsEvent['type']
  | CallEvent['type'];

/**
 * One line per event type, for operators reading `switchyard events`. A Record over the
 * domain unions: an event type added to a domain does not compile until it is described here.
 */
const MEANINGS: Readonly<Record<GatewayEventType, string>> = {
  ConnectionOpened: 'a socket connected (/ws, Socket.IO or raw), with its codec, transport, address and origin',
  ConnectionDetached: "a signed-in socket was cut (no close frame, or the server's 4008/4408): the connection keeps its rooms and subscriptions for resumeWindowSeconds, waiting for a resume",
  ConnectionResumed: 'a new socket resumed a detached connection (resume {session, since}): same peer_id, rooms and subscriptions, the missed pushes replayed; with a node: another cluster node adopted it after its node was lost',
  ConnectionPinned: 'in a cluster: the connection now holds state only its node keeps in memory (an audience, a chat follow), so no other node can adopt it (a resume there is restarted)',
  ConnectionClosed: 'a socket closed, with its close code, reason and frame counts (unclean: still open when the gateway stopped; resumedConnection: the socket carried a resume and is now that connection)',
  OrganisationAuthenticated: 'a socket authenticated as an organisation with an organisation token',
  LoginSucceeded: "a socket's username and password were accepted",
  LoginFailed: "a socket's login was refused (unknown user or password, disabled, rate limited)",
  MfaChallenged: "the socket's user must give a TOTP code next",
  MfaPassed: "the socket's TOTP code was accepted",
  MfaFailed: "the socket's TOTP code was refused (invalid, locked, or no challenge pending)",
  SessionAuthorized: 'the socket now acts for a user, in an organisation and groups, by a method',
  AppSessionStarted: 'a socket started an anonymous app session with an app token',
  TokenIssued: 'a token was issued to the socket (kind and jti, never the token)',
  TokenRefused: 'a token presented on the socket was refused',
  LoggedOut: 'the socket logged out',
  SessionEnded: "the socket's session ended",
  OrganisationCreated: 'an organisation was created (`switchyard orgs add`, or admin_organisation_create with its profile)',
  OrganisationUpdated: "an organisation's name or profile changed (admin_organisation_update), with the fields that changed",
  OrganisationDeleted: 'an organisation was deleted (soft: the read models hide it, the log keeps it)',
  PermissionsGranted: "permissions were granted to one of an organisation's groups (admin_group_grant, `switchyard groups grant`)",
  EventScheduled: 'an event (Extream event listing) was scheduled in an organisation, with its dates, slug and parent (admin_event_create)',
  EventUpdated: "an event listing's fields changed (admin_event_update), with only the fields that changed",
  EventDeleted: 'an event listing was deleted (soft: the read models hide it, the log keeps it)',
  EventUserTypeSet: "a user's role in an event was set (admin_event_update user_types): audience, actor, crew or chief",
  ItineraryCreated: 'an itinerary was created in an event, with its dates (admin_itinerary_create)',
  ItineraryUpdated: "an itinerary's fields changed (only those named)",
  ItineraryDeleted: 'an itinerary was deleted (soft; its items were removed just before it)',
  ItemAdded: 'an item was added to an itinerary, with its type, dates and configuration (html stored sanitised)',
  ItemUpdated: "an item's fields changed (only those named; configuration replaced whole)",
  ItemRemoved: 'an item was removed from its itinerary (soft)',
  InvitationIssued: 'an organiser invited an email address to a webrtc/zoom item (client_webrtc_add, `switchyard invite`; the ticket id only, never the ticket)',
  InvitationUpdated: "an invited item's dates or name changed: an updated invitation with a higher SEQUENCE is owed",
  TicketExchanged: "a guest exchanged the invitation's one-time ticket for a guest token (when, from which address)",
  InvitationRevoked: 'the invitee was removed: its tickets and guest tokens stop counting, its guest sockets close (4501)',
  InvitationMailSent: 'an invitation mail (REQUEST or CANCEL) was handed to SMTP or written to data/outbox',
  InvitationMailFailed: 'an invitation mail failed; retryAt says when it is tried again (null: given up)',
  PermissionsRevoked: "permissions were taken from one of an organisation's groups (admin_group_revoke, `switchyard groups revoke`)",
  OrganisationNameClaimed: 'an organisation name was taken; names are unique, ignoring case and spacing',
  GroupCreated: 'a group was created in an organisation',
  UserRegistered: 'a user was registered (the password hash is redacted in this view)',
  UserAddedToGroup: 'a user joined a group of an organisation',
  MfaEnrolled: 'a user enrolled TOTP (the sealed secret is redacted in this view)',
  MfaCodeAccepted: "a user's TOTP code was accepted",
  MfaCodeRejected: "a user's TOTP code was refused, with the count of consecutive failures",
  MfaLocked: "a user's MFA locked after too many wrong codes, until a time",
  MfaUnlocked: "a user's MFA lock was lifted (`switchyard users mfa unlock`)",
  UserDisabled: 'a user was disabled; their tokens stop working',
  UserEnabled: 'a disabled user was enabled again',
  ClientRegistered: 'an OAuth2 client was registered (the secret hash is redacted in this view)',
  AppTokenIssued: 'an app token was issued (POST /app)',
  AppTokenRevoked: 'an app token was revoked',
  OAuthLoginFailed: 'a login on the OAuth2 login page was refused',
  OAuthMfaChallenged: 'an OAuth2 login needs the TOTP code next',
  OAuthMfaFailed: "an OAuth2 login's TOTP code was refused",
  AuthorizationCodeIssued: 'an OAuth2 authorization code was issued to a client for a user',
  AuthorizationDenied: 'the user cancelled an OAuth2 authorization',
  AuthorizationCodeRedeemed: 'an authorization code was exchanged for access and refresh tokens (once per code)',
  AuthorizationCodeReuseRefused: 'a second redemption of a code was refused; its grant is revoked',
  RefreshTokenRotated: 'a refresh token was exchanged for new tokens; the old one is dead',
  RefreshTokenRefused: 'a refresh token was refused (reused, revoked, user disabled, wrong client)',
  GrantRevoked: 'no refresh token of an OAuth2 grant works any more',
  OrganisationTokenIssued: 'an organisation token was issued (client credentials grant)',
  OAuthRequestRefused: 'an OAuth2 authorize or token request was refused, with the RFC 6749 error',
  RefusalsSummarised: "one window's refused tokens and logins from one address past those logged one by one, counted by kind and reason",
  RoomCreated: 'a room was created by its first member, its owner',
  JoinRequested: 'a connection asked to join a room',
  JoinApproved: 'a join request was approved; the connection is a member',
  MemberAdmitted: "a connection was let into a room without an owner's approval, by whoever runs the room (a call on a webrtc item)",
  JoinRejected: 'a join request was rejected, withdrawn, or ended by the room closing',
  MemberLeft: 'a member left a room (left, disconnected, banned, kicked, gateway restarted)',
  OwnerChanged: 'a room passed to a new owner',
  MemberBanned: 'a user was banned from a room, until a time or for good',
  RoomUpdated: "a room's user data changed",
  RoomClosed: 'a room was closed',
  CustomerRegistered: 'a room API customer was registered with its limits (`switchyard customers add`)',
  CustomerKeyAdded: "an access key was added to a customer (its public key only)",
  CustomerKeyRevoked: "a customer's access key was revoked",
  CustomerLimitsChanged: "a customer's peer and room limits changed",
  SfuServerRegistered: 'an SFU server registered with the grid (POST /internal)',
  SfuServerReported: 'an SFU server reported its load, clients and rooms',
  SfuRoomPlaced: 'a room was placed on an SFU server',
  SfuRoomCollided: 'two SFU servers reported one room; the other one is told to close it',
  SfuTaskQueued: 'a task (close, update, ban, message) was queued for an SFU server',
  SfuTasksHandedOut: 'queued tasks were handed to their SFU server',
  SfuServerDisabled: 'an SFU server went silent and takes no new rooms',
  SfuServerRemoved: 'a silent SFU server was removed with its rooms and tasks',
  SyncSessionCreated: "a user's device sync session was opened (GET /v2/sync/users/<userId>), with its first session id",
  SyncSessionRotated: "a sync session's id rotated: the old QR code and URL are dead",
  SyncSessionPaused: 'a device made the sync handshake with its RSA key; rotation pauses and a verification id only it knows replaces the QR id',
  SyncSessionResumed: 'a paused sync session was not verified in time and rotates again',
  SyncSessionPasswordRejected: 'a device sent a wrong password for a sync session, with the count so far',
  SyncSessionVerified: 'a device proved the user\'s password; it got a shared key (its fingerprint only is logged)',
  SyncSessionFailed: 'a sync session failed after too many wrong passwords',
  SyncSessionExpired: 'a sync session ended unverified (changes used up, page closed or never connected, gateway restarted)',
  ChatInstanceStarted: "a chat conversation began: an item's own chat with its first event, or one started with consumer_chat_start (direct, round-robin)",
  ChatMessagePosted: 'a chat message was posted (text verbatim), with who may read it (everyone, moderators, a thread) and whether it is held for a moderator',
  ChatMessagePublished: 'a moderator made a held or moderators-only chat message visible to everyone (client_chat_publish)',
  ChatMessageRemoved: 'a chat message was removed by its author or a moderator (soft: the log keeps its text)',
  ChatParticipantsAdded: 'people were added to a chat conversation (consumer_chat_start, consumer_chat_add)',
  ChatParticipantLeft: 'someone left a chat conversation (consumer_chat_leave)',
  ChatInstanceActivated: 'an operator took a waiting round-robin chat (client_chat_activate)',
  ChatInstanceClosed: 'the last participant left a chat conversation: it takes no more messages',
  ChatUserBanned: "a moderator banned a user from an item's chat, until a time or for good (client_chat_ban)",
  ChatUserUnbanned: "a user's chat ban was lifted (client_chat_ban unban)",
  PollQuestionOpened: "an operator asked a poll's question (client_poll_add), with its answer key, mode and closing time",
  PollQuestionClosed: "a poll's question closed, by an operator or its time",
  PollAnswered: "someone answered a poll's question (one answer per person per question), with whether it was correct and its points (quizzes)",
  PresenceVisibilitySet: 'a user chose to be seen online, or hidden (consumer_online_visibility)',
  NoticeSent: 'a notice was sent to an event (client_notice_send), with its title, text and level',
  NoticeRead: 'a user marked a notice read (consumer_notice_read)',
  StreamKeyIssued: "an rtmp item's stream key was issued or rotated (client_rtmp_get): its hash and the sealed key only",
  StreamActivated: 'the streaming service reported an rtmp item live (client_rtmp_activate)',
  StreamCompleted: "the streaming service reported an rtmp item's stream complete (client_rtmp_complete), with its recording URL",
  StreamStatusChanged: "an rtmp item's status changed (rehearsing, live, recording, complete), by time or by the streaming service",
  ZoomCredentialsSet: "an organisation's Zoom Meeting SDK key was set (`switchyard zoom set`): the key, and the secret sealed (redacted in this view)",
  CallStarted: 'a call started on a webrtc item (consumer_webrtc_start / client_webrtc_start), with its mode, host and instance (the room it runs in)',
  CallRinging: 'the parties of an instant call, or a called-back consumer, are being rung',
  CallAccepted: 'a rung party accepted the call (consumer_webrtc_accept)',
  CallJoined: "a party joined the call's room (host, operator, participant)",
  CallLeft: 'a party left the call (left, disconnected, declined, removed)',
  CallQueued: 'a round-robin call waits for an operator',
  CallOffered: 'a waiting round-robin call was offered to one operator, until a time',
  CallOfferExpired: 'an offer to an operator ended untaken (timed out, declined, the operator went away)',
  CallAssigned: 'an operator took a call, or it was handed to one (client_webrtc_activate / client_webrtc_assign)',
  CallReturned: 'an operator returned a call to the queue (client_webrtc_recall)',
  CallbackRequested: 'a consumer asked to be called back when no operator is free (consumer_webrtc_callback)',
  CallEnded: 'a call ended (ended by a party or an operator, everyone left, the item went), with why',
};

export interface CatalogueEntry {
  type: string;
  /** The stream category (`category-id`, DESIGN.md) the type is written to. */
  category: string;
  /** The stream id's shape, e.g. `room-<name>`. */
  stream: string;
  meaning: string;
}

/**
 * The refusal summaries' types. Here rather than exported from refusal.events.ts, which is
 * being written by another piece of work right now; move it there once that settles.
 */
const REFUSAL_EVENT_TYPES = Object.keys({ RefusalsSummarised: true } satisfies Record<RefusalEvent['type'], true>);

/** The exported type lists of each domain, by the stream they are written to. */
const SOURCES: readonly { category: string; /** The shape of the stream id's part after the category. */ id: string; types: Iterable<string> }[] = [
  { category: CONNECTION_CATEGORY, id: '<connectionId>', types: CONNECTION_EVENT_TYPES },
  { category: SESSION_CATEGORY, id: '<connectionId>', types: SESSION_EVENT_TYPES },
  { category: IDENTITY_CATEGORIES.organisation, id: '<organisationId>', types: ORGANISATION_EVENT_TYPES },
  { category: ACCESS_CATEGORY, id: '<organisationId>', types: ACCESS_EVENT_TYPES },
  { category: EVENT_LISTING_CATEGORY, id: '<eventId>', types: EVENT_LISTING_EVENT_TYPES },
  { category: ITINERARY_CATEGORY, id: '<itineraryId>', types: ITINERARY_EVENT_TYPES },
  { category: INVITATION_CATEGORY, id: '<invitationId>', types: INVITATION_EVENT_TYPES },
  { category: IDENTITY_CATEGORIES.organisationName, id: '<slug>', types: ORGANISATION_NAME_EVENT_TYPES },
  { category: IDENTITY_CATEGORIES.group, id: '<groupId>', types: GROUP_EVENT_TYPES },
  { category: IDENTITY_CATEGORIES.user, id: '<userId>', types: USER_EVENT_TYPES },
  { category: IDENTITY_CATEGORIES.client, id: '<clientId>', types: CLIENT_EVENT_TYPES },
  { category: IDENTITY_CATEGORIES.app, id: '<app>', types: APP_EVENT_TYPES },
  { category: OAUTH_CATEGORIES.flow, id: '<flowId>', types: OAUTH_FLOW_EVENT_TYPES },
  { category: OAUTH_CATEGORIES.grant, id: '<codeId>', types: OAUTH_GRANT_EVENT_TYPES },
  { category: OAUTH_CATEGORIES.request, id: '<requestId>', types: OAUTH_REQUEST_EVENT_TYPES },
  { category: REFUSAL_CATEGORY, id: '<address>-<windowStart>', types: REFUSAL_EVENT_TYPES },
  { category: ROOM_CATEGORY, id: '<name>', types: ROOM_EVENT_TYPES },
  { category: CUSTOMER_CATEGORY, id: '<customerId>', types: CUSTOMER_EVENT_TYPES },
  { category: SFU_CATEGORY, id: '<address>', types: SFU_EVENT_TYPES },
  { category: SYNC_SESSION_CATEGORY, id: '<syncId>', types: SYNC_SESSION_EVENT_TYPES },
  { category: CHAT_CATEGORY, id: '<instanceId>', types: CHAT_EVENT_TYPES },
  { category: POLL_CATEGORY, id: '<itemId>', types: POLL_EVENT_TYPES },
  { category: POLL_ANSWERS_CATEGORY, id: '<itemId>-<person>', types: POLL_ANSWER_EVENT_TYPES },
  { category: PRESENCE_CATEGORY, id: '<userId>', types: PRESENCE_EVENT_TYPES },
  { category: NOTICE_CATEGORY, id: '<noticeId>', types: ['NoticeSent'] satisfies NoticeEvent['type'][] },
  { category: NOTICE_READS_CATEGORY, id: '<userId>', types: ['NoticeRead'] satisfies NoticeReadsEvent['type'][] },
  { category: STREAM_CATEGORY, id: '<itemId>', types: STREAM_EVENT_TYPES },
  { category: ZOOM_CREDENTIALS_CATEGORY, id: '<organisationId>', types: ZOOM_CREDENTIALS_EVENT_TYPES },
  { category: CALL_CATEGORY, id: '<instance>', types: CALL_EVENT_TYPES },
];

function isGatewayEventType(type: string): type is GatewayEventType {
  return Object.hasOwn(MEANINGS, type);
}

const meaningOf = (type: string): string | undefined => (isGatewayEventType(type) ? MEANINGS[type] : undefined);

/**
 * Every event type the gateway writes, in the order of the domains above. Built from the
 * domains' own lists, so the catalogue cannot name a type no domain writes; a listed type
 * without a meaning is a bug caught at load (and by test/unit/event-catalogue.test.ts).
 */
export const EVENT_CATALOGUE: readonly CatalogueEntry[] = SOURCES.flatMap(({ category, id, types }) =>
  [...types].map((type) => {
    const meaning = meaningOf(type);
    if (meaning === undefined) throw new Error(`event type ${type} has no meaning in the catalogue`);
    return { type, category, stream: `${category}-${id}`, meaning };
  }),
);

/** Types of the catalogue, for checks (`events --type` names, tests). */
export const CATALOGUED_TYPES: ReadonlySet<string> = new Set(EVENT_CATALOGUE.map((entry) => entry.type));
