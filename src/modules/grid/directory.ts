import type { RoomCollision } from './domain/sfu.commands.js';
import type { ReportedRoom, RoomId } from './domain/sfu.events.js';
import type { SfuContext, SfuStatus } from './domain/sfu.machine.js';
import { groupKeyOf, roomKey } from './domain/room-id.js';
import { DEFAULT_LOAD_PER_PEER, newServerEntry, reportedEntry, roomEntry, type RoomEntry, type ServerEntry, type Usage } from './directory-entries.js';

export { DEFAULT_LOAD_PER_PEER, type RoomEntry, type ServerEntry, type Usage } from './directory-entries.js';

/**
 * The grid as placement and licence checks see it: every server, and for every room the one
 * server that owns it. It is an in-memory index of the SFU streams (rebuilt from the actors'
 * state at start, then kept current by a processor of their events, sfu-streams.ts) plus
 * reservations that are not events: peers promised by Connect until the server's next
 * report, and room placements while their append is in flight. Checks and reservations are synchronous, so two Connects
 * can never both take the last free room of a customer.
 */
export class GridDirectory {
  private readonly servers = new Map<string, ServerEntry>();
  private readonly rooms = new Map<string, RoomEntry>();
  private readonly byCustomer = new Map<string, Set<RoomEntry>>();
  /** group key -> server -> rooms of the group it owns. */
  private readonly groups = new Map<string, Map<string, number>>();
  /** customer -> server -> reserved peers (mirror of ServerEntry.reservedPeers). */
  private readonly reservations = new Map<string, Map<string, number>>();
  private activeCache: ServerEntry[] | null = null;

  /** Replaces what the directory knows about a server with its stream's state. */
  loadServer(address: string, status: SfuStatus, context: SfuContext, now: number): ServerEntry {
    let server = this.servers.get(address);
    if (!server) {
      server = newServerEntry(address, status);
      this.servers.set(address, server);
    }
    if (server.status !== status) this.activeCache = null;
    server.status = status;
    server.version = context.version;
    server.keyId = context.keyId;
    server.load = context.load;
    server.clients = context.clients;
    server.registeredAt = context.registeredAt;
    server.lastSeenAt = context.lastSeenAt;
    server.pendingTasks = context.tasks.length;
    server.reports = context.reports;
    server.collisions = context.collisions;
    // Placements still being appended are not in the stream yet: keep them.
    for (const entry of [...server.rooms]) if (entry.pending === null) this.detach(entry);
    if (status === 'removed' || status === 'unregistered') {
      this.clearReservations(address);
      return server;
    }
    for (const room of context.rooms) this.offer(server, reportedEntry(address, room, context.lastSeenAt ?? now));
    for (const placed of context.placed) {
      if (placed.expiresAt <= now) continue;
      this.offer(server, roomEntry(address, placed.id, placed.customer, { peers: 0, reported: false, updatedAt: placed.placedAt, expiresAt: placed.expiresAt }));
    }
    return server;
  }

  server(address: string): ServerEntry | undefined {
    return this.servers.get(address);
  }

  serverList(): ServerEntry[] {
    return [...this.servers.values()];
  }

  roomList(now: number): RoomEntry[] {
    return [...this.rooms.values()].filter((entry) => this.counts(entry, now) || !this.isActive(entry.server));
  }

  isActive(address: string): boolean {
    return this.servers.get(address)?.status === 'active';
  }

  /** The owner of a room if it is on an active server and (if only placed) not expired. */
  owner(id: RoomId, now: number): RoomEntry | undefined {
    const entry = this.rooms.get(roomKey(id));
    return entry && this.counts(entry, now) ? entry : undefined;
  }

  /** Whether the directory has `address` as the room's server (placed, pending or reported). */
  isOn(address: string, id: RoomId): boolean {
    return this.rooms.get(roomKey(id))?.server === address;
  }

  /** Any owner, whatever its server's state: room API calls still reach a disabled server. */
  host(id: RoomId, now: number): RoomEntry | undefined {
    const entry = this.rooms.get(roomKey(id));
    if (!entry) return undefined;
    const status = this.servers.get(entry.server)?.status;
    if (status === 'removed' || status === 'unregistered') return undefined;
    if (!entry.reported && entry.expiresAt !== null && entry.expiresAt <= now) return undefined;
    return entry;
  }

  /** The active server already holding rooms of this room's `{tag}` group, if any. */
  groupServer(id: RoomId): string | undefined {
    const group = groupKeyOf(id);
    if (group === null) return undefined;
    let best: string | undefined;
    let bestCount = 0;
    for (const [address, count] of this.groups.get(group) ?? []) {
      if (count > bestCount && this.isActive(address)) {
        best = address;
        bestCount = count;
      }
    }
    return best;
  }

  /**
   * Reported load plus what was promised since the last report: a burst of Connects between
   * two reports would otherwise all go to whichever server looked emptiest.
   */
  projectedLoad(address: string): number {
    const server = this.servers.get(address);
    if (!server) return Number.POSITIVE_INFINITY;
    const load = Math.min(Math.max(server.load, 0), 1);
    const perPeer = server.clients > 0 ? load / server.clients : DEFAULT_LOAD_PER_PEER;
    return load + server.reservedTotal * Math.max(perPeer, DEFAULT_LOAD_PER_PEER);
  }

  activeServers(): ServerEntry[] {
    this.activeCache ??= [...this.servers.values()].filter((server) => server.status === 'active');
    return this.activeCache;
  }

  /** Rooms and peers a customer holds on active servers, reservations included. */
  usage(customer: string, now: number): Usage {
    let rooms = 0;
    let peers = 0;
    for (const entry of this.byCustomer.get(customer) ?? []) {
      if (!this.counts(entry, now)) continue;
      rooms += 1;
      peers += entry.peers;
    }
    for (const [address, reserved] of this.reservations.get(customer) ?? []) {
      if (this.isActive(address)) peers += reserved;
    }
    return { rooms, peers };
  }

