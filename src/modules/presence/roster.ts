import type { Principal } from '../../core/index.js';
import { sendToAll, type ClientConnection } from '../../edge/index.js';
import type { UserType } from '../../protocol/topics/extream.js';
import { PRESENCE_PUSHES, type OnlineUserName, type OnlineUserProfile } from '../../protocol/topics/presence.js';
import type { ItemModulePorts } from '../itineraries/index.js';
import type { PresenceVisibility } from './projection.js';
import { seesProfilesAs, userIdOf, viewsOf } from './views.js';

export interface RosterDependencies {
  audiences: Pick<ItemModulePorts['audiences'], 'members' | 'eventsOf'>;
  events: ItemModulePorts['events'];
  users: ItemModulePorts['users'];
  visibility: Pick<PresenceVisibility, 'isVisible'>;
}

/** One user at one event, with the connections that make them so here and the other nodes where they are too. */
interface Attendee {
  readonly userId: string;
  readonly connections: Set<ClientConnection>;
  /** In a cluster: the other gateway nodes with a connection of this user on the event (PresenceExchange). */
  readonly nodes: Set<string>;
  /** The user's role in the event, read when they came and kept current from EventUserTypeSet. */
  userType: UserType;
  /** Whether the audience was last told this user is online here: a join pushed and no leave since. */
  announced: boolean;
}

/** The user a connection was counted as, and the events it is counted on. */
interface Counted {
  readonly userId: string;
  readonly events: Set<string>;
}

/**
 * Who is online at which event (PROTOCOL.md section 8): a user is online at an event while at
 * least one of its signed-in connections is in the event's audience (EventAudiences).
 *
 * Counting is per (event, user): a second tab adds a connection, not a join; the last one to
 * leave or close makes the leave. Pushes follow one rule, `sync`: the audience is told "join"
 * when the user becomes online-and-visible and "leave" when that stops, each exactly once
 * (`announced`), whichever of a join, a close, or a visibility change caused it, and in
 * whichever order a visibility change's commit and its push reach us.
 *
 * Signing in or out on a socket already on an event is recounted (`reconcile`) when identity
 * tells of it (onPrincipalChanged), and again, as a safety net, whenever the roster hears of
 * that connection: its next event join or leave, its next presence command, or an online list
 * of an event it is on. Views are always chosen by each recipient's principal at send time, so
 * a socket that signed out of a crew account never gets a profile again.
 *
 * In a cluster (PROTOCOL.md section 12) a user is online at an event while a connection of
 * theirs is on it on any node: the other nodes' users come from the PresenceExchange
 * (`remoteChanged`), and this node's own become theirs through `localListener`. Every node tells
 * its own sockets, by the same rule, so a user on two nodes is one join and one leave.
 *
 * Lifetime: in memory, like the sockets; an entry goes with the last connection (here or on
 * another node) that made it.
 */
export class PresenceRoster {
  private readonly byEvent = new Map<string, Map<string, Attendee>>();
  private readonly eventsByUser = new Map<string, Set<string>>();
  private readonly counted = new Map<ClientConnection, Counted>();
  /** Told when a user comes to be, or stops being, on an event through this node's connections (the exchange's input). */
  localListener: ((eventId: string, userId: string, present: boolean) => void) | undefined = undefined;

  constructor(private readonly deps: RosterDependencies) {}

  /** The (event, user) pairs made by this node's own connections: what the other nodes of a cluster hold of this one. */
  *localEntries(): Iterable<[eventId: string, userId: string]> {
    for (const [eventId, attendees] of this.byEvent) {
      for (const attendee of attendees.values()) if (attendee.connections.size > 0) yield [eventId, attendee.userId];
    }
  }

  /** Another node of the cluster has (or no longer has) a connection of the user on the event. */
  remoteChanged(node: string, eventId: string, userId: string, present: boolean): void {
    const attendee = present ? this.attendee(eventId, userId) : this.byEvent.get(eventId)?.get(userId);
    if (!attendee) return;
    if (present) attendee.nodes.add(node);
    else attendee.nodes.delete(node);
    this.dropIfGone(eventId, attendee);
    this.sync(eventId, attendee);
  }

