import { newId } from '../../core/index.js';
import { isPlainObject } from '../../protocol/index.js';
import {
  ROOM_TOPICS,
  relayIceCandidate,
  relaySessionDescription,
  roomCreateRequest,
  roomJoinAnswer,
  roomJoinRequest,
  roomLeave,
  type RelayIceCandidate,
  type RelaySessionDescription,
  type RoomCreateRequest,
  type RoomJoinAnswer,
  type RoomJoinRequest,
  type RoomLeave,
} from '../../protocol/topics/rooms.js';
import type { ClientConnection } from '../../edge/index.js';
import { defineTopic, type AnyTopic, type GuestPrincipal, type RejectStyle } from '../../runtime/index.js';
import type { RoomsConfig } from './config.js';
import { userKeyOf, type RoomCommand } from './domain/index.js';
import type { JoinRequestFrames } from './join-frames.js';
import type { RoomMembers } from './members.js';
import { assertPayloadFits, jsonBytes, type Relay } from './relay.js';
import type { RoomHost } from './room-host.js';
import { requireRoomSession } from './session.js';

export interface RoomTopicDependencies {
  host: RoomHost;
  members: Pick<RoomMembers, 'itemOf'>;
  relay: Relay;
  joinFrames: JoinRequestFrames;
  config: RoomsConfig;
}

/**
 * Every room topic needs a session; Chat Signal clients may also send its token as `auth`.
 * Handlers then build user keys from `client.principal`, which this has vouched for.
 */
const authorize = (client: ClientConnection, data: unknown): void => {
  requireRoomSession(client, data);
};

/**
 * A guest (PROTOCOL.md section 9) may use its item's room and no other: request to join it
 * (its owner still approves), leave it, relay to its members, and answer join requests should
 * ownership pass to it (the longest-present member becomes owner). Creating a room is the
 * host's: a guest arriving first waits for the host, as any joiner of an unknown room is told to.
 * The rooms of its item's calls (named by each call's instance) are its item's too.
 */
const guestGate =
  (members: Pick<RoomMembers, 'itemOf'>) =>
  (principal: GuestPrincipal, data: { room: string }): boolean =>
    data.room === principal.room || members.itemOf(data.room) === principal.itemId;

/** The room the refused frame named, when it named one as a string (even an invalid one). */
const roomNamed = (data: unknown): string | undefined => (isPlainObject(data) && typeof data.room === 'string' ? data.room : undefined);

/** `room-create-reject {room, message, code}`: the room only when the frame named one. */
const createReject: RejectStyle = {
  kind: 'event',
  event: ROOM_TOPICS.createReject,
  fields: (data) => {
    const room = roomNamed(data);
    return room === undefined ? {} : { room };
  },
};

/** `room-join-reject {room, peer_id, message, code}`: the same shape as an owner's rejection. */
const joinReject: RejectStyle = {
  kind: 'event',
  event: ROOM_TOPICS.joinReject,
  fields: (data, client) => {
    const room = roomNamed(data);
    return room === undefined ? {} : { room, peer_id: client.id };
  },
};

/**
 * The room topics of PROTOCOL.md section 5. State changes are room commands: durable before
 * anyone hears of them, and what members hear comes from the committed events (processors.ts).
 * What a topic answers directly is its own receipt: the accept of a create, `result` frames.
 */
