import { performance } from 'node:perf_hooks';
import { jetstream, JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager, type JetStreamPublishOptions } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { AppError } from '../core/index.js';

export type PublishExpectation = Partial<Pick<JetStreamPublishOptions, 'expect'>>;

/** One publish request's timeout; an unanswered one is sent again with the same Nats-Msg-Id. */
const ATTEMPT_TIMEOUT_MS = 1000;

/**
 * Publishes the log's messages and knows whether JetStream is answering: the connection is up
 * and the last publish (or probe) got an answer. A publish is retried with the same
 * Nats-Msg-Id until its deadline, so a lost acknowledgement never writes an append twice
 * (JetStream drops a repeated id within the stream's duplicate window and acknowledges the
 * first copy's sequence).
 */
export class LogPublisher {
  private readonly js: JetStreamClient;
  /** Set while NATS is disconnected, or since a publish went unanswered, until a probe gets through. */
  private failure: { at: number; error: unknown } | undefined;
  private disconnected = false;
  private probing = false;
  private readonly status: AsyncIterable<unknown>;

  constructor(
    private readonly connection: NatsConnection,
    private readonly manager: JetStreamManager,
    private readonly streamName: string,
    private readonly timeoutMs: number,
  ) {
    this.js = jetstream(connection);
    const status = connection.status();
    this.status = status;
    void (async () => {
      for await (const event of status) {
        if (event.type === 'disconnect') {
          this.disconnected = true;
          this.failure = { at: performance.now(), error: new Error('NATS disconnected') };
        } else if (event.type === 'reconnect') {
          // Connected again is not answering again: the stream may still be electing a
          // leader. The failure stays until a probe finds one.
          this.disconnected = false;
        }
      }
    })();
  }

  /** Connected to NATS: an append is worth trying (UNAVAILABLE at once otherwise). */
  get connected(): boolean {
    return !this.disconnected && !this.connection.isClosed();
  }

  /**
   * Whether JetStream takes publishes now. After a failure a probe (stream info, which needs
   * the stream's leader) is sent at most once a second: a node out of rotation gets no
   * appends that could show JetStream is back.
   */
  get healthy(): boolean {
    if (!this.connected) return false;
    if (this.failure === undefined) return true;
    this.probe();
    return false;
  }

  /** Publishes until JetStream answers; the JetStream sequence of the message. */
  async publish(subject: string, payload: Uint8Array, msgId: string, expectation: PublishExpectation, deadline: number): Promise<number> {
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - performance.now();
      if (remaining <= 0 || this.connection.isClosed()) {
        this.failure = { at: performance.now(), error: lastError };
        const failure = new AppError('UNAVAILABLE', `the event log did not acknowledge the append within ${this.timeoutMs} ms; it may or may not have been written`);
        failure.cause = lastError;
        throw failure;
      }
      try {
        const ack = await this.js.publish(subject, payload, { ...expectation, msgID: msgId, timeout: Math.max(1, Math.min(remaining, ATTEMPT_TIMEOUT_MS)) });
        this.failure = undefined;
        return ack.seq;
      } catch (error) {
        if (wrongLastSequence(error) !== undefined) throw error;
        // Timeouts, no responders (the stream electing a leader), a reconnect: all are retried
        // until the deadline, since the outcome of an unanswered publish is unknown.
        lastError = error;
        await delay(Math.min(deadline - performance.now(), 25 * 2 ** Math.min(attempt, 4)));
      }
    }
  }

  /** The stream's last sequence as its leader reports it. */
  async lastSequence(): Promise<number> {
    try {
      return (await this.manager.streams.info(this.streamName)).state.last_seq;
    } catch (error) {
      const failure = new AppError('UNAVAILABLE', 'the event log is unreachable: JetStream did not answer');
      failure.cause = error;
      throw failure;
    }
  }

  stop(): void {
    const stop: unknown = Reflect.get(this.status, 'stop');
    if (typeof stop === 'function') stop.call(this.status);
  }

  private probe(): void {
    const failure = this.failure;
    if (this.probing || !failure || performance.now() - failure.at < 1000) return;
    this.probing = true;
    this.manager.streams
      .info(this.streamName)
      .then(
        (info) => {
          // A single server has no cluster info; a cluster's stream needs a leader to take publishes.
          if (info.cluster !== undefined && !info.cluster.leader) throw new Error(`stream ${this.streamName} has no leader`);
          if (this.failure === failure && this.connected) this.failure = undefined;
        },
      )
      .catch((error: unknown) => {
        this.failure = { at: performance.now(), error };
      })
      .finally(() => {
        this.probing = false;
      });
  }
}

/**
 * For JetStream's "wrong last sequence" answer: the subject's actual last sequence it names
 * (0 when it names none), or undefined for any other error.
 */
export function wrongLastSequence(error: unknown): number | undefined {
  if (!(error instanceof JetStreamApiError)) return undefined;
  if (error.code !== JetStreamApiCodes.StreamWrongLastSequence && error.code !== JetStreamApiCodes.StreamWrongLastSequenceUnknown) return undefined;
  const named = /wrong last sequence: (\d+)/.exec(error.message);
  return named ? Number(named[1]) : 0;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
