import { TOKEN_KINDS } from '../../auth/index.js';
import { isPlainObject, type InboundFrame, type OutboundFrame } from '../../protocol/index.js';
import type { ClientConnection } from '../index.js';

/**
 * The frames of `/socket.io/` as the rest of the gateway sees them: a Socket.IO event's
 * arguments, its namespace and ack, how a CONNECT's token finds its handler, and where a
 * push's `seq` goes. socketio-socket.ts turns packets into these and back.
 */

/**
 * Frame data that a Socket.IO connection sends as several event (or ack) arguments, on a
 * given namespace. Native connections see the arguments as an array.
 */
export class SocketIoArguments {
  constructor(
    readonly args: readonly unknown[],
    readonly namespace?: string,
  ) {}

  toJSON(): readonly unknown[] {
    return this.args;
  }
}

/**
 * An event name no client can send (the envelope allows only [A-Za-z0-9_.:-]): a frame
 * with it and an `id` is delivered as the ack alone, without an event.
 */
export const ACK_ONLY_EVENT = '\u0000ack';

/** What a Socket.IO frame carries beyond the native envelope. */
export interface SocketIoFrameDetails {
  /** Every argument of the event; `frame.data` is the first. */
  args: readonly unknown[];
  namespace: string;
}

export type SocketIoFrame = InboundFrame & { socketIo: SocketIoFrameDetails };

export function socketIoDetails(frame: InboundFrame): SocketIoFrameDetails | undefined {
  return (frame as Partial<SocketIoFrame>).socketIo;
}

/**
 * Answers a Socket.IO event's ack with these arguments and nothing else. Native frames
 * have no acks: for them this does nothing.
 */
export function acknowledge(connection: ClientConnection, frame: InboundFrame, args: readonly unknown[]): void {
  const details = socketIoDetails(frame);
  if (frame.id === undefined || !details) return;
  connection.send({ event: ACK_ONLY_EVENT, data: new SocketIoArguments(args, details.namespace), id: frame.id });
}

/** Events that, answering a CONNECT's token, accept the CONNECT. Any other answer refuses it. */
export const CONNECT_ACCEPTED: Readonly<Record<string, string>> = {
  authorize: 'authorized',
  'auth-request': 'auth-accept',
  authenticate: 'authenticated',
};

/**
 * Which event handles a CONNECT token, from its (unverified) `typ` header: this only picks
 * the handler, which verifies the token like any other. App tokens are Chat Signal's
 * `auth-request`, organisation tokens Extream's `authenticate`, the rest (user access
 * tokens, external providers' tokens) `authorize`.
 */
export function connectTokenEvent(token: string): 'authorize' | 'auth-request' | 'authenticate' {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot > 1024) return 'authorize';
  let typ: unknown;
  try {
    typ = (JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as { typ?: unknown }).typ;
  } catch {
    return 'authorize';
  }
  if (typ === TOKEN_KINDS.app.typ) return 'auth-request';
  if (typ === TOKEN_KINDS.organisation.typ) return 'authenticate';
  return 'authorize';
}

/**
 * A push's data as Socket.IO clients get it: a push from the log carries its `seq` inside its
 * data (PROTOCOL.md section 11), in a copy (a fan-out shares the frame). Data that is not a
 * plain object has nowhere to carry it.
 */
export function withSeq(frame: OutboundFrame): unknown {
  return frame.seq !== undefined && isPlainObject(frame.data) ? { ...frame.data, seq: frame.seq } : frame.data;
}
