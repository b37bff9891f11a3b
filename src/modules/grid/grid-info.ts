import type { Logger } from 'pino';
import type { CallOutcome } from '../../protocol/index.js';
import type { CustomerDirectory } from './customers.js';
import type { GridDirectory } from './directory.js';
import type { GridGaugeSource } from './metrics.js';

export interface CallCounters {
  /** Method names are unique across the two endpoints. */
  endpoint: 'public' | 'internal';
  success: number;
  failure: number;
  rejected: number;
}

/** Room API calls by method and outcome, for `Info` and the metrics (read at scrape time). */
export class CallStats {
  private readonly calls = new Map<string, CallCounters>();

  constructor(private readonly logger: Logger) {}

  /** Counts a call; logs failures (ours, not the caller's). */
  record(endpoint: 'public' | 'internal', call: CallOutcome): void {
    let counters = this.calls.get(call.method);
    if (!counters) {
      counters = { endpoint, success: 0, failure: 0, rejected: 0 };
      this.calls.set(call.method, counters);
    }
    counters[call.outcome] += 1;
    if (call.outcome === 'failure') this.logger.error({ err: call.error, method: call.method }, 'room API call failed');
  }

  entries(): [method: string, counters: CallCounters][] {
    return [...this.calls];
  }
}

const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());

/** The `Info` answer: servers, rooms, customers with their usage, and call counts. */
export function gridInfo(directory: GridDirectory, customers: CustomerDirectory, calls: CallStats, now: number): Record<string, unknown> {
  return {
    servers: directory.serverList().map((server) => ({
      address: server.address,
      version: server.version,
      state: server.status,
      disabled: server.status !== 'active',
      keyId: server.keyId,
      report: { load: server.load, clients: server.clients, rooms: [...server.rooms].filter((room) => room.reported).length },
      placedRooms: [...server.rooms].filter((room) => !room.reported).length,
      reservedPeers: server.reservedTotal,
      projectedLoad: server.status === 'active' ? directory.projectedLoad(server.address) : null,
      firstSeen: iso(server.registeredAt),
      lastSeen: iso(server.lastSeenAt),
      reports: server.reports,
      collisions: server.collisions,
      tasks: server.pendingTasks,
    })),
    rooms: directory.roomList(now).map((room) => ({
      id: room.id,
      customer: room.customer,
      server: room.server,
      state: room.reported ? 'reported' : 'placed',
      peers: room.peers,
      updated: iso(room.updatedAt),
    })),
    customers: customers.list().map((customer) => ({ ...customer, usage: directory.usage(customer.id, now) })),
    stats: { apiCalls: calls.entries().map(([name, { success, failure, rejected }]) => ({ name, success, failure, rejected })) },
  };
}

/** The grid's gauges, computed when /metrics is scraped. */
export function gridGauges(directory: GridDirectory, customers: CustomerDirectory, now: () => number): GridGaugeSource {
  return {
    serverCounts: () => {
      const counts: Record<string, number> = {};
      for (const server of directory.serverList()) counts[server.status] = (counts[server.status] ?? 0) + 1;
      return counts;
    },
    roomCount: () => directory.roomList(now()).length,
    pendingTaskCount: () => directory.serverList().reduce((sum, server) => sum + server.pendingTasks, 0),
    customerCount: () => customers.size,
  };
}
