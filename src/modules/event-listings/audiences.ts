import { sendToAll, type ClientConnection } from '../../edge/index.js';
import type { OutboundFrame } from '../../protocol/index.js';
import type { Connections } from '../connections/index.js';

const NOBODY: ReadonlySet<ClientConnection> = new Set();

/**
 * Told when a connection newly joins, or leaves, an event's audience (presence counts users
 * from these). Called after the change, synchronously, from inside a join, a leave, a close or
 * an event's deletion: a listener must not throw, and must not join or leave itself.
 */
export type AudienceListener = (eventId: string, connection: ClientConnection) => void;

/**
 * Which connections are "on" an event: those that asked for it (`consumer_event_get {id}`, or
 * the itineraries module's `consumer_itinerary_get`), so pushes about the event
 * (`consumer_itinerary_update`) reach them and nobody else.
 *
 * Lifetime: in memory only, like the sockets it holds; a connection leaves every event when it
 * closes (Connections.onClosed), an event's audience goes when its last member leaves or the
 * event is deleted. Bounds: a connection is on at most `perConnection` events (past it the one
 * it joined or re-joined longest ago is dropped), so one socket cannot grow the maps without
 * limit by asking for event after event. Every membership that starts or ends, however it
 * ends, is told to the `onJoined` / `onLeft` listeners (presence counts from them).
 */
export class EventAudiences {
  private readonly byEvent = new Map<string, Set<ClientConnection>>();
  /** Per connection, its events in join order (a re-join moves one to the end): the eviction order. */
  private readonly byConnection = new Map<ClientConnection, Set<string>>();
  private readonly joinedListeners: AudienceListener[] = [];
  private readonly leftListeners: AudienceListener[] = [];

  constructor(
    connections: Pick<Connections, 'onClosed'>,
    private readonly perConnection: number,
    /** Told how long each push's send loop took, and to how many (the fan-out metric). */
    private readonly observePush?: (event: string, seconds: number, members: number) => void,
  ) {
    if (!Number.isInteger(perConnection) || perConnection < 1) throw new RangeError('eventSubscriptionsPerConnection must be a positive integer');
    connections.onClosed((connection) => this.leaveAll(connection));
  }

  /** Hears each new membership (a re-join of an event the connection is on is not one). */
  onJoined(listener: AudienceListener): void {
    this.joinedListeners.push(listener);
  }

  /** Hears each membership that ends: a leave, an eviction past the bound, a close, a deleted event. */
  onLeft(listener: AudienceListener): void {
    this.leftListeners.push(listener);
  }

  /**
   * Puts the connection on the event; idempotent (a second join only refreshes its place in
   * the eviction order). A connection already closed is not joined: its close has been heard,
   * so nothing would ever remove it. Returns whether it was newly joined.
   */
  join(eventId: string, connection: ClientConnection): boolean {
    if (connection.closed) return false;
    let events = this.byConnection.get(connection);
    if (!events) {
      events = new Set();
      this.byConnection.set(connection, events);
    }
    const already = events.delete(eventId);
    events.add(eventId);
    if (already) return false;
    let members = this.byEvent.get(eventId);
    if (!members) {
      members = new Set();
      this.byEvent.set(eventId, members);
    }
    members.add(connection);
    while (events.size > this.perConnection) {
      const oldest = events.values().next().value;
      if (oldest === undefined) break;
      this.leave(oldest, connection);
    }
    this.told(this.joinedListeners, eventId, connection);
    return true;
  }

  /** Takes the connection off the event; returns whether it was on it. */
  leave(eventId: string, connection: ClientConnection): boolean {
    const events = this.byConnection.get(connection);
    if (!events?.delete(eventId)) return false;
    if (events.size === 0) this.byConnection.delete(connection);
    this.removeMember(eventId, connection);
    this.told(this.leftListeners, eventId, connection);
    return true;
  }

  /** Takes the connection off every event (it closed, or signed out of them). */
  leaveAll(connection: ClientConnection): void {
    const events = this.byConnection.get(connection);
    if (!events) return;
    this.byConnection.delete(connection);
    for (const eventId of events) {
      this.removeMember(eventId, connection);
      this.told(this.leftListeners, eventId, connection);
    }
  }

  /** Empties the event's audience (it was deleted: nothing will be pushed about it again). */
  dropEvent(eventId: string): void {
    const members = this.byEvent.get(eventId);
    if (!members) return;
    this.byEvent.delete(eventId);
    for (const connection of members) {
      const events = this.byConnection.get(connection);
      events?.delete(eventId);
      if (events?.size === 0) this.byConnection.delete(connection);
    }
    // After the whole audience is gone: a listener's push about the event reaches nobody.
    for (const connection of members) this.told(this.leftListeners, eventId, connection);
  }

  /** The connections on the event now (a live view: copy it before awaiting while iterating). */
  members(eventId: string): ReadonlySet<ClientConnection> {
    return this.byEvent.get(eventId) ?? NOBODY;
  }

  /** The events the connection is on, oldest join first. */
  eventsOf(connection: ClientConnection): readonly string[] {
    return [...(this.byConnection.get(connection) ?? [])];
  }

  /** Sends one push to everyone on the event, encoded once per wire format; returns how many it reached. */
  push(eventId: string, frame: OutboundFrame): number {
    const members = this.byEvent.get(eventId);
    if (!members) return 0;
    // A send can close a slow consumer, whose close listener then leaves this set mid-loop:
    // a Set's iteration is defined under deletion (a removed member is just not visited), so
    // no copy of a 5,000-member audience per push.
    if (!this.observePush) return sendToAll(members, frame);
    const started = performance.now();
    const sent = sendToAll(members, frame);
    this.observePush(frame.event, (performance.now() - started) / 1000, sent);
    return sent;
  }

  /** Sizes of the two indexes, for metrics and for the tests that check nothing leaks. */
  get size(): { events: number; connections: number } {
    return { events: this.byEvent.size, connections: this.byConnection.size };
  }

  private told(listeners: readonly AudienceListener[], eventId: string, connection: ClientConnection): void {
    for (const listener of listeners) listener(eventId, connection);
  }

  private removeMember(eventId: string, connection: ClientConnection): void {
    const members = this.byEvent.get(eventId);
    if (!members) return;
    members.delete(connection);
    if (members.size === 0) this.byEvent.delete(eventId);
  }
}
