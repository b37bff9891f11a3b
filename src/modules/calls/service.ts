import { AppError, isAppError, streamId, type EventMetadata, type Principal } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import type { ActorRuntime } from '../../runtime/index.js';
import { requireCriteria, type ItemModulePorts, type JoinedItem } from '../itineraries/index.js';
import { loginRequired, type OrganisationAccess } from '../organisations/access.js';
import { CALL_CATEGORY, type CallCommand, type CallSnapshot } from './domain/index.js';
import { newInstanceId } from './instances.js';
import { configuredParticipants, maxParticipantsOf, memorableByDefault, modeOf, requireParty, type CallOperators } from './parties.js';
import type { CallPresence } from './presence.js';
import type { CallDirectory, CallRecord } from './projection.js';

/** Who issues a call command (the audit view's "who") and what ties its answers together. */
export interface CallContext {
  actor: string;
  connection?: string;
  correlationId?: string;
  now: number;
}

/** What a command did: the log position of its last event (undefined: nothing appended) and the call after it. */
export interface CallOutcome {
  position: number | undefined;
  call: CallRecord | undefined;
  created?: boolean;
}

/** The rooms module's part a call's room needs (RoomHost, structurally). */
export interface CallRoomsPort {
  state(room: string): { open: boolean };
}

export interface CallsServiceDependencies {
  runtime: ActorRuntime;
  directory: CallDirectory;
  presence: CallPresence;
  operators: CallOperators;
  access: OrganisationAccess;
  items: ItemModulePorts['items'];
  events: ItemModulePorts['events'];
  users: ItemModulePorts['users'];
  rooms: CallRoomsPort;
}

const INSTANCE_ATTEMPTS = 8;

const invalid = (path: string, message: string): AppError => new AppError('BAD_REQUEST', `${path}: ${message}`, { errors: [{ path, message }] });
const notFound = (path: string, message: string): AppError => new AppError('NOT_FOUND', message, { errors: [{ path, message }] });

/** A socket that can be in a room; an HTTP command's stand-in (closed from the start) cannot. */
function peerOf(client: ClientConnection): string | null {
  return client.closed ? null : client.id;
}

function requirePeer(client: ClientConnection): string {
  const peerId = peerOf(client);
  if (peerId === null) throw new AppError('BAD_REQUEST', 'joining a call needs a socket connection: send this over /ws or Socket.IO');
  return peerId;
}

/**
 * The calls of webrtc items (PROTOCOL.md section 8): what each topic does, resolved to one
 * command on the call's stream (`call-<instance>`) after the checks that need more than the
 * call's own state: the item, its event, its criteria, who operates it, who is connected.
 * The call's stream decides the rest (ringing, capacity, who took a queued call first).
 */
export class Calls {
  constructor(private readonly deps: CallsServiceDependencies) {}

  // ---- lookups and checks ----

  /** The webrtc item `id` names: NOT_FOUND unknown, BAD_REQUEST another type. */
  requireItem(itemId: string): JoinedItem {
    const item = this.deps.items.get(itemId);
    if (!item) throw notFound('id', 'unknown item');
    if (item.type !== 'webrtc') throw invalid('id', `calls run on webrtc items; this one is ${item.type}`);
    return item;
  }

  /** The item's call of that instance: NOT_FOUND for an unknown one or another item's. */
  requireCall(item: JoinedItem, instance: string): CallRecord {
    const call = this.deps.directory.get(instance);
    if (!call || call.itemId !== item.itemId) throw notFound('instance', 'no such call on this item');
    return call;
  }

  /**
   * What the item join checks before a consumer's call command: the event's doors (a private
   * event is for its organisation's members; a guest's invitation admits it) and the item's
   * participant criteria. Returns the caller's party.
   */
  admitConsumer(principal: Principal, item: JoinedItem): string {
    const party = requireParty(principal);
    if (principal.kind !== 'guest') {
      const event = this.deps.events.get(item.eventId);
      if (!event) throw notFound('id', 'unknown item');
      if (!event.public && !this.deps.access.isMember(principal, event.organisationId)) {
        if (principal.kind !== 'user' && principal.kind !== 'organisation') throw loginRequired(principal);
        throw new AppError('FORBIDDEN', "this event is for its organisation's members", { reason: 'unauthorized' });
      }
    }
    // requireItem made sure of the type; the criteria are a webrtc item's.
    requireCriteria(principal, { type: 'webrtc', configuration: item.configuration, organisationId: item.organisationId }, this.deps.access);
    return party;
  }

  /** Puts the connection on the item as the caller, with whether it operates the item's calls. */
  enter(client: ClientConnection, item: JoinedItem, party: string): void {
    this.deps.presence.enter(item.itemId, client, party, this.deps.operators.isOperator(client.principal, item));
  }

  nameOf(party: string): string | null {
    return party.includes(':') ? null : (this.deps.users.get(party)?.username ?? null);
  }

  /** The item's live group call, if one runs. */
  liveGroupCall(item: JoinedItem): CallRecord | undefined {
    return this.deps.directory.live(item.itemId).find((call) => call.mode === 'group');
  }

