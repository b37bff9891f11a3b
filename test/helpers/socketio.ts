import { io as ioV4, type Socket as V4Socket } from 'socket.io-client';
import ioV2, { type V2Socket } from 'socket.io-client-v2';

/**
 * Real socket.io clients (4.x and 2.x from npm) for tests of `/socket.io/`. Each client
 * records every event it receives, so tests wait on conditions ("the next `pong`")
 * instead of sleeping. The bounds are hang guards, not timing claims.
 */

export type { V2Socket, V4Socket };

export interface ReceivedEvent {
  event: string;
  args: unknown[];
}

export class EventLog {
  readonly events: ReceivedEvent[] = [];
  private waiters: (() => void)[] = [];

  push(event: string, args: unknown[]): void {
    this.events.push({ event, args });
    this.wake();
  }

  /** Resolves with (and removes) the first recorded event matching, waiting for it as needed. */
  async next(match: string | ((event: ReceivedEvent) => boolean), timeoutMs = 10_000): Promise<ReceivedEvent> {
    const predicate = typeof match === 'string' ? (event: ReceivedEvent) => event.event === match : match;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.events.findIndex(predicate);
      if (index !== -1) return this.events.splice(index, 1)[0]!;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out waiting for an event; have ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Wakes waiters of `next` and of `until` (call after any state change a test waits on). */
  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Waits until `condition` holds, re-checking whenever anything is recorded or `wake` is called. */
  async until(condition: () => boolean, description: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`condition never held: ${description}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

export interface V4Client {
  socket: V4Socket;
  log: EventLog;
}

export interface V2Client {
  socket: V2Socket;
  log: EventLog;
}

const origin = (port: number) => `http://127.0.0.1:${port}`;

/** A 4.x client on `namespace`; resolves once connected, rejects with the connect_error. */
export function connectV4(
  port: number,
  options: { auth?: Record<string, unknown>; query?: Record<string, string>; namespace?: string; transports?: string[] } = {},
): Promise<V4Client> {
  const socket = ioV4(`${origin(port)}${options.namespace ?? ''}`, {
    transports: options.transports ?? ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.query ? { query: options.query } : {}),
  });
  const log = new EventLog();
  socket.onAny((event: string, ...args: unknown[]) => log.push(event, args));
  socket.on('disconnect', () => log.wake());
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve({ socket, log }));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/**
 * A 2.x client; resolves once connected, rejects with the first `error` event (a refused
 * CONNECT reaches 2.x clients as `error`, with the refusal's data).
 */
export function connectV2(port: number, options: { query?: Record<string, string>; namespace?: string } = {}): Promise<V2Client> {
  const socket = ioV2(`${origin(port)}${options.namespace ?? ''}`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(options.query ? { query: options.query } : {}),
  });
  const log = new EventLog();
  // 2.x has no onAny: record at the packet, before the client's own dispatch.
  const onevent = socket.onevent.bind(socket);
  socket.onevent = (packet) => {
    const [event, ...args] = (packet.data ?? []) as [string, ...unknown[]];
    log.push(event, args);
    onevent(packet);
  };
  socket.on('disconnect', () => log.wake());
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve({ socket, log }));
    socket.once('error', (error: unknown) => {
      socket.close();
      reject(Object.assign(new Error('socket.io 2.x connect refused'), { data: error }));
    });
    socket.once('connect_error', (error: unknown) => {
      socket.close();
      reject(error);
    });
  });
}

/**
 * Emits with an ack from a 2.x client, also for the names 2.x keeps for itself (`ping`,
 * `pong`, `error`...: its `emit` fires those locally instead of sending them). Resolves
 * with the ack's first argument.
 */
export function emitWithAckV2(socket: V2Socket, event: string, ...args: unknown[]): Promise<unknown> {
  return new Promise((resolve) => {
    const id = socket.ids++;
    socket.acks[id] = (...answer: unknown[]) => resolve(answer[0]);
    socket.packet({ type: 2, data: [event, ...args], id });
  });
}

/** Sends an event from a 2.x client without an ack, whatever its name. */
export function emitV2(socket: V2Socket, event: string, ...args: unknown[]): void {
  socket.packet({ type: 2, data: [event, ...args] });
}
