import type { Codec, Transport } from '../../../core/index.js';

export type { Codec, Transport };

export interface ConnectionOpenedData {
  connectionId: string;
  codec: Codec;
  transport: Transport;
  remoteAddress: string;
  userAgent: string | null;
  origin: string | null;
  openedAt: number;
  /**
   * The gateway process that opened it (its resume tokens name it): a token naming an earlier
   * process of this log is from before a restart (PROTOCOL.md section 11). Absent in events
   * written before resume existed.
   */
  node?: string;
  /**
   * In a cluster: the SHA-256 (base64url) of the resume token's secret, so that after a node
   * loss another node can check a token for this connection (PROTOCOL.md section 12); the
   * secret itself never enters the log.
   */
  resumeDigest?: string;
}

/**
 * In a cluster: the connection holds state only its node's memory has (an event's audience, a
 * chat follow: anything but its session and rooms), recorded before the first topic that makes
 * it; such a connection cannot be resumed on another node after a node loss.
 */
export interface ConnectionPinnedData {
  connectionId: string;
  /** The first topic that made the state. */
  topic: string;
  pinnedAt: number;
}

/** The socket was lost; the connection stays, resumable until `until` (PROTOCOL.md section 11). */
export interface ConnectionDetachedData {
  connectionId: string;
  /** How the socket ended: 1006 for a cut, or the server's session-keeping close (4008, 4408). */
  code: number;
  reason: string;
  framesIn: number;
  framesOut: number;
  detachedAt: number;
  until: number;
}

/** A new socket took the connection over: the connection (and its peer_id) lives on there. */
export interface ConnectionResumedData {
  connectionId: string;
  /** The connection the new socket opened as; its stream ends with ConnectionClosed naming this one. */
  carrier: string;
  remoteAddress: string;
  /** The last seq the client had seen, and how many kept pushes were replayed after it. */
  since: number;
  /** True when the connection still had its old socket (the client noticed the cut first): that socket was closed with 4509. */
  replacedSocket: boolean;
  resumedAt: number;
  /**
   * In a cluster: the node that holds the connection from now on, and the digest of its new
   * resume secret. A node other than the one before: the connection's node was lost and this
   * one adopted it (PROTOCOL.md section 12).
   */
  node?: string;
  resumeDigest?: string;
}

export interface ConnectionClosedData {
  connectionId: string;
  codec: Codec;
  code: number;
  reason: string;
  /** true when the gateway found the connection open (or detached) at start: it died with the process. */
  unclean: boolean;
  framesIn: number;
  framesOut: number;
  closedAt: number;
  /** On a resuming socket's own connection: the connection it resumed (its socket lives on as that one's). */
  resumedConnection?: string;
}

export type ConnectionEvent =
  | { type: 'ConnectionOpened'; data: ConnectionOpenedData }
  | { type: 'ConnectionDetached'; data: ConnectionDetachedData }
  | { type: 'ConnectionResumed'; data: ConnectionResumedData }
  | { type: 'ConnectionPinned'; data: ConnectionPinnedData }
  | { type: 'ConnectionClosed'; data: ConnectionClosedData };

export const CONNECTION_CATEGORY = 'connection';

/**
 * Every ConnectionEvent type, for the operator's event catalogue (`switchyard events --types`);
 * `satisfies` fails to compile when the union gains a type not listed here.
 */
export const CONNECTION_EVENT_TYPES = Object.keys({
  ConnectionOpened: true,
  ConnectionDetached: true,
  ConnectionResumed: true,
  ConnectionPinned: true,
  ConnectionClosed: true,
} satisfies Record<ConnectionEvent['type'], true>) as readonly ConnectionEvent['type'][];
