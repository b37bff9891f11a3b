import { sendToAll, type ClientConnection } from '../../edge/index.js';
import type { OutboundFrame } from '../../protocol/index.js';
import type { ChatReader } from './domain/index.js';

/**
 * A connection following a chat, as the pushes need it: who it reads as, whether that is a
 * moderator (reads restricted messages) or an operator (hears of round-robin chats). Worked
 * out when it joined and again when the item or the organisation's grants change (the
 * processors refresh it), so a push filters by property checks, never by queries.
 */
export interface ChatFollower extends ChatReader {
  /** The user behind the socket, when a user signed it in (for pushes to participants). */
  userId: string | null;
  /** The name its messages show (the username), looked up once, not per message. */
  name: string;
  operator: boolean;
}

/** What an instance's followers are followers of: its item, and where that lives. */
export interface FollowedItem {
  itemId: string;
  eventId: string;
  organisationId: string;
}

interface Instance extends FollowedItem {
  members: Map<ClientConnection, ChatFollower>;
}

const NOBODY: ReadonlyMap<ClientConnection, ChatFollower> = new Map();

/**
 * Which connections follow which chat instance (the item's own chat, or a conversation), so
 * its pushes reach them and nobody else.
 *
 * Lifetime: in memory only, like the sockets; a connection leaves every chat when it closes
 * (Connections.onClosed), an instance's entry goes with its last follower or its item.
 * Bounds: a connection follows at most `perConnection` instances (past it the one it opened
 * longest ago is dropped), so one socket cannot grow the maps without limit.
 */
export class ChatAudiences {
  private readonly byInstance = new Map<string, Instance>();
  /** Per connection, its instances in join order (a re-join moves one to the end): the eviction order. */
  private readonly byConnection = new Map<ClientConnection, Set<string>>();

  constructor(
    connections: { onClosed(listener: (connection: ClientConnection) => void): void },
    private readonly perConnection: number,
  ) {
    if (!Number.isInteger(perConnection) || perConnection < 1) throw new RangeError('chatInstancesPerConnection must be a positive integer');
    connections.onClosed((connection) => this.leaveAll(connection));
  }

  /**
   * Puts the connection on the instance as `follower` (a re-join updates it). A closed
   * connection (a closed socket, or an HTTP command's stand-in) is not joined: nothing would
   * ever remove it. Returns whether it is on the instance now.
   */
  join(instanceId: string, item: FollowedItem, connection: ClientConnection, follower: ChatFollower): boolean {
    if (connection.closed) return false;
    let instances = this.byConnection.get(connection);
    if (!instances) {
      instances = new Set();
      this.byConnection.set(connection, instances);
    }
    instances.delete(instanceId);
    instances.add(instanceId);
    let instance = this.byInstance.get(instanceId);
    if (!instance) {
      instance = { itemId: item.itemId, eventId: item.eventId, organisationId: item.organisationId, members: new Map() };
      this.byInstance.set(instanceId, instance);
    }
    instance.members.set(connection, follower);
    while (instances.size > this.perConnection) {
      const oldest = instances.values().next().value;
      if (oldest === undefined) break;
      this.leave(oldest, connection);
    }
    return true;
  }

  /** Takes the connection off the instance; returns whether it was on it. */
  leave(instanceId: string, connection: ClientConnection): boolean {
    const instances = this.byConnection.get(connection);
    if (!instances?.delete(instanceId)) return false;
    if (instances.size === 0) this.byConnection.delete(connection);
    this.removeMember(instanceId, connection);
    return true;
  }

  leaveAll(connection: ClientConnection): void {
    const instances = this.byConnection.get(connection);
    if (!instances) return;
    this.byConnection.delete(connection);
    for (const instanceId of instances) this.removeMember(instanceId, connection);
  }

  /** Empties an instance (it ended, or its item went). */
  drop(instanceId: string): void {
    const instance = this.byInstance.get(instanceId);
    if (!instance) return;
    this.byInstance.delete(instanceId);
    for (const connection of instance.members.keys()) {
      const instances = this.byConnection.get(connection);
      instances?.delete(instanceId);
      if (instances?.size === 0) this.byConnection.delete(connection);
    }
  }

  /** The followers of an instance now (a live view: copy it before awaiting while iterating). */
  followers(instanceId: string): ReadonlyMap<ClientConnection, ChatFollower> {
    return this.byInstance.get(instanceId)?.members ?? NOBODY;
  }

  follower(instanceId: string, connection: ClientConnection): ChatFollower | undefined {
    return this.byInstance.get(instanceId)?.members.get(connection);
  }

  /** Instances followed now, by item, event or organisation (to refresh or drop their followers). */
  instancesWhere(match: (entry: FollowedItem) => boolean): string[] {
    const found: string[] = [];
    for (const [instanceId, instance] of this.byInstance) if (match(instance)) found.push(instanceId);
    return found;
  }

  /** The item of a followed instance. */
  itemOf(instanceId: string): string | undefined {
    return this.byInstance.get(instanceId)?.itemId;
  }

  /** The instances a connection follows, oldest join first. */
  instancesOf(connection: ClientConnection): readonly string[] {
    return [...(this.byConnection.get(connection) ?? [])];
  }

  /**
   * One push to every follower, or to those `only` admits: encoded once per wire format
   * either way (sendToAll). Returns how many it reached.
   */
  push(instanceId: string, frame: OutboundFrame, only?: (follower: ChatFollower) => boolean): number {
    const instance = this.byInstance.get(instanceId);
    if (!instance) return 0;
    // A send can close a slow consumer, whose close listener then leaves this map mid-loop: a
    // Map's iteration is defined under deletion, so no copy of a large audience per push.
    if (!only) return sendToAll(instance.members.keys(), frame);
    const chosen: ClientConnection[] = [];
    for (const [connection, follower] of instance.members) if (only(follower)) chosen.push(connection);
    return chosen.length === 0 ? 0 : sendToAll(chosen, frame);
  }

  /** Sizes of the two indexes, for the tests that check nothing leaks. */
  get size(): { instances: number; connections: number } {
    return { instances: this.byInstance.size, connections: this.byConnection.size };
  }

  private removeMember(instanceId: string, connection: ClientConnection): void {
    const instance = this.byInstance.get(instanceId);
    if (!instance) return;
    instance.members.delete(connection);
    if (instance.members.size === 0) this.byInstance.delete(instanceId);
  }
}
