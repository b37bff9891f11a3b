import { Counter, Gauge, type Registry } from 'prom-client';

/** Calls by endpoint and method, as plain counts kept by the grid. */
export type CallCountSource = () => Iterable<[endpoint: string, method: string, counts: Record<'success' | 'failure' | 'rejected', number>]>;

export interface GridGaugeSource {
  serverCounts(): Record<string, number>;
  roomCount(): number;
  pendingTaskCount(): number;
  customerCount(): number;
}

/**
 * Metrics of the room API and the grid, registered on the gateway's registry. Gauges are
 * read from the grid at scrape time rather than kept in step on every change.
 */
export class GridMetrics {
  readonly rpcCalls: Counter<'endpoint' | 'method' | 'outcome'>;
  readonly customerApiFailures: Counter;
  readonly customerApiUpdates: Counter;
  readonly tokenRefusals: Counter<'reason'>;

  constructor(registry: Registry, source: () => GridGaugeSource | undefined, calls: CallCountSource) {
    // Counted in plain numbers per call and handed over at scrape time: a labelled inc() on
    // every Connect costs more than a lookup in the directory.
    const reported = new Map<string, number>();
    this.rpcCalls = new Counter({
      name: 'switchyard_rpc_calls_total',
      help: 'JSON-RPC calls by endpoint, method and outcome (success, rejected: the caller\'s fault, failure: ours)',
      labelNames: ['endpoint', 'method', 'outcome'],
      registers: [registry],
      collect() {
        for (const [endpoint, method, counts] of calls()) {
          for (const outcome of ['success', 'failure', 'rejected'] as const) {
            const key = `${endpoint} ${method} ${outcome}`;
            const delta = counts[outcome] - (reported.get(key) ?? 0);
            if (delta > 0) this.inc({ endpoint, method, outcome }, delta);
            reported.set(key, counts[outcome]);
          }
        }
      },
    });
    this.customerApiFailures = new Counter({
      name: 'switchyard_customer_api_failures_total',
      help: 'Customer API fetches that failed; the last good customer list stays in force',
      registers: [registry],
    });
    this.customerApiUpdates = new Counter({
      name: 'switchyard_customer_api_updates_total',
      help: 'Customer API fetches that replaced the customer list',
      registers: [registry],
    });
    this.tokenRefusals = new Counter({
      name: 'switchyard_rpc_token_refusals_total',
      help: 'Room API tokens refused, by reason (the client only ever sees "invalid token")',
      labelNames: ['reason'],
      registers: [registry],
    });
    new Gauge({
      name: 'switchyard_sfu_servers',
      help: 'SFU servers known to the grid, by state',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const counts = source()?.serverCounts() ?? {};
        for (const state of ['registered', 'active', 'disabled', 'removed']) this.set({ state }, counts[state] ?? 0);
      },
    });
    new Gauge({
      name: 'switchyard_sfu_rooms',
      help: 'Rooms placed on or reported by SFU servers',
      registers: [registry],
      collect() {
        this.set(source()?.roomCount() ?? 0);
      },
    });
    new Gauge({
      name: 'switchyard_sfu_tasks_pending',
      help: 'Room API tasks queued for SFU servers and not handed out yet',
      registers: [registry],
      collect() {
        this.set(source()?.pendingTaskCount() ?? 0);
      },
    });
    new Gauge({
      name: 'switchyard_customers',
      help: 'Room API customers in force (config, log and customer API together)',
      registers: [registry],
      collect() {
        this.set(source()?.customerCount() ?? 0);
      },
    });
  }
}