  /** EventAudiences.onJoined: the connection is now in the event's audience. */
  joined(eventId: string, connection: ClientConnection): void {
    const userId = userIdOf(connection.principal);
    // Counted as someone else (or not at all) while it signed in: recounting covers this event too.
    if (this.counted.get(connection)?.userId !== userId) {
      this.recount(connection);
      return;
    }
    if (userId !== undefined) this.add(eventId, userId, connection);
  }

  /** EventAudiences.onLeft: the connection left the event's audience (a leave, an eviction, its close). */
  left(eventId: string, connection: ClientConnection): void {
    const counted = this.counted.get(connection);
    // Removed as whom it was counted, whoever it speaks for now (it may have signed out since).
    if (counted?.events.has(eventId)) this.remove(eventId, counted.userId, connection);
  }

  /** Recounts the connection when whom it speaks for changed since it was counted; true if it had. */
  reconcile(connection: ClientConnection): boolean {
    if (this.counted.get(connection)?.userId === userIdOf(connection.principal)) return false;
    this.recount(connection);
    return true;
  }

  /** The user's visibility changed (a committed PresenceVisibilitySet at `seq`): tell each event they are at. */
  visibilityChanged(userId: string, seq: number): void {
    for (const eventId of [...(this.eventsByUser.get(userId) ?? [])]) {
      const attendee = this.byEvent.get(eventId)?.get(userId);
      if (attendee) this.sync(eventId, attendee, seq);
    }
  }

  /** The user's role in the event changed (EventUserTypeSet): later views and lists use the new one. */
  userTypeChanged(eventId: string, userId: string, userType: UserType): void {
    const attendee = this.byEvent.get(eventId)?.get(userId);
    if (attendee) attendee.userType = userType;
  }

  /**
   * The users online at the event as `viewer` may see them: visible ones, and the viewer itself
   * even when hidden; names, or profiles for crew and chief. At most `max`, the viewer first.
   */
  list(eventId: string, viewer: ClientConnection, type: UserType | undefined, max: number): { users: (OnlineUserName | OnlineUserProfile)[]; total: number } {
    this.reconcileEvent(eventId);
    const event = this.deps.events.get(eventId);
    const attendees = this.byEvent.get(eventId);
    if (!event || !attendees) return { users: [], total: 0 };
    const profiles = this.seesProfiles(eventId, event.organisationId, viewer.principal);
    const viewerId = userIdOf(viewer.principal);
    const listed: Attendee[] = [];
    for (const attendee of attendees.values()) {
      if (type !== undefined && attendee.userType !== type) continue;
      if (attendee.userId === viewerId) listed.unshift(attendee);
      else if (this.deps.visibility.isVisible(attendee.userId)) listed.push(attendee);
    }
    const users = listed.slice(0, max).map((attendee) => {
      const views = viewsOf(this.deps.users, attendee.userId, attendee.userType);
      return profiles ? views.profile : views.name;
    });
    return { users, total: listed.length };
  }

  /** Sizes of the indexes, for the tests that check nothing leaks. */
  get size(): { events: number; users: number; connections: number } {
    return { events: this.byEvent.size, users: this.eventsByUser.size, connections: this.counted.size };
  }

  /** Recounts every member of the event whose principal changed since it was counted. */
  private reconcileEvent(eventId: string): void {
    // Iterating the live set: a push may close a slow member, and a Set's iteration is defined under deletion.
    for (const member of this.deps.audiences.members(eventId)) {
      if (!member.closed) this.reconcile(member);
    }
  }

  /** Uncounts the connection as whom it was counted, then counts it on its events as whom it speaks for now. */
  private recount(connection: ClientConnection): void {
    const counted = this.counted.get(connection);
    if (counted) for (const eventId of [...counted.events]) this.remove(eventId, counted.userId, connection);
    const userId = userIdOf(connection.principal);
    if (userId === undefined) return;
    for (const eventId of this.deps.audiences.eventsOf(connection)) this.add(eventId, userId, connection);
  }

  private attendee(eventId: string, userId: string): Attendee {
    let attendees = this.byEvent.get(eventId);
    if (!attendees) {
      attendees = new Map();
      this.byEvent.set(eventId, attendees);
    }
    let attendee = attendees.get(userId);
    if (!attendee) {
      attendee = { userId, connections: new Set(), nodes: new Set(), userType: this.deps.events.userTypeOf(eventId, userId), announced: false };
      attendees.set(userId, attendee);
      addTo(this.eventsByUser, userId, eventId);
    }
    return attendee;
  }

