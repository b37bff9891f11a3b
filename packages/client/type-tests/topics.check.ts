/**
 * Type-level tests, run by `tsc --noEmit -p packages/client` (never executed). The SDK's
 * request data are the server's zod schemas (`z.input`), so renaming a field in
 * src/protocol/topics/ turns a correct call below into an error, and each `@ts-expect-error`
 * fails the build if the mistake it marks ever typechecks.
 */
import type { EVENT_LISTING_TOPICS } from '../../../src/protocol/topics/event-listings.js';
import type { IDENTITY_TOPICS } from '../../../src/protocol/topics/identity.js';
import type { INVITATION_TOPICS } from '../../../src/protocol/topics/invitations.js';
import type { ITINERARY_PUSHES, ITINERARY_TOPICS } from '../../../src/protocol/topics/itineraries.js';
import type { ORGANISATION_TOPICS } from '../../../src/protocol/topics/organisations.js';
import type { ROOM_TOPICS } from '../../../src/protocol/topics/rooms.js';
import type { CommandEvent, LifecycleEvents, PushEvent, PushMap, RequestEvent, SwitchyardClient } from '../src/index.js';

declare const client: SwitchyardClient;
type Values<T> = T[keyof T];
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Every member of `Names` is a key of the map. */
type Covered<Names, Keys> = [Exclude<Names, Keys>] extends [never] ? true : false;
const holds = <Condition extends true>(): Condition | undefined => undefined;
const dates = { start_date: '2026-05-04 09:00:00', end_date: '2026-05-05T18:00:00Z' };

export async function requests(): Promise<void> {
  await client.request('ping');
  const login = await client.request('login', { username: 'ada', password: 'correct horse' });
  if (login.event === 'authorized') {
    const token: string = login.data.token;
    await client.request('authorize', { method: 'oauth2', token });
  } else {
    const subject: string = login.data.mfaSubject;
    void subject;
  }
  // @ts-expect-error `login` takes `username`, not `user`
  await client.request('login', { user: 'ada', password: 'correct horse' });
  // @ts-expect-error a join names its room
  await client.request('room-join-request', { payload: { name: 'Bo' } });
  const created = await client.request('room-create-request', { room: 'call-1' });
  const room: string = created.data.room;
  await client.request('relay-ice-candidate', { room, to: 'peer', ice_candidate: { candidate: 'candidate:1' } });
  // @ts-expect-error an answer's data has no such field
  void created.data.peers;
  // @ts-expect-error commands go through command(): request() does not know them
  await client.request('admin_event_create', { data: {} });
}

export async function commands(): Promise<void> {
  const organisation = await client.command('admin_organisation_create', { data: { name: 'Acme Live' } }, { onReceipt: (receipt) => void receipt.messageId });
  const id: string = organisation.response.id;
  const event = await client.command('admin_event_create', { data: { organisation: id, name: 'Launch Week', public: true, ...dates } });
  const slug: string = event.response.slug;
  void slug;
  // @ts-expect-error `nam` is no field of an event (a rename of `name` in event-listings.ts fails the call above)
  await client.command('admin_event_create', { data: { organisation: id, nam: 'Launch Week', ...dates } });
  // @ts-expect-error `public` is a boolean
  await client.command('admin_event_create', { data: { organisation: id, name: 'Launch Week', public: 'yes', ...dates } });
  await client.command('admin_item_create', { data: { itinerary: id, type: 'chat', name: 'Lobby', configuration: { moderation: 'trust' } } });
  // @ts-expect-error item types are the server's list
  await client.command('admin_item_create', { data: { itinerary: id, type: 'hologram', name: 'Lobby' } });
  const joined = await client.command('consumer_webrtc_get', { id });
  const itemType: string = joined.response.item.type;
  void itemType;
  await client.command('client_webrtc_add', { id, data: { emails: ['guest@example.org'], baseURL: 'https://example.org/guest' } });
}

export function pushes(): void {
  client.on('consumer_itinerary_update', (data, meta) => {
    const seq: number = data.seq;
    const fromLog: number | undefined = meta.seq;
    void [seq, fromLog];
  });
  client.on('session-description', (data) => void data.session_description);
  // @ts-expect-error `room-user-join` names the peer as `peer_id`
  client.on('room-user-join', (data) => void data.peer);
  client.on('closed', ({ code, willReconnect }) => void [code, willReconnect]);
  client.on('reconnecting', ({ attempt, delayMs }) => void [attempt, delayMs]);
  client.on('restarted', ({ reason, rooms }) => void [reason, rooms]);
  // @ts-expect-error not an event of this client
  client.on('room-user-joined', () => undefined);
}

// The maps cover the server's topic lists exactly: a topic renamed or added there shows here.
type ServerCommands =
  | Values<typeof ORGANISATION_TOPICS>
  | Values<typeof EVENT_LISTING_TOPICS>
  | Exclude<Values<typeof ITINERARY_TOPICS>, object>
  | Values<(typeof ITINERARY_TOPICS)['consumerItemGet']>
  | Values<typeof INVITATION_TOPICS>;
// (augment.check.ts adds `example_thing_send` to this program's map.)
export const commandsCovered = holds<Equal<Exclude<CommandEvent, 'example_thing_send'>, ServerCommands>>();
export const identityCovered = holds<Covered<Values<typeof IDENTITY_TOPICS>, RequestEvent>>();
type ClientRoomRequests = Exclude<Values<typeof ROOM_TOPICS>, 'room-create-accept' | 'room-create-reject' | 'session-description' | 'ice-candidate'>;
export const roomsCovered = holds<Covered<ClientRoomRequests, RequestEvent>>();
export const relayPushesCovered = holds<Covered<(typeof ROOM_TOPICS)['sessionDescription' | 'iceCandidate'], PushEvent>>();
export const itineraryPushesCovered = holds<Covered<Values<typeof ITINERARY_PUSHES>, PushEvent>>();
// The client's own events never shadow a push.
export const noCollision = holds<Covered<keyof LifecycleEvents, Exclude<keyof LifecycleEvents, keyof PushMap>>>();
