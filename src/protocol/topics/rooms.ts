import { z } from 'zod';

/**
 * The wire topics of rooms and WebRTC signalling (PROTOCOL.md section 5): names and the
 * schemas of their `data`. Shapes only: limits that depend on the gateway's configuration
 * (the payload size) are checked by the rooms module, with their own error code.
 *
 * `auth` is Chat Signal's optional copy of the session token. It stays `unknown` here: any
 * value that is not the socket's own session token is refused as UNAUTHORIZED, not as a
 * malformed frame, whichever path (decoded or the relay's raw-JSON fast path) saw it.
 */

export const ROOM_TOPICS = {
  createRequest: 'room-create-request',
  createAccept: 'room-create-accept',
  createReject: 'room-create-reject',
  joinRequest: 'room-join-request',
  joinAccept: 'room-join-accept',
  joinReject: 'room-join-reject',
  leave: 'room-leave',
  relaySessionDescription: 'relay-session-description',
  relayIceCandidate: 'relay-ice-candidate',
  /** What a relay's target receives. */
  sessionDescription: 'session-description',
  iceCandidate: 'ice-candidate',
} as const;

/** Room names: what Chat Signal and ODIN clients use, `{tag}` included. */
export const ROOM_NAME = /^[A-Za-z0-9_.:@+{}=-]{1,128}$/;

const ROOM_NAME_RULE = 'room must be 1-128 characters of [A-Za-z0-9_.:@+{}=-]';

export const roomName = z.string(ROOM_NAME_RULE).regex(ROOM_NAME, ROOM_NAME_RULE);

/** A client's opaque JSON for the other members; its size is limited by configuration. */
const payload = z.unknown().optional();
const auth = z.unknown().optional();

/** Without data, or without a room, the gateway picks the name. */
export const roomCreateRequest = z.object({ room: roomName.optional(), payload, auth }).optional();

export const roomJoinRequest = z.object({ room: roomName, payload, auth });

/**
 * An owner's answer to a join request, naming the requester as `peerId`. `to` is accepted as
 * an alias of `peer_id` (clients that reuse their relay code send it).
 */
export const roomJoinAnswer = z
  .object({ room: roomName, peer_id: z.string().nullish(), to: z.string().nullish(), payload, auth })
  .transform(({ peer_id, to, ...rest }, context) => {
    const peerId = peer_id ?? to;
    if (typeof peerId === 'string') return { ...rest, peerId };
    context.addIssue({ code: 'custom', message: 'needs {room, peer_id}' });
    return z.NEVER;
  });

export const roomLeave = z.object({ room: roomName, auth });

/**
 * The relays' validators are written by hand, not with zod: this is the hot path of the
 * MessagePack and Socket.IO relays (the JSON one takes the fast path), where a zod parse
 * (which copies the object) cost about as much as the rest of the relay. Same checks and
 * messages as a schema would give; the data is passed through as it is.
 */
export interface RelayData<Field extends 'session_description' | 'ice_candidate'> {
  room: string;
  to: string;
  payload?: unknown;
  auth?: unknown;
  // The relayed body, forwarded as sent: the gateway only insists that there is one.
  [key: string]: unknown;
}
export type RelaySessionDescription = RelayData<'session_description'> & { session_description: unknown };
export type RelayIceCandidate = RelayData<'ice_candidate'> & { ice_candidate: unknown };

type RelayParse<Data> = { success: true; data: Data } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };

const refused = (path: string, message: string) => ({ success: false as const, error: { issues: [{ path: path === '' ? [] : [path], message }] } });

function relayValidator<Data>(field: 'session_description' | 'ice_candidate') {
  const missingBody = `a relay needs "${field}"`;
  return {
    safeParse(value: unknown): RelayParse<Data> {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return refused('', 'a relay needs {room, to, ...}');
      const data = value as Record<string, unknown>;
      if (typeof data.room !== 'string') return refused('room', 'a relay needs {room, to, ...}');
      if (typeof data.to !== 'string') return refused('to', 'a relay needs {room, to, ...}');
      if (data[field] === undefined || data[field] === null) return refused(field, missingBody);
      return { success: true, data: data as Data };
    },
  };
}

export const relaySessionDescription = relayValidator<RelaySessionDescription>('session_description');
export const relayIceCandidate = relayValidator<RelayIceCandidate>('ice_candidate');

export type RoomCreateRequest = z.output<typeof roomCreateRequest>;
export type RoomJoinRequest = z.output<typeof roomJoinRequest>;
export type RoomJoinAnswer = z.output<typeof roomJoinAnswer>;
export type RoomLeave = z.output<typeof roomLeave>;