  reservePeer(address: string, customer: string): void {
    const server = this.servers.get(address);
    if (!server) return;
    server.reservedPeers.set(customer, (server.reservedPeers.get(customer) ?? 0) + 1);
    server.reservedTotal += 1;
    let byServer = this.reservations.get(customer);
    if (!byServer) {
      byServer = new Map();
      this.reservations.set(customer, byServer);
    }
    byServer.set(address, (byServer.get(address) ?? 0) + 1);
  }

  /** Takes back a peer reserved for a Connect that then failed. */
  releasePeer(address: string, customer: string): void {
    const server = this.servers.get(address);
    const reserved = server?.reservedPeers.get(customer) ?? 0;
    if (!server || reserved === 0) return;
    if (reserved === 1) server.reservedPeers.delete(customer);
    else server.reservedPeers.set(customer, reserved - 1);
    server.reservedTotal -= 1;
    const byServer = this.reservations.get(customer)!;
    if (reserved === 1) byServer.delete(address);
    else byServer.set(address, reserved - 1);
    if (byServer.size === 0) this.reservations.delete(customer);
  }

  /** A report counts the clients that joined: the peers promised before it are settled. */
  clearReservations(address: string): void {
    const server = this.servers.get(address);
    if (!server) return;
    for (const customer of server.reservedPeers.keys()) {
      const byServer = this.reservations.get(customer);
      byServer?.delete(address);
      if (byServer?.size === 0) this.reservations.delete(customer);
    }
    server.reservedPeers.clear();
    server.reservedTotal = 0;
  }

  /** Takes a room for a server before its placement is appended; `settle` with the outcome. */
  reserveRoom(address: string, id: RoomId, customer: string, now: number, expiresAt: number, pending: Promise<void>): RoomEntry {
    const server = this.servers.get(address);
    if (!server) throw new Error(`unknown SFU server ${address}`);
    const existing = this.rooms.get(roomKey(id));
    if (existing) this.detach(existing);
    const entry = roomEntry(address, id, customer, { peers: 0, reported: false, updatedAt: now, expiresAt, pending });
    this.attach(server, entry);
    return entry;
  }

  /** The placement is in the log (`placed`) or failed to get there: undo the reservation. */
  settleRoom(entry: RoomEntry, placed: boolean): void {
    entry.pending = null;
    if (!placed && this.rooms.get(entry.key) === entry) this.detach(entry);
  }

  /**
   * Splits a report's rooms into those the server may own and collisions: rooms an active
   * server other than the reporter owns. Rooms nobody owns are claimed for the reporter at
   * once, so two servers reporting the same new room in the same moment cannot both own it.
   */
  claimReported(address: string, rooms: readonly ReportedRoom[], now: number): RoomCollision[] {
    const server = this.servers.get(address);
    const collisions: RoomCollision[] = [];
    for (const room of rooms) {
      const owner = this.owner(room.id, now);
      if (owner && owner.server !== address) {
        collisions.push({ room: room.id, customer: room.customer, owner: owner.server });
      } else if (!owner && server && server.status === 'active') {
        const stale = this.rooms.get(roomKey(room.id));
        if (stale) this.detach(stale);
        this.attach(server, reportedEntry(address, room, now));
      }
    }
    return collisions;
  }

  /** Whether an entry holds its room now: its server is active and it is reported or unexpired. */
  private counts(entry: RoomEntry, now: number): boolean {
    if (!this.isActive(entry.server)) return false;
    return entry.reported || (entry.expiresAt !== null && entry.expiresAt > now);
  }

  /**
   * Adds an entry unless another server holds the room with a better claim: an active server
   * beats an inactive one, then the more recent claim wins. (Collisions between active
   * servers are resolved at report time; this settles what is left over, e.g. at start.)
   */
  private offer(server: ServerEntry, candidate: RoomEntry): void {
    const existing = this.rooms.get(candidate.key);
    if (existing && existing.server !== server.address) {
      const existingActive = this.isActive(existing.server);
      const candidateActive = server.status === 'active';
      if (existingActive && !candidateActive) return;
      if (existingActive === candidateActive && existing.updatedAt >= candidate.updatedAt) return;
    }
    if (existing) this.detach(existing);
    this.attach(server, candidate);
  }

  private attach(server: ServerEntry, entry: RoomEntry): void {
    this.rooms.set(entry.key, entry);
    server.rooms.add(entry);
    let owned = this.byCustomer.get(entry.customer);
    if (!owned) {
      owned = new Set();
      this.byCustomer.set(entry.customer, owned);
    }
    owned.add(entry);
    if (entry.group !== null) {
      let counts = this.groups.get(entry.group);
      if (!counts) {
        counts = new Map();
        this.groups.set(entry.group, counts);
      }
      counts.set(entry.server, (counts.get(entry.server) ?? 0) + 1);
    }
  }

  private detach(entry: RoomEntry): void {
    if (this.rooms.get(entry.key) === entry) this.rooms.delete(entry.key);
    this.servers.get(entry.server)?.rooms.delete(entry);
    const owned = this.byCustomer.get(entry.customer);
    owned?.delete(entry);
    if (owned?.size === 0) this.byCustomer.delete(entry.customer);
    if (entry.group !== null) {
      const counts = this.groups.get(entry.group);
      const count = (counts?.get(entry.server) ?? 0) - 1;
      if (count > 0) counts!.set(entry.server, count);
      else counts?.delete(entry.server);
      if (counts?.size === 0) this.groups.delete(entry.group);
    }
  }
}
