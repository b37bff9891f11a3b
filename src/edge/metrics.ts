import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Codec, Transport } from '../core/index.js';
import type { StoreObserver } from '../store/index.js';

/**
 * Prometheus metrics. Per-frame counts are kept in plain numbers and handed to prom-client
 * at scrape time: a labelled `inc()` per frame costs more than the rest of a relay.
 */
/** Sessions that moved between cluster nodes (the connections module's counts). */
export interface SessionMoveCounts {
  adopted: number;
  movedAway: number;
  pinned: number;
}

const NO_MOVES: SessionMoveCounts = { adopted: 0, movedAway: 0, pinned: 0 };

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly frames = {
    in: { json: 0, msgpack: 0 } as Record<Codec, number>,
    out: { json: 0, msgpack: 0 } as Record<Codec, number>,
  };
  readonly connections: Gauge<'transport' | 'codec'>;
  readonly errors: Counter<'code'>;
  readonly appendSeconds: Histogram;
  readonly appends: Counter;
  readonly batchSize: Histogram;
  readonly uncaught: Counter<'where'>;
  /** Resumes by outcome: `resumed` or the `resume-failed` reason (PROTOCOL.md section 11). */
  readonly resumes: Counter<'outcome'>;
  readonly detachedConnections: Gauge;
  private detachedCount: () => number = () => 0;
  private sessionMoves: () => SessionMoveCounts = () => NO_MOVES;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'switchyard_' });
    const frames = this.frames;
    const reported = { in: { json: 0, msgpack: 0 }, out: { json: 0, msgpack: 0 } };
    const framesCounter = (direction: 'in' | 'out') =>
      new Counter({
        name: `switchyard_frames_${direction}_total`,
        help: `WebSocket frames ${direction === 'in' ? 'received' : 'sent'}, by codec`,
        labelNames: ['codec'],
        registers: [this.registry],
        collect() {
          for (const codec of ['json', 'msgpack'] as const) {
            const delta = frames[direction][codec] - reported[direction][codec];
            if (delta > 0) this.inc({ codec }, delta);
            reported[direction][codec] = frames[direction][codec];
          }
        },
      });
    framesCounter('in');
    framesCounter('out');
    this.connections = new Gauge({
      name: 'switchyard_connections',
      help: 'Open WebSocket connections',
      labelNames: ['transport', 'codec'],
      registers: [this.registry],
    });
    this.errors = new Counter({
      name: 'switchyard_errors_total',
      help: 'Errors answered to clients, by stable code',
      labelNames: ['code'],
      registers: [this.registry],
    });
    this.appends = new Counter({
      name: 'switchyard_event_log_appends_total',
      help: 'Events committed to the event log',
      registers: [this.registry],
    });
    this.appendSeconds = new Histogram({
      name: 'switchyard_event_log_append_seconds',
      help: 'Time from append() to its commit, i.e. until the caller may acknowledge',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers: [this.registry],
    });
    this.uncaught = new Counter({
      name: 'switchyard_uncaught_errors_total',
      help: 'Exceptions that escaped every handler and were caught by the last-resort guard (each one is a bug)',
      labelNames: ['where'],
      registers: [this.registry],
    });
    this.resumes = new Counter({
      name: 'switchyard_resumes_total',
      help: 'Resume attempts by outcome: resumed, or the resume-failed reason',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    const metrics = this;
    this.detachedConnections = new Gauge({
      name: 'switchyard_detached_connections',
      help: 'Connections whose socket was cut, kept within their resume window',
      registers: [this.registry],
      collect() {
        this.set(metrics.detachedCount());
      },
    });
    new Gauge({
      name: 'switchyard_session_moves',
      help: 'In a cluster, since this node started: connections it adopted from another node, connections another node adopted from it, connections pinned to it',
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        const moves = metrics.sessionMoves();
        this.set({ kind: 'adopted' }, moves.adopted);
        this.set({ kind: 'moved_away' }, moves.movedAway);
        this.set({ kind: 'pinned' }, moves.pinned);
      },
    });
    this.batchSize = new Histogram({
      name: 'switchyard_event_log_batch_appends',
      help: 'Appends sharing one group-commit transaction',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000],
      registers: [this.registry],
    });
  }

  /** Counts the resumes of `connections` and reads its detached count at each scrape. */
  watchResumes(connections: { observe(observer: { resume(outcome: string): void }): void; readonly detachedCount: number; readonly moves: { readonly counts: SessionMoveCounts } }): void {
    connections.observe({ resume: (outcome) => this.resumes.inc({ outcome }) });
    this.detachedCount = () => connections.detachedCount;
    this.sessionMoves = () => connections.moves.counts;
  }

  connectionOpened(transport: Transport, codec: Codec): void {
    this.connections.inc({ transport, codec });
  }

  connectionClosed(transport: Transport, codec: Codec): void {
    this.connections.dec({ transport, codec });
  }

  readonly storeObserver: StoreObserver = {
    committed: (latencies, eventCount) => {
      this.appends.inc(eventCount);
      this.batchSize.observe(latencies.length);
      for (const seconds of latencies) this.appendSeconds.observe(seconds);
    },
  };

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
