import { isAppError, streamId, type EventMetadata, type Principal, type RecordedEvent } from '../../core/index.js';
import { sendToAll, type ClientConnection } from '../../edge/index.js';
import { CALL_PUSHES } from '../../protocol/topics/calls.js';
import { formatExtreamDateTime } from '../../protocol/topics/extream.js';
import type { ActorRuntime, Processor } from '../../runtime/index.js';
import { isItineraryEvent, type ItemModulePorts } from '../itineraries/index.js';
import { isRoomEvent } from '../rooms/index.js';
import { CALL_CATEGORY, callStateOf, isCallEvent, type callMachine, type RecordedCallEvent } from './domain/index.js';
import type { OfferDispatcher } from './dispatch.js';
import { partyOf } from './parties.js';
import type { CallPresence } from './presence.js';
import type { CallDirectory, CallRecord } from './projection.js';
import type { CallRoomsPort, Calls } from './service.js';

/** What a call does with its room (the rooms module's RoomHost, structurally). */
export interface CallRoomPort extends CallRoomsPort {
  admit(room: string, connection: { id: string; principal: Principal }, call: { itemId: string; payload: unknown; by: string; now: number }, metadata: EventMetadata): Promise<void>;
  remove(room: string, peerId: string, reason: 'left', metadata: EventMetadata): Promise<void>;
  closeIfOpen(room: string, reason: string, by: string): Promise<boolean>;
}

export interface CallReactionsDependencies {
  calls: Calls;
  directory: CallDirectory;
  presence: CallPresence;
  dispatcher: OfferDispatcher;
  rooms: CallRoomPort;
  runtime: ActorRuntime;
  connections: Pick<ItemModulePorts['connections'], 'get'>;
  items: ItemModulePorts['items'];
  logger: Pick<ItemModulePorts['logger'], 'error'>;
}

/** The reason a room closes with when its call ended (members hear `room-closed {room, reason}`). */
export const CALL_ROOM_CLOSED = 'call ended';
/** Room closes that are not an operator's: the call has its own account of them. */
const ROOM_CLOSES_OF_OUR_OWN: ReadonlySet<string> = new Set(['empty', 'gateway restarted', CALL_ROOM_CLOSED]);
/** Leaves after which the party's connection is taken out of the room (the others were the room's own doing). */
const LEAVES_THAT_EMPTY_A_SEAT: ReadonlySet<string> = new Set(['left', 'declined', 'returned', 'refused']);
/** Events after which the item's queued calls may be offered to an operator who just became free. */
const FREES_AN_OPERATOR: ReadonlySet<string> = new Set(['CallQueued', 'CallOfferExpired', 'CallReturned', 'CallLeft', 'CallEnded']);
const SYSTEM = { actor: 'system' };

/** What this process did for a live call: who it let into the room, and who heard they are in. */
interface LiveCall {
  admitted: Set<string>;
  told: Set<string>;
}

/**
 * The reactions to committed call events (PROTOCOL.md section 8), whichever process or path
 * committed them: the room follows the call (a joined party's connection is admitted, a
 * leaver's taken out, an ended call's room closed), pushes go to the parties' and operators'
 * connections with the event's log position as `seq`, offers are timed; and the call follows
 * its room (a member whose connection left it has left the call; a room an operator closed
 * ends its call), and its item (a removed item ends its calls). Live only (`now`): after a
 * restart there is no socket to tell, and recovery (Calls.recover) says so to every call.
 *
 * The work of one call runs in order (a queue per call): a party hears it is in the call only
 * after its connection is a member of the room, so its first relay is never refused.
 */
export class CallReactions {
  private readonly queues = new Map<string, Promise<void>>();
  private readonly live = new Map<string, LiveCall>();

  constructor(private readonly deps: CallReactionsDependencies) {}

  processor(): Processor {
    return {
      name: 'calls.reactions',
      startFrom: 'now',
      canHandle: (event) =>
        isCallEvent(event) ||
        (isRoomEvent(event) && (event.type === 'MemberLeft' || event.type === 'RoomClosed') && this.isLiveCall(event.data.room)) ||
        (isItineraryEvent(event) && (event.type === 'ItemRemoved' || event.type === 'ItineraryDeleted')),
      handle: (events) => this.handle(events),
    };
  }

  /** Waits until no reaction is pending (at shutdown, before the log closes); true when there was some. */
  async drain(): Promise<boolean> {
    if (this.queues.size === 0) return false;
    while (this.queues.size > 0) await Promise.allSettled([...this.queues.values()]);
    return true;
  }

  private isLiveCall(instance: string): boolean {
    return this.deps.runtime.snapshot(streamId(CALL_CATEGORY, instance)) !== undefined;
  }

