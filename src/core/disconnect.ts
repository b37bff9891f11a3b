/**
 * Every way the server ends a socket, in one catalogue (PROTOCOL.md section 2): the close
 * code, the reason sent in the close frame, and whether the client should reconnect. Code
 * closes a socket with one of these, never with a free code and string, so the SDK and the
 * docs can list them all and a client knows from the code alone whether to come back.
 *
 * 1000-1011 are RFC 6455's; 4000-4499 tell the client it may reconnect, 4500-4999 that it
 * should not (PROTOCOL.md section 2).
 */
export interface Disconnect {
  readonly code: number;
  readonly reason: string;
  readonly reconnect: boolean;
  /**
   * A socket the server ends this way is one the client lost rather than one it was sent
   * away from (a missed heartbeat, a reader that fell behind): an authenticated connection
   * stays resumable within its window (PROTOCOL.md section 11), as after a network cut.
   */
  readonly keepsSession?: true;
}

const define = <const T extends Record<string, Disconnect>>(catalogue: T): T => catalogue;

export const DISCONNECT = define({
  /** The client asked to leave (Socket.IO: it left `/` or closed its Engine.IO session). */
  clientLeft: { code: 1000, reason: 'client closed the session', reconnect: false },
  shuttingDown: { code: 1001, reason: 'server shutting down', reconnect: true },
  frameTooLarge: { code: 1009, reason: 'frame too large', reconnect: true },
  internal: { code: 1011, reason: 'server error', reconnect: true },
  /** The client did not read fast enough: its buffer passed `maxBackpressureBytes`. */
  slowConsumer: { code: 4008, reason: 'slow consumer: backpressure limit exceeded', reconnect: true, keepsSession: true },
  rateLimited: { code: 4029, reason: 'relay rate limit exceeded', reconnect: true },
  badFrames: { code: 4400, reason: 'too many bad frames', reconnect: true },
  authTimeout: { code: 4401, reason: 'not authenticated in time', reconnect: true },
  /** Socket.IO: a heartbeat came late, or no namespace was joined within the connect timeout. */
  timeout: { code: 4408, reason: 'timed out', reconnect: true, keepsSession: true },
  userDisabled: { code: 4501, reason: 'user disabled', reconnect: false },
  kicked: { code: 4503, reason: 'session ended by an operator', reconnect: false },
  /** Another socket resumed this connection (PROTOCOL.md section 11): it lives on there. */
  resumedElsewhere: { code: 4509, reason: 'session resumed on another socket', reconnect: false },
});

export type DisconnectName = keyof typeof DISCONNECT;

/** Whether a client closed with `code` should reconnect: every code not in 4500-4999 but a normal close. */
export function reconnectAllowed(code: number): boolean {
  if (code === 1000) return false;
  return code < 4500 || code > 4999;
}
