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
}

export interface ConnectionClosedData {
  connectionId: string;
  codec: Codec;
  code: number;
  reason: string;
  /** true when the gateway found the connection open at start: it died with the process. */
  unclean: boolean;
  framesIn: number;
  framesOut: number;
  closedAt: number;
}

export type ConnectionEvent =
  | { type: 'ConnectionOpened'; data: ConnectionOpenedData }
  | { type: 'ConnectionClosed'; data: ConnectionClosedData };

export const CONNECTION_CATEGORY = 'connection';

/**
 * Every ConnectionEvent type, for the operator's event catalogue (`switchyard events --types`);
 * `satisfies` fails to compile when the union gains a type not listed here.
 */
export const CONNECTION_EVENT_TYPES = Object.keys({
  ConnectionOpened: true,
  ConnectionClosed: true,
} satisfies Record<ConnectionEvent['type'], true>) as readonly ConnectionEvent['type'][];