  private handle(events: readonly RecordedEvent[]): void {
    const byCall = new Map<string, RecordedEvent[]>();
    let itemsRemovedAt: number | undefined;
    for (const event of events) {
      const instance = isCallEvent(event) ? event.data.instanceId : isRoomEvent(event) ? event.data.room : undefined;
      if (instance === undefined) {
        itemsRemovedAt = event.recordedAt;
        continue;
      }
      byCall.set(instance, [...(byCall.get(instance) ?? []), event]);
    }
    for (const [instance, ofCall] of byCall) this.enqueue(instance, () => this.react(instance, ofCall));
    if (itemsRemovedAt !== undefined) void this.endCallsOfRemovedItems(itemsRemovedAt).catch((error: unknown) => this.deps.logger.error({ err: error }, 'ending calls of removed items failed'));
  }

  private enqueue(instance: string, work: () => Promise<void>): void {
    const previous = this.queues.get(instance) ?? Promise.resolve();
    const next = previous
      .then(work)
      .catch((error: unknown) => this.deps.logger.error({ err: error, instance }, 'call reaction failed'))
      .finally(() => {
        if (this.queues.get(instance) === next) this.queues.delete(instance);
      });
    this.queues.set(instance, next);
  }

  private async react(instance: string, events: readonly RecordedEvent[]): Promise<void> {
    const call = this.deps.directory.get(instance);
    if (!call) return;
    let seq: number | undefined;
    let offerAgain = false;
    for (const event of events) {
      if (isCallEvent(event)) {
        await this.callEvent(call, event);
        seq = event.position;
        offerAgain ||= FREES_AN_OPERATOR.has(event.type);
      } else if (isRoomEvent(event) && event.type === 'MemberLeft') {
        // A member's connection left the room (it closed, or it left the room itself): it left the call.
        const reason = event.data.reason === 'left' ? 'left' : 'disconnected';
        await this.deps.calls.run(instance, { type: 'LeaveCall', by: { peerId: event.data.peerId }, reason, now: event.recordedAt }, SYSTEM);
      } else if (isRoomEvent(event) && event.type === 'RoomClosed' && !ROOM_CLOSES_OF_OUR_OWN.has(event.data.reason)) {
        // An operator closed the call's room (the room API): the call is over too, unless it ended meanwhile.
        const end = this.deps.calls.run(instance, { type: 'EndCall', by: event.data.by, operator: true, reason: 'room closed', now: event.recordedAt }, SYSTEM);
        await end.catch((error: unknown) => {
          if (!isAppError(error) || error.code !== 'CONFLICT') throw error;
        });
      }
    }
    if (seq !== undefined) this.tellActivated(instance, call, seq);
    if (offerAgain) void this.deps.dispatcher.dispatch(call.itemId);
  }

  private async callEvent(call: CallRecord, event: RecordedCallEvent): Promise<void> {
    const { itemId, instanceId: instance } = call;
    const seq = event.position;
    switch (event.type) {
      case 'CallRinging': {
        const data = { item: itemId, instance, mode: call.mode, from: event.data.by, name: this.deps.calls.nameOf(event.data.by) };
        this.push(event.data.parties.flatMap((party) => this.deps.presence.connectionsOf(itemId, party)), CALL_PUSHES.consumerIncoming, data, seq);
        return;
      }
      case 'CallJoined':
        await this.admit(call, event.data.party, event.data.peerId, event.data.joinedAt);
        return;
      case 'CallLeft': {
        const { peerId } = event.data;
        if (peerId === null) return;
        this.live.get(instance)?.admitted.delete(peerId);
        this.live.get(instance)?.told.delete(peerId);
        if (LEAVES_THAT_EMPTY_A_SEAT.has(event.data.reason)) await this.deps.rooms.remove(instance, peerId, 'left', SYSTEM);
        return;
      }
      case 'CallOffered': {
        this.deps.dispatcher.arm(instance, event.data.operator, event.data.expiresAt);
        const data = { item: itemId, instance, from: call.host, name: this.deps.calls.nameOf(call.host), callback: call.callback, expires_at: formatExtreamDateTime(event.data.expiresAt) };
        this.push(this.deps.presence.connectionsOf(itemId, event.data.operator), CALL_PUSHES.clientIncoming, data, seq);
        return;
      }
      case 'CallOfferExpired':
        this.deps.dispatcher.cancel(instance);
        return;
      case 'CallAssigned':
        this.deps.dispatcher.cancel(instance);
        this.push(this.deps.presence.operatorConnections(itemId), CALL_PUSHES.clientActivated, { item: itemId, instance, operator: event.data.operator, by: event.data.by }, seq);
        return;
      case 'CallReturned':
        // Whoever stays in the room hears it again, with its new peers, when an operator takes it next.
        this.live.get(instance)?.told.clear();
        this.push(this.deps.presence.operatorConnections(itemId), CALL_PUSHES.clientReturned, { item: itemId, instance, operator: event.data.operator, by: event.data.by }, seq);
        return;
      case 'CallbackRequested': {
        const data = { item: itemId, instance, user: event.data.party, name: this.deps.calls.nameOf(event.data.party) };
        this.push(this.deps.presence.operatorConnections(itemId), CALL_PUSHES.clientCallback, data, seq);
        return;
      }
      case 'CallEnded': {
        this.deps.dispatcher.cancel(instance);
        this.live.delete(instance);
        await this.deps.rooms.closeIfOpen(instance, CALL_ROOM_CLOSED, event.data.by);
        const parties = new Set([call.host, ...call.parties.map((party) => party.party)]);
        const recipients = [...[...parties].flatMap((party) => this.deps.presence.connectionsOf(itemId, party)), ...this.deps.presence.operatorConnections(itemId)];
        this.push(recipients, CALL_PUSHES.consumerCompleted, { item: itemId, instance, reason: event.data.reason }, seq);
        return;
      }
      default:
        return;
    }
  }

