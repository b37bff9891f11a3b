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
  /** In a cluster: the digest of the resume secret its `welcome` will carry. */
  resumeDigest?: string;
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
  /**
   * Only if the log shows the connection open on this node (a lost node's connection, detached
   * by the node taking over): decides nothing when another node adopted it meanwhile.
   */
  ifOnNode?: string;
  now: number;
}

export interface ResumeConnection {
  type: 'ResumeConnection';
  carrier: string;
  remoteAddress: string;
  since: number;
  replacedSocket: boolean;
  /** In a cluster: the node resuming it and the digest of its new secret (see ConnectionResumedData). */
  node?: string;
  resumeDigest?: string;
  /**
   * Only if the log shows the connection on this node (an adoption after a node loss): another
   * node that adopted it first makes this one a CONFLICT.
   */
  fromNode?: string;
  now: number;
}

export interface PinConnection {
  type: 'PinConnection';
  topic: string;
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
  /** Only if the log shows it on this node (a lost node's connection, ended by another): decides nothing once another node adopted it. */
  ifOnNode?: string;
  now: number;
}

export type ConnectionCommand = OpenConnection | DetachConnection | ResumeConnection | PinConnection | CloseConnection;
