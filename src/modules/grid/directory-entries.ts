import type { ReportedRoom, RoomId } from './domain/sfu.events.js';
import type { SfuStatus } from './domain/sfu.machine.js';
import { groupKeyOf, roomKey } from './domain/room-id.js';

/**
 * Load one more client adds to a server that has reported no clients yet, so reservations
 * still spread a burst over empty servers. With clients, the server's own load per client is used.
 */
export const DEFAULT_LOAD_PER_PEER = 0.001;

/** The one server that owns a room, as far as placement and licences are concerned. */
export interface RoomEntry {
  readonly key: string;
  readonly id: RoomId;
  readonly group: string | null;
  readonly customer: string;
  readonly server: string;
  peers: number;
  /** true: the server reported it; false: placed by Connect, not reported yet. */
  reported: boolean;
  updatedAt: number;
  /** A placement not reported by then stops counting (the room token's lifetime). Null once reported. */
  expiresAt: number | null;
  /** Set while the placement is being appended: callers for the same room wait for it. */
  pending: Promise<void> | null;
}

export interface ServerEntry {
  readonly address: string;
  status: SfuStatus;
  version: string | null;
  keyId: string | null;
  load: number;
  clients: number;
  registeredAt: number | null;
  lastSeenAt: number | null;
  pendingTasks: number;
  reports: number;
  collisions: number;
  /** Owner entries on this server. */
  readonly rooms: Set<RoomEntry>;
  /** Peers promised by Connect since the server's last report, by customer. */
  readonly reservedPeers: Map<string, number>;
  reservedTotal: number;
}

export type { Usage } from './domain/licence.js';

/** A server the directory has not seen before: its state comes from `loadServer`. */
export function newServerEntry(address: string, status: SfuStatus): ServerEntry {
  return {
    address,
    status,
    version: null,
    keyId: null,
    load: 0,
    clients: 0,
    registeredAt: null,
    lastSeenAt: null,
    pendingTasks: 0,
    reports: 0,
    collisions: 0,
    rooms: new Set(),
    reservedPeers: new Map(),
    reservedTotal: 0,
  };
}

type RoomClaim = Pick<RoomEntry, 'peers' | 'reported' | 'updatedAt' | 'expiresAt'> & { pending?: Promise<void> | null };

export function roomEntry(server: string, id: RoomId, customer: string, claim: RoomClaim): RoomEntry {
  return { key: roomKey(id), id, group: groupKeyOf(id), customer, server, ...claim, pending: claim.pending ?? null };
}

/** A room as a server reported it: it holds until the server stops reporting it, no expiry. */
export function reportedEntry(server: string, room: ReportedRoom, at: number): RoomEntry {
  return roomEntry(server, room.id, room.customer, { peers: room.peers, reported: true, updatedAt: at, expiresAt: null });
}
