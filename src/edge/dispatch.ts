import { AppError, isAppError, toPublicError, type ErrorCode } from '../core/index.js';
import type { Clock } from '../core/index.js';
import type { InboundFrame } from '../protocol/index.js';
import { runTopic, type AnyTopic } from '../runtime/index.js';
import type { ClientConnection } from './connection.js';
import type { GatewayMetrics } from './metrics.js';
import { countsAsBadFrame, topicErrorFrame } from './replies.js';

export interface DispatcherDependencies {
  metrics: GatewayMetrics;
  clock: Clock;
  /** A handler threw something that is not an AppError: a bug, logged with its topic. */
  onHandlerError(connection: ClientConnection, event: string, error: unknown): void;
  /**
   * In a cluster: before a topic that is not `portable`, what to wait for (the connection's
   * pin in the log, recorded once); undefined when there is nothing to wait for.
   */
  pin?: (connection: ClientConnection, topic: string) => Promise<unknown> | undefined;
}

export const unknownEvent = (event: string): AppError => new AppError('UNKNOWN_EVENT', `unknown event "${event}"`);

/**
 * The one dispatcher for every transport (`/ws`, `/socket.io/`, later raw sockets): a
 * decoded frame finds its topic, runs through the topic pipeline, and any error becomes the
 * topic's reply (edge/replies.ts), counted, and toward the bad-frame limit when it is the
 * client's fault. Synchronous topics stay synchronous: no promise or closure per frame.
 */
export class Dispatcher {
  private readonly topics = new Map<string, AnyTopic<ClientConnection>>();

  constructor(private readonly deps: DispatcherDependencies) {}

  add(topic: AnyTopic<ClientConnection>): this {
    if (this.topics.has(topic.name)) throw new Error(`topic ${topic.name} registered twice`);
    this.topics.set(topic.name, topic);
    return this;
  }

  has(event: string): boolean {
    return this.topics.has(event);
  }

  topic(event: string): AnyTopic<ClientConnection> | undefined {
    return this.topics.get(event);
  }

  get names(): string[] {
    return [...this.topics.keys()];
  }

  dispatch(connection: ClientConnection, frame: InboundFrame, now: number): void {
    // Counted before the topic runs: `resume` checks it is the first (PROTOCOL.md section 11).
    connection.framesDispatched += 1;
    const topic = this.topics.get(frame.event);
    if (!topic) {
      this.fail(connection, frame, unknownEvent(frame.event), now);
      return;
    }
    const pinning = topic.portable === true ? undefined : this.deps.pin?.(connection, topic.name);
    if (pinning !== undefined) {
      pinning.then(
        () => this.run(topic, connection, frame, this.deps.clock.now()),
        (error: unknown) => this.fail(connection, frame, error, this.deps.clock.now(), topic),
      );
      return;
    }
    this.run(topic, connection, frame, now);
  }

  private run(topic: AnyTopic<ClientConnection>, connection: ClientConnection, frame: InboundFrame, now: number): void {
    try {
      const result = runTopic(topic, connection, frame, now);
      // The rejection closure is made only for asynchronous topics: most answer at once,
      // and a closure per frame is an allocation on the hottest path.
      if (result instanceof Promise) result.catch((error: unknown) => this.fail(connection, frame, error, this.deps.clock.now(), topic));
    } catch (error) {
      this.fail(connection, frame, error, now, topic);
    }
  }

  /** Answers a frame that failed (before or inside its topic) and counts it. */
  fail(connection: ClientConnection, frame: Pick<InboundFrame, 'event' | 'data' | 'id'> | undefined, error: unknown, now: number, topic?: AnyTopic<ClientConnection>): ErrorCode {
    if (!isAppError(error)) this.deps.onHandlerError(connection, frame?.event ?? 'frame', error);
    const { code } = toPublicError(error);
    connection.send(topicErrorFrame(topic, error, frame?.id, frame?.data, connection));
    this.deps.metrics.errors.inc({ code });
    if (countsAsBadFrame(code, topic)) connection.countBadFrame(now);
    return code;
  }
}
