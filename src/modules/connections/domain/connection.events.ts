import type { Codec, Transport } from '../../../core/types.js';

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