  /**
   * Lets a joined party's connection into the call's room. A connection that is gone, or now
   * speaks for someone else, has not joined: the call hears it left. (One gateway: a
   * connection it does not know is closed. A cluster will ask the node that holds it.)
   */
  private async admit(call: CallRecord, party: string, peerId: string, now: number): Promise<void> {
    const instance = call.instanceId;
    const connection = this.deps.connections.get(peerId);
    const gone = (reason: 'disconnected' | 'refused') => this.deps.calls.run(instance, { type: 'LeaveCall', by: { peerId }, reason, now }, SYSTEM);
    if (!connection || connection.closed) return void (await gone('disconnected'));
    if (partyOf(connection.principal) !== party) return void (await gone('refused'));
    try {
      await this.deps.rooms.admit(instance, connection, { itemId: call.itemId, payload: { user: party, name: this.deps.calls.nameOf(party) }, by: party, now }, SYSTEM);
    } catch (error) {
      this.deps.logger.error({ err: error, instance, peerId }, 'a call could not let its party into its room');
      return void (await gone('refused'));
    }
    // Closed while being admitted: its close found no room to leave, so it leaves this one now.
    if (connection.closed) {
      await this.deps.rooms.remove(instance, peerId, 'left', SYSTEM);
      return void (await gone('disconnected'));
    }
    let live = this.live.get(instance);
    if (!live) {
      live = { admitted: new Set(), told: new Set() };
      this.live.set(instance, live);
    }
    live.admitted.add(peerId);
  }

  /**
   * Once a call is active, each party this process let into its room hears it is in
   * (`consumer_webrtc_activated`, with the peers to signal), and the host and the operators
   * hear who joined (`client_webrtc_joined`); each once per time it joins.
   */
  private tellActivated(instance: string, call: CallRecord, seq: number): void {
    const live = this.live.get(instance);
    const snapshot = this.deps.runtime.snapshot<typeof callMachine>(streamId(CALL_CATEGORY, instance));
    if (!live || !snapshot || callStateOf(snapshot) !== 'active') return;
    const { context } = snapshot;
    const present = context.parties.filter((party) => party.status === 'joined' && party.peerId !== null && live.admitted.has(party.peerId));
    for (const party of present) {
      const peerId = party.peerId!;
      const connection = this.deps.connections.get(peerId);
      if (live.told.has(peerId) || !connection) continue;
      live.told.add(peerId);
      const peers = present.filter((other) => other !== party).map((other) => other.peerId!);
      const data = { item: call.itemId, instance, mode: context.mode, room: instance, peer_id: peerId, user: party.party, peers };
      connection.send({ event: CALL_PUSHES.consumerActivated, data, seq });
      if (party.party === context.host) continue;
      const watchers = new Set([...this.deps.presence.connectionsOf(call.itemId, context.host), ...this.deps.presence.operatorConnections(call.itemId)]);
      watchers.delete(connection);
      const joined = { item: call.itemId, instance, user: party.party, name: this.deps.calls.nameOf(party.party), peer_id: peerId };
      this.push(watchers, CALL_PUSHES.clientJoined, joined, seq);
    }
  }

  /** An item gone (removed, or its itinerary deleted) ends the calls that ran on it. */
  private async endCallsOfRemovedItems(now: number): Promise<void> {
    for (const itemId of this.deps.directory.itemsWithLiveCalls()) {
      if (this.deps.items.get(itemId)) continue;
      for (const call of this.deps.directory.live(itemId)) {
        await this.deps.calls.run(call.instanceId, { type: 'EndCall', by: 'system', operator: true, reason: 'item removed', now }, SYSTEM);
      }
    }
  }

  /** One push to many connections, encoded once per wire format (each connection once). */
  private push(connections: Iterable<ClientConnection>, event: string, data: unknown, seq: number): void {
    sendToAll(new Set(connections), { event, data, seq });
  }
}
