import type { Codec, Transport } from './connection.events.js';

export interface OpenConnection {
  type: 'OpenConnection';
  connectionId: string;
  codec: Codec;
  transport: Transport;
  remoteAddress: string;
  userAgent: string | null;
  origin: string | null;
  /** The gateway process opening it (see ConnectionOpenedData.node). */
  node?: string;
  now: number;
}

export interface DetachConnection {
  type: 'DetachConnection';
  code: number;
  reason: string;
  framesIn: number;
  framesOut: number;
  /** When the resume window ends. */
  until: number;
  now: number;
}

export interface ResumeConnection {
  type: 'ResumeConnection';
  carrier: string;
  remoteAddress: string;
  since: number;
  replacedSocket: boolean;
  now: number;
}

export interface CloseConnection {
  type: 'CloseConnection';
  code: number;
  reason: string;
  unclean?: boolean;
  framesIn: number;
  framesOut: number;
  /** Set when the socket lives on as the connection it resumed. */
  resumedConnection?: string;
  now: number;
}

export type ConnectionCommand = OpenConnection | DetachConnection | ResumeConnection | CloseConnection;