  /** The live call the party started on the item (one at a time per caller). */
  ownLiveCall(item: JoinedItem, party: string): CallRecord | undefined {
    return this.deps.directory.live(item.itemId).find((call) => call.host === party && call.mode !== 'group');
  }

  /** The party's most recent live call on the item (hosted, rung or joined), else the item's group call. */
  currentCall(item: JoinedItem, party: string | undefined): CallRecord | undefined {
    if (party !== undefined) {
      const own = this.deps.directory.ofParty(item.itemId, party, 0)[0];
      if (own) return own;
    }
    return modeOf(item) === 'group' ? this.liveGroupCall(item) : undefined;
  }

  // ---- consumer commands ----

  /**
   * `consumer_webrtc_start`: instant rings the participants, round-robin queues for the
   * operators, group joins the running call (or waits for its host). A caller with a live call
   * of its own on the item gets that one back, rejoined through this connection if need be.
   */
  async start(client: ClientConnection, item: JoinedItem, request: { participants?: string[] | undefined; memorable: boolean }, context: CallContext): Promise<CallOutcome> {
    const party = this.admitConsumer(client.principal, item);
    this.enter(client, item, party);
    const mode = modeOf(item);
    if (mode === 'group') {
      const live = this.liveGroupCall(item);
      // Before the host starts, a start only waits on the item (it is let in with the others).
      if (!live) return { position: undefined, call: undefined };
      return this.run(live.instanceId, { type: 'JoinCall', party, peerId: requirePeer(client), role: 'participant', now: context.now }, context);
    }
    const own = this.ownLiveCall(item, party);
    if (own) {
      const peerId = peerOf(client);
      const joined = own.parties.some((entry) => entry.party === party && entry.status === 'joined');
      if (peerId === null || joined) return { position: undefined, call: own, created: false };
      return this.run(own.instanceId, { type: 'JoinCall', party, peerId, role: 'host', now: context.now }, context);
    }
    const ring = mode === 'instant' ? this.ringList(item, party, request.participants) : [];
    return this.open(item, { mode, host: party, hostPeerId: peerOf(client), ring, waiting: [], callback: false }, request.memorable, context);
  }

  /** `consumer_webrtc_callback`: the caller's queued call asks to be called back; without one, a new call does. */
  async requestCallback(client: ClientConnection, item: JoinedItem, context: CallContext): Promise<CallOutcome> {
    const party = this.admitConsumer(client.principal, item);
    this.enter(client, item, party);
    if (modeOf(item) !== 'round-robin') throw invalid('id', 'callbacks are for round-robin items');
    const own = this.ownLiveCall(item, party);
    if (own) return this.run(own.instanceId, { type: 'RequestCallback', party, now: context.now }, context);
    return this.open(item, { mode: 'round-robin', host: party, hostPeerId: peerOf(client), ring: [], waiting: [], callback: true }, false, context);
  }

  /** `consumer_webrtc_accept`: a rung party joins (in a group call, anyone the criteria admit). */
  async accept(client: ClientConnection, item: JoinedItem, instance: string, context: CallContext): Promise<CallOutcome> {
    const party = this.admitConsumer(client.principal, item);
    this.enter(client, item, party);
    const call = this.requireCall(item, instance);
    return this.run(call.instanceId, { type: 'AcceptCall', party, peerId: requirePeer(client), now: context.now }, context);
  }

  /** `consumer_webrtc_leave`: the caller leaves (a rung party declines). */
  async leave(client: ClientConnection, item: JoinedItem, instance: string, context: CallContext): Promise<CallOutcome> {
    const party = requireParty(client.principal);
    const call = this.requireCall(item, instance);
    return this.run(call.instanceId, { type: 'LeaveCall', by: { party }, reason: 'left', now: context.now }, context);
  }

  /** `consumer_webrtc_end` / `client_webrtc_end`: a member (or an operator of the item) ends the call for everyone. */
  async end(client: ClientConnection, item: JoinedItem, instance: string, context: CallContext): Promise<CallOutcome> {
    const party = requireParty(client.principal);
    const call = this.requireCall(item, instance);
    const operator = this.deps.operators.isOperator(client.principal, item);
    return this.run(call.instanceId, { type: 'EndCall', by: party, operator, reason: 'ended', now: context.now }, context);
  }

  // ---- operator commands (the caller is checked an operator by the topic) ----

  /** `client_webrtc_start`: the host lets everyone waiting on a group item in, up to max_participants. */
  async startGroup(client: ClientConnection, item: JoinedItem, host: string, context: CallContext): Promise<CallOutcome> {
    if (modeOf(item) !== 'group') throw invalid('id', `client_webrtc_start starts group calls; this item's calls are ${modeOf(item)}`);
    const hostPeerId = requirePeer(client);
    if (this.liveGroupCall(item)) throw new AppError('CONFLICT', "this item's group call runs already");
    const waiting = this.deps.presence.waiting(item.itemId).map(({ party, connection }) => ({ party, peerId: connection.id }));
    return this.open(item, { mode: 'group', host, hostPeerId, ring: [], waiting, callback: false }, memorableByDefault(item), context);
  }

