import type { Codec, Transport } from './connection.events.js';

export interface OpenConnection {
  type: 'OpenConnection';
  connectionId: string;
  codec: Codec;
  transport: Transport;
  remoteAddress: string;
  userAgent: string | null;
  origin: string | null;
  now: number;
}

export interface CloseConnection {
  type: 'CloseConnection';
  code: number;
  reason: string;
  unclean?: boolean;
  framesIn: number;
  framesOut: number;
  now: number;
}

export type ConnectionCommand = OpenConnection | CloseConnection;