  /** Forgets an attendee nobody makes online any more, here or on another node. */
  private dropIfGone(eventId: string, attendee: Attendee): void {
    if (attendee.connections.size > 0 || attendee.nodes.size > 0) return;
    const attendees = this.byEvent.get(eventId);
    if (attendees?.get(attendee.userId) !== attendee) return;
    attendees.delete(attendee.userId);
    if (attendees.size === 0) this.byEvent.delete(eventId);
    removeFrom(this.eventsByUser, attendee.userId, eventId);
  }

  private add(eventId: string, userId: string, connection: ClientConnection): void {
    const attendee = this.attendee(eventId, userId);
    const wasHere = attendee.connections.size > 0;
    attendee.connections.add(connection);
    if (!wasHere) this.localListener?.(eventId, userId, true);
    let counted = this.counted.get(connection);
    if (!counted) {
      counted = { userId, events: new Set() };
      this.counted.set(connection, counted);
    }
    counted.events.add(eventId);
    this.sync(eventId, attendee);
  }

  private remove(eventId: string, userId: string, connection: ClientConnection): void {
    const counted = this.counted.get(connection);
    counted?.events.delete(eventId);
    if (counted?.events.size === 0) this.counted.delete(connection);
    const attendee = this.byEvent.get(eventId)?.get(userId);
    if (!attendee || !attendee.connections.delete(connection)) return;
    if (attendee.connections.size === 0) this.localListener?.(eventId, userId, false);
    this.dropIfGone(eventId, attendee);
    this.sync(eventId, attendee);
  }

  /** Tells the audience when the user's being online and visible here changed since it was last told. */
  private sync(eventId: string, attendee: Attendee, seq?: number): void {
    const online = (attendee.connections.size > 0 || attendee.nodes.size > 0) && this.deps.visibility.isVisible(attendee.userId);
    if (online === attendee.announced) return;
    attendee.announced = online;
    this.announce(eventId, attendee, online ? PRESENCE_PUSHES.join : PRESENCE_PUSHES.leave, seq);
  }

  /**
   * One push per view (names; profiles), each encoded once for its recipients: the event's
   * audience but the user's own connections (a user is not told of itself). A deleted event has
   * no audience left (dropEvent emptied it before telling us).
   */
  private announce(eventId: string, attendee: Attendee, pushEvent: string, seq: number | undefined): void {
    const members = this.deps.audiences.members(eventId);
    const event = members.size === 0 ? undefined : this.deps.events.get(eventId);
    if (!event) return;
    const names: ClientConnection[] = [];
    const profiles: ClientConnection[] = [];
    for (const member of members) {
      if (member.closed) continue;
      const principal = member.principal;
      if (principal.kind === 'user' && principal.userId === attendee.userId) continue;
      (this.seesProfiles(eventId, event.organisationId, principal) ? profiles : names).push(member);
    }
    if (names.length === 0 && profiles.length === 0) return;
    const views = viewsOf(this.deps.users, attendee.userId, attendee.userType);
    const frame = (user: OnlineUserName | OnlineUserProfile) => ({ event: pushEvent, data: { event: eventId, user, ...(seq === undefined ? {} : { seq }) }, seq });
    if (names.length > 0) sendToAll(names, frame(views.name));
    if (profiles.length > 0) sendToAll(profiles, frame(views.profile));
  }

  /**
   * Whether this principal sees profiles at the event: a user who is crew or chief there, or the
   * event's organisation's own credential (which holds every permission in it). Everyone else,
   * anonymous sockets of a public event included, sees names.
   */
  private seesProfiles(eventId: string, organisationId: string, principal: Principal): boolean {
    if (principal.kind === 'organisation') return principal.organisationId === organisationId;
    if (principal.kind !== 'user') return false;
    const userType = this.byEvent.get(eventId)?.get(principal.userId)?.userType ?? this.deps.events.userTypeOf(eventId, principal.userId);
    return seesProfilesAs(userType);
  }
}

function addTo(index: Map<string, Set<string>>, key: string, value: string): void {
  let values = index.get(key);
  if (!values) {
    values = new Set();
    index.set(key, values);
  }
  values.add(value);
}

function removeFrom(index: Map<string, Set<string>>, key: string, value: string): void {
  const values = index.get(key);
  if (!values) return;
  values.delete(value);
  if (values.size === 0) index.delete(key);
}