  /** `client_webrtc_activate` (the operator takes it) and `client_webrtc_assign` (hands it to `operator`). */
  async assign(item: JoinedItem, instance: string, operator: { party: string; peerId: string }, by: string, context: CallContext): Promise<CallOutcome> {
    const call = this.requireCall(item, instance);
    const caller = this.deps.presence.latestOf(item.itemId, call.host);
    const command: CallCommand = { type: 'AssignCall', operator: operator.party, operatorPeerId: operator.peerId, callerPeerId: caller?.id ?? null, by, now: context.now };
    return this.run(call.instanceId, command, context);
  }

  /** The connection through which an operator named by `client_webrtc_assign` joins: its newest on the item. */
  presentOperator(item: JoinedItem, party: string): { party: string; peerId: string } {
    if (!this.deps.operators.isOperatorParty(party, item)) throw invalid('operator', "not an operator of this item's calls");
    const connection = this.deps.presence.latestOf(item.itemId, party);
    if (!connection) throw new AppError('CONFLICT', 'that operator is not on this item now (client_webrtc_get first)');
    return { party, peerId: connection.id };
  }

  async recall(item: JoinedItem, instance: string, by: string, context: CallContext): Promise<CallOutcome> {
    const call = this.requireCall(item, instance);
    return this.run(call.instanceId, { type: 'RecallCall', by, now: context.now }, context);
  }

  /** `client_webrtc_callback`: the operator joins a queued call and rings its caller back. */
  async callBack(client: ClientConnection, item: JoinedItem, target: { instance?: string | undefined; user?: string | undefined }, operator: string, context: CallContext): Promise<CallOutcome> {
    const peerId = requirePeer(client);
    const call = target.instance !== undefined ? this.requireCall(item, target.instance) : this.ownLiveCall(item, target.user!);
    if (!call) throw notFound('user', 'that user has no call waiting on this item');
    return this.run(call.instanceId, { type: 'CallBack', operator, operatorPeerId: peerId, now: context.now }, context);
  }

  // ---- the gateway's own commands ----

  /** Runs a command on a call's stream; the call as the read model has it afterwards. */
  async run(instance: string, command: CallCommand, context: CallContext | EventMetadata): Promise<CallOutcome> {
    const { now: _now, ...metadata } = context;
    const result = await this.deps.runtime.execute<CallSnapshot>(streamId(CALL_CATEGORY, instance), command, metadata);
    return { position: result.events.at(-1)?.position, call: this.deps.directory.get(instance) };
  }

  /** After a restart nobody is connected: every live call is told so (RecoverCall). Returns how many changed. */
  async recover(now: number): Promise<number> {
    let changed = 0;
    for (const stream of this.deps.runtime.streams(CALL_CATEGORY)) {
      const result = await this.deps.runtime.execute(stream, { type: 'RecoverCall', now } satisfies CallCommand, { actor: 'system' });
      if (result.events.length > 0) changed += 1;
    }
    return changed;
  }

  // ---- helpers ----

  /** Whom an instant call rings: the start's participants, else the configuration's; known users only. */
  private ringList(item: JoinedItem, host: string, participants: string[] | undefined): string[] {
    const named = participants ?? configuredParticipants(item);
    named.forEach((user, index) => {
      if (!this.deps.users.get(user)) throw invalid(participants ? `participants.${index}` : 'id', `unknown user ${user}`);
    });
    const ring = [...new Set(named.filter((user) => user !== host))];
    if (ring.length === 0) throw invalid('participants', 'nobody to call: name participants (user ids) other than yourself');
    return ring;
  }

  /** Starts a call under a fresh instance; a memorable name that is taken is tried again with another. */
  private async open(
    item: JoinedItem,
    start: Pick<Extract<CallCommand, { type: 'StartCall' }>, 'mode' | 'host' | 'hostPeerId' | 'ring' | 'waiting' | 'callback'>,
    memorable: boolean,
    context: CallContext,
  ): Promise<CallOutcome> {
    for (let attempt = 1; ; attempt++) {
      if (attempt > INSTANCE_ATTEMPTS) throw new AppError('UNAVAILABLE', 'no free call name was found; try again');
      const instanceId = newInstanceId(memorable || memorableByDefault(item));
      // A room of section 5 open under that name is someone else's: never the call's.
      if (this.deps.rooms.state(instanceId).open) continue;
      const command: CallCommand = {
        type: 'StartCall',
        instanceId,
        itemId: item.itemId,
        organisationId: item.organisationId,
        maxParticipants: maxParticipantsOf(item),
        now: context.now,
        ...start,
      };
      try {
        return { ...(await this.run(instanceId, command, context)), created: true };
      } catch (error) {
        // The name has a stream already (memorable words repeat): another name.
        if (isAppError(error) && error.code === 'CONFLICT') continue;
        throw error;
      }
    }
  }
}
