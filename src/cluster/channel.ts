import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { ClusterLogger } from './nats.js';
import { assertNodeId, isNodeId } from './nodes.js';

/**
 * A broadcast channel between the gateway nodes of a cluster (PROTOCOL.md section 12), for
 * state that lives in memory on each node and that the others need a copy of: who is online
 * at an event, say. It is core NATS on `sy.channel.<name>`, not JetStream: such state is not
 * in the log (it ends with the sockets that make it), a node that missed a message asks for
 * every node's whole state again (`hello`), and a late copy is worth nothing.
 *
 * Each message is JSON `{node, body}`; a node never hears its own. Only cluster members can
 * publish (the NATS servers require the cluster credentials), and what arrives is still
 * parsed defensively: unreadable JSON, a missing or malformed node id, or a message past
 * `maxMessageBytes` is counted and dropped, and a handler that throws is counted; nothing
 * throws out of the subscription.
 *
 * Ordering: NATS keeps the order of one publisher's messages on one subject, so a node's
 * messages arrive in the order it sent them; across nodes there is no order, and the users of
 * a channel keep a per-node state for that reason.
 */

export const CHANNEL_SUBJECT_PREFIX = 'sy.channel.';
const CHANNEL_NAME = /^[a-z][a-z0-9-]{0,31}$/;
/** A NATS server's default max_payload, if it did not say. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

export type ChannelHandler = (from: string, body: unknown) => void;

export interface ChannelStats {
  published: number;
  received: number;
  /** Arrived unreadable (not JSON, no node id, too large) and dropped. */
  malformed: number;
  /** Messages the handler threw on. */
  handlerErrors: number;
  /** Publishes refused: too large for one NATS message, or after close. */
  dropped: number;
}

export interface ChannelOptions {
  logger?: ClusterLogger;
}

export class ClusterChannel {
  readonly stats: ChannelStats = { published: 0, received: 0, malformed: 0, handlerErrors: 0, dropped: 0 };
  private readonly subject: string;
  private subscription: Subscription | undefined;
  private closed = false;

  constructor(
    private readonly connection: NatsConnection,
    private readonly node: string,
    readonly name: string,
    private readonly options: ChannelOptions = {},
  ) {
    assertNodeId(node);
    if (!CHANNEL_NAME.test(name)) throw new Error(`channel name ${JSON.stringify(name)} must match ${CHANNEL_NAME}`);
    this.subject = `${CHANNEL_SUBJECT_PREFIX}${name}`;
  }

  /** The largest message the NATS server takes: a user of the channel splits its state below it. */
  get maxMessageBytes(): number {
    return this.connection.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  }

  /** Starts delivering the other nodes' messages to `handler`; once. */
  subscribe(handler: ChannelHandler): void {
    if (this.subscription) throw new Error(`channel ${this.name} is already subscribed`);
    this.subscription = this.connection.subscribe(this.subject, {
      callback: (error, message) => {
        if (error === null) this.receive(message, handler);
      },
    });
  }

  /** Sends `body` to every other node; false when it could not go (too large, closed). */
  publish(body: unknown): boolean {
    if (this.closed || this.connection.isClosed()) {
      this.stats.dropped += 1;
      return false;
    }
    const bytes = Buffer.from(JSON.stringify({ node: this.node, body }));
    if (bytes.length > this.maxMessageBytes) {
      this.stats.dropped += 1;
      this.options.logger?.warn({ channel: this.name, bytes: bytes.length }, 'cluster channel message too large: dropped');
      return false;
    }
    try {
      this.connection.publish(this.subject, bytes);
    } catch (error) {
      // Closing or draining: the node is leaving, and the others will hear it is lost.
      this.stats.dropped += 1;
      this.options.logger?.warn({ channel: this.name, err: error }, 'cluster channel publish failed');
      return false;
    }
    this.stats.published += 1;
    return true;
  }

  /** Called after the connection to NATS came back: messages sent meanwhile are lost, so the user resynchronises. */
  onReconnected(listener: () => void): void {
    void (async () => {
      for await (const status of this.connection.status()) {
        if (this.closed) return;
        if (status.type === 'reconnect') listener();
      }
    })().catch((error: unknown) => this.options.logger?.warn({ channel: this.name, err: error }, 'cluster channel status watch ended'));
  }

  close(): void {
    this.closed = true;
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  private receive(message: Msg, handler: ChannelHandler): void {
    const envelope = parseEnvelope(message.data, this.maxMessageBytes);
    if (!envelope) {
      this.stats.malformed += 1;
      return;
    }
    if (envelope.node === this.node) return;
    this.stats.received += 1;
    try {
      handler(envelope.node, envelope.body);
    } catch (error) {
      this.stats.handlerErrors += 1;
      this.options.logger?.warn({ channel: this.name, from: envelope.node, err: error }, 'cluster channel handler failed');
    }
  }
}

function parseEnvelope(data: Uint8Array, maxBytes: number): { node: string; body: unknown } | undefined {
  if (data.length > maxBytes) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const { node, body } = parsed as { node?: unknown; body?: unknown };
  if (typeof node !== 'string' || !isNodeId(node)) return undefined;
  return { node, body };
}
