import { Counter, Gauge, type Registry } from 'prom-client';

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

  constructor(registry: Registry, source: () => GridGaugeSource | undefined) {
    this.rpcCalls = new Counter({
      name: 'switchyard_rpc_calls_total',
      help: 'JSON-RPC calls by endpoint, method and outcome (success, rejected: the caller\'s fault, failure: ours)',
      labelNames: ['endpoint', 'method', 'outcome'],
      registers: [registry],
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