export function roomTopics({ host, members, relay, joinFrames, config }: RoomTopicDependencies): AnyTopic<ClientConnection>[] {
  const ownRoomOfGuest = guestGate(members);

  /** `payload` limited by its size as JSON; an absent one is recorded as null. */
  const checkedPayload = (payload: unknown): unknown => {
    if (payload === undefined) return null;
    assertPayloadFits(jsonBytes(payload), config.maxPayloadBytes);
    return payload;
  };

  /** The log's metadata of a topic's command: who sent it, and the answers it ties to. */
  const metadataOf = ({ actor, correlationId }: { actor: string; correlationId: string }) => ({ actor, correlationId });

  const create = defineTopic<RoomCreateRequest, ClientConnection>({
    name: ROOM_TOPICS.createRequest,
    schema: roomCreateRequest,
    reject: createReject,
    authorize,
    handle: async (request) => {
      const { client, data, now } = request;
      const room = data?.room ?? newId(9);
      const payload = checkedPayload(data?.payload);
      await host.execute(room, { type: 'CreateRoom', room, peerId: client.id, userKey: userKeyOf(client.principal, client.id), payload, now }, metadataOf(request));
      client.reply(request.id, ROOM_TOPICS.createAccept, { room, payload });
    },
  });

  const join = defineTopic<RoomJoinRequest, ClientConnection>({
    name: ROOM_TOPICS.joinRequest,
    schema: roomJoinRequest,
    reject: joinReject,
    authorize,
    admitGuest: ownRoomOfGuest,
    handle: async (request) => {
      const { client, data, id, now } = request;
      const payload = checkedPayload(data.payload);
      // The owner's accept or reject, pushed from the log, answers this frame's id.
      if (id !== undefined) joinFrames.remember(data.room, client.id, id);
      try {
        const command: RoomCommand = { type: 'RequestJoin', peerId: client.id, userKey: userKeyOf(client.principal, client.id), payload, now };
        const result = await host.execute(data.room, command, metadataOf(request));
        // Already pending: nothing new to wait for, so this frame is answered now.
        if (result.events.length === 0 && id !== undefined) client.reply(id, 'result', { room: data.room, pending: true });
      } catch (error) {
        joinFrames.forget(data.room, client.id);
        throw error;
      }
    },
  });

  const answerJoin = (approve: boolean) =>
    defineTopic<RoomJoinAnswer, ClientConnection>({
      name: approve ? ROOM_TOPICS.joinAccept : ROOM_TOPICS.joinReject,
      schema: roomJoinAnswer,
      authorize,
      admitGuest: ownRoomOfGuest,
      handle: async (request) => {
        const { client, data, id, now } = request;
        const { peerId } = data;
        // Checked on a rejection too, which does not carry it: the limit is the frame's.
        const payload = checkedPayload(data.payload);
        const command: RoomCommand = approve ? { type: 'ApproveJoin', by: client.id, peerId, payload, now } : { type: 'RejectJoin', by: client.id, peerId };
        await host.execute(data.room, command, metadataOf(request));
        if (id !== undefined) client.reply(id, 'result', { room: data.room, peer_id: peerId, approved: approve });
      },
    });

  const leave = defineTopic<RoomLeave, ClientConnection>({
    name: ROOM_TOPICS.leave,
    schema: roomLeave,
    authorize,
    admitGuest: ownRoomOfGuest,
    handle: async (request) => {
      const { client, data, id } = request;
      await host.execute(data.room, { type: 'Leave', peerId: client.id, reason: 'left' }, metadataOf(request));
      if (id !== undefined) client.reply(id, 'result', { room: data.room, left: true });
    },
  });

  // The relays are synchronous: their answers go out before the dispatcher returns.
  const relaySdp = defineTopic<RelaySessionDescription, ClientConnection>({
    name: ROOM_TOPICS.relaySessionDescription,
    schema: relaySessionDescription,
    authorize,
    admitGuest: ownRoomOfGuest,
    handle: ({ client, data, id, now }) =>
      relay.fromDecoded(client, 'sdp', data.room, data.to, data.session_description, data.payload, id, now),
  });

  const relayIce = defineTopic<RelayIceCandidate, ClientConnection>({
    name: ROOM_TOPICS.relayIceCandidate,
    schema: relayIceCandidate,
    authorize,
    admitGuest: ownRoomOfGuest,
    handle: ({ client, data, id, now }) =>
      relay.fromDecoded(client, 'ice', data.room, data.to, data.ice_candidate, data.payload, id, now),
  });

  return [create, join, answerJoin(true), answerJoin(false), leave, relaySdp, relayIce];
}
