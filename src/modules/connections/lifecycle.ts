import type { Clock } from '../../core/clock.js';
import { DISCONNECT } from '../../core/disconnect.js';
import { streamId } from '../../core/ids.js';
import type { ClientConnection } from '../../edge/connection.js';
import type { ActorRuntime, Scheduler } from '../../runtime/index.js';
import { CONNECTION_CATEGORY, type CloseConnection, type OpenConnection } from './domain/index.js';

export interface ConnectionsConfig {
  /** A socket not authenticated by then is closed with 4401; 0 = off. */
  authDeadlineSeconds: number;
}

export interface ConnectionsLogger {
  error(details: Record<string, unknown>, message: string): void;
}

export interface ConnectionsDependencies {
  runtime: ActorRuntime;
  clock: Clock;
  logger: ConnectionsLogger;
  scheduler: Scheduler;
  config: ConnectionsConfig;
}

export type ClosedListener = (connection: ClientConnection) => Promise<unknown> | void;

/**
 * Open sockets and their lifecycle in the log: `OpenConnection` when a socket opens (the
 * `welcome` goes out after its commit, so a client that saw it knows it is in the log),
 * `CloseConnection` when it closes, and the authentication deadline. Other modules find a
 * connection by id here and hear of closes through `onClosed`.
 */
export class Connections {
  private readonly open = new Map<string, ClientConnection>();
  private readonly closedListeners: ClosedListener[] = [];
  /** Commands in flight (opens, closes, listeners' work); shutdown waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly deps: ConnectionsDependencies) {}

  get(id: string): ClientConnection | undefined {
    return this.open.get(id);
  }

  get size(): number {
    return this.open.size;
  }

  all(): IterableIterator<ClientConnection> {
    return this.open.values();
  }

  onClosed(listener: ClosedListener): void {
    this.closedListeners.push(listener);
  }

  opened(connection: ClientConnection): void {
    const { info } = connection;
    const { clock, config, scheduler, runtime, logger } = this.deps;
    this.open.set(info.id, connection);
    if (config.authDeadlineSeconds > 0) {
      scheduler.at(deadlineKey(info.id), clock.now() + config.authDeadlineSeconds * 1000, () => {
        const kind = connection.principal.kind;
        if (kind === 'anonymous' || kind === 'mfa-pending') connection.close(DISCONNECT.authTimeout);
      });
    }
    const command: OpenConnection = {
      type: 'OpenConnection',
      connectionId: info.id,
      codec: info.codec,
      transport: info.transport,
      remoteAddress: info.remoteAddress,
      userAgent: info.userAgent,
      origin: info.origin,
      now: clock.now(),
    };
    this.track(runtime.execute(streamId(CONNECTION_CATEGORY, info.id), command, { actor: `connection:${info.id}` })).then(
      () => connection.send({ event: 'welcome', data: { peer_id: info.id, codec: info.codec, protocol: 1 } }),
      (error: unknown) => {
        logger.error({ err: error, connectionId: info.id }, 'could not record connection; closing it');
        connection.close(DISCONNECT.internal);
      },
    );
  }

  closed(connection: ClientConnection, code: number, reason: string): void {
    const { info } = connection;
    if (!this.open.delete(info.id)) return;
    this.deps.scheduler.cancel(deadlineKey(info.id));
    for (const listener of this.closedListeners) {
      const work = listener(connection);
      if (work instanceof Promise) this.track(work).catch((error: unknown) => this.deps.logger.error({ err: error, connectionId: info.id }, 'connection close reaction failed'));
    }
    const command: CloseConnection = {
      type: 'CloseConnection',
      code,
      reason,
      framesIn: connection.framesIn,
      framesOut: connection.framesOut,
      now: this.deps.clock.now(),
    };
    this.track(this.deps.runtime.execute(streamId(CONNECTION_CATEGORY, info.id), command, { actor: `connection:${info.id}` })).catch(
      (error: unknown) => this.deps.logger.error({ err: error, connectionId: info.id }, 'could not record connection close'),
    );
  }

  /** Closes every socket with 1001 (shutdown) and waits for what is in flight. */
  async closeAll(): Promise<void> {
    for (const connection of this.open.values()) connection.close(DISCONNECT.shuttingDown);
    await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Connections the log still shows open died with the last process (sockets do not
   * survive a restart): they are closed as unclean, so the audit trail has an end for every
   * connection. Returns how many.
   */
  async closeStale(): Promise<number> {
    const stale = this.deps.runtime.streams(CONNECTION_CATEGORY);
    const close: CloseConnection = {
      type: 'CloseConnection',
      code: 1006,
      reason: 'gateway restarted',
      unclean: true,
      framesIn: 0,
      framesOut: 0,
      now: this.deps.clock.now(),
    };
    await Promise.all(stale.map((stream) => this.deps.runtime.execute(stream, close, { actor: 'system' })));
    return stale.length;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const forget = () => this.inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }
}

const deadlineKey = (connectionId: string) => `auth-deadline:${connectionId}`;
