import type { ItemType } from '../../../src/protocol/topics/itineraries.js';
import type { Permission, UserType } from '../../../src/protocol/topics/extream.js';

/**
 * What the server sends back: answers' and pushes' data (PROTOCOL.md sections 4, 5, 8, 9).
 * Requests are typed from the server's own schemas (topics.ts); these shapes have no schema
 * on the server (they are built by its modules), so they are written here and held to the
 * modules' view types by packages/client/test/server-views.check.ts in the repo's typecheck.
 */

// ---- identity (section 4) ----

export interface Authenticated {
  organisationId: string;
  authStatus: 'authorized' | 'unauthorized';
}

/** `authorized` after `authorize` with a user token. */
export interface UserAuthorized {
  userId: string;
  groups: string[];
  organisationId?: string | null;
  /** Set after `login` and `mfa`: the access token to `authorize` with next time. */
  token?: string;
}

/** `authorized` after `authorize` with a guest token (section 9). */
export interface GuestAuthorized {
  guest: true;
  item: string;
  room: string;
  name: string;
  organisationId: string;
}

export type Authorized = UserAuthorized | GuestAuthorized;

export interface MfaPrompt {
  mfaSubject: string;
  mfaBody: string;
  mfaTooltip: string;
}

export interface Refusal {
  message: string;
  code: string;
}

// ---- rooms (section 5) ----

export interface RoomCreated {
  room: string;
  payload: unknown;
}

export interface RoomJoined {
  room: string;
  peer_id: string;
  /** The members before the joiner. */
  peers: string[];
  /** The owner's payload. */
  payload: unknown;
}

/** A repeated join request while the first still waits for an owner. */
export interface RoomJoinPending {
  room: string;
  pending: true;
}

export interface RoomJoinAnswered {
  room: string;
  peer_id: string;
  approved: boolean;
}

export interface RoomPeer {
  room: string;
  peer_id: string;
}

export interface RoomPeerPayload extends RoomPeer {
  payload: unknown;
}

export interface RoomJoinRejected extends RoomPeer, Refusal {}

export interface SessionDescriptionPush extends RoomPeer {
  session_description: unknown;
  payload?: unknown;
}

export interface IceCandidatePush extends RoomPeer {
  ice_candidate: unknown;
  payload?: unknown;
}

// ---- live events (section 8) ----

export interface OrganisationView {
  id: string;
  name: string;
  slug: string;
  website: string | null;
  description: string | null;
  data: Record<string, unknown> | null;
  created_at: string | null;
  updated_at: string | null;
}

export interface GroupView {
  id: string;
  name: string;
  permissions: Permission[];
}

export interface EventListingView {
  id: string;
  organisation: string;
  parent: string | null;
  name: string;
  slug: string;
  description: string | null;
  website: string | null;
  timezone: string | null;
  start_date: string;
  end_date: string;
  public: boolean;
  data: Record<string, unknown> | null;
  children: string[];
}

export interface ConsumerEventListingView extends EventListingView {
  user_type: UserType;
}

export interface ItemView {
  id: string;
  itinerary: string;
  event: string;
  type: ItemType;
  name: string;
  description: string | null;
  start_date: string | null;
  end_date: string | null;
  order: number;
  configuration: Record<string, unknown>;
}

export interface ItineraryView {
  id: string;
  event: string;
  name: string;
  description: string | null;
  start_date: string | null;
  end_date: string | null;
  data: Record<string, unknown>;
  items: ItemView[];
}

export interface DeletedView {
  id: string;
  deleted: true;
}

/** `consumer_{type}_get`: the item and what joining it takes (section 8, "Joining an item"). */
export interface ItemJoin {
  item: ItemView;
  join: Record<string, unknown>;
}

export interface InvitationOutcome {
  invitation: string;
  email: string;
  status: 'invited' | 'already_invited' | 'removed' | 'not_invited';
}

/** `consumer_itinerary_update`: one changed itinerary of an event the connection is on. */
export interface ItineraryUpdatePush {
  event: string;
  itinerary: ItineraryView | DeletedView;
  seq: number;
}
