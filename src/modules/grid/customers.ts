import type { Logger } from 'pino';
import { decodePublicKey, keyIdOf, publicKeyObject, type OdinAccessKey, type OdinKeyLookup } from '../../auth/odin.js';
import { CUSTOMER_EVENT_TYPES, type CustomerEvent } from './domain/index.js';
import type { Licence } from './domain/index.js';
import type { EventStore, RecordedEvent } from '../../store/types.js';
import { customerListSchema, type CustomerConfig } from './grid-config.js';
import type { GridMetrics } from './metrics.js';

/** Where a customer definition came from; later sources override earlier ones' limits. */
export type CustomerSource = 'config' | 'log' | 'api';
const PRECEDENCE: readonly CustomerSource[] = ['config', 'log', 'api'];

export interface CustomerKeyDefinition {
  keyId: string;
  /** Raw Ed25519 public key. */
  publicKey: Buffer;
  namespace: string | null;
}

export interface CustomerDefinition extends Licence {
  id: string;
  keys: CustomerKeyDefinition[];
}

export interface CustomerView extends Licence {
  id: string;
  sources: CustomerSource[];
  keyIds: string[];
}

/** Turns the ODIN config / customer API format into definitions (input already validated). */
export function definitionsFromConfig(customers: readonly CustomerConfig[]): CustomerDefinition[] {
  return customers.map((customer) => ({
    id: customer.id,
    maxPeers: customer.maxPeers,
    maxRooms: customer.maxRooms,
    keys: customer.accessKeys.map((accessKey) => {
      const publicKey = decodePublicKey(accessKey.publicKey.x);
      return { keyId: keyIdOf(publicKey), publicKey, namespace: accessKey.namespace ?? null };
    }),
  }));
}

/**
 * The customers in force, merged from three sources: the config file, the event log
 * (`switchyard customers ...`) and the customer API. Limits of a customer defined in more
 * than one source come from the most dynamic one (API over log over config); keys are the
 * union. A key id claimed by two different customers is refused for both: guessing which
 * one is meant would hand one customer's rooms to the other.
 */
export class CustomerDirectory implements OdinKeyLookup {
  private readonly sources = new Map<CustomerSource, CustomerDefinition[]>();
  private keys = new Map<string, OdinAccessKey>();
  private customers = new Map<string, CustomerView>();
  private currentGeneration = 0;

  constructor(private readonly logger: Logger) {}

  get generation(): number {
    return this.currentGeneration;
  }

  key(keyId: string): OdinAccessKey | undefined {
    return this.keys.get(keyId);
  }

  licence(customerId: string): Licence | undefined {
    return this.customers.get(customerId);
  }

  list(): CustomerView[] {
    return [...this.customers.values()];
  }

  get size(): number {
    return this.customers.size;
  }

  setSource(source: CustomerSource, definitions: readonly CustomerDefinition[]): void {
    this.sources.set(source, [...definitions]);
    this.rebuild();
  }

  private rebuild(): void {
    const customers = new Map<string, CustomerView>();
    const claims = new Map<string, { key: CustomerKeyDefinition; customerId: string }[]>();
    for (const source of PRECEDENCE) {
      for (const definition of this.sources.get(source) ?? []) {
        const view = customers.get(definition.id);
        customers.set(definition.id, {
          id: definition.id,
          maxPeers: definition.maxPeers,
          maxRooms: definition.maxRooms,
          sources: [...(view?.sources ?? []), source],
          keyIds: view?.keyIds ?? [],
        });
        for (const key of definition.keys) {
          const list = claims.get(key.keyId) ?? [];
          list.push({ key, customerId: definition.id });
          claims.set(key.keyId, list);
        }
      }
    }
    const keys = new Map<string, OdinAccessKey>();
    for (const [keyId, list] of claims) {
      const owners = new Set(list.map((claim) => claim.customerId));
      if (owners.size > 1) {
        this.logger.error({ keyId, customers: [...owners] }, 'access key listed for more than one customer; refusing it for all of them');
        continue;
      }
      // The last source's entry wins for the namespace, like the limits.
      const { key, customerId } = list[list.length - 1]!;
      keys.set(keyId, { keyId, customerId, namespace: key.namespace ?? customerId, publicKey: publicKeyObject(key.publicKey) });
      customers.get(customerId)!.keyIds.push(keyId);
    }
    this.customers = customers;
    this.keys = keys;
    this.currentGeneration += 1;
  }
}

/**
 * Follows customer events in the log. The CLI appends them from another process while the
 * gateway runs, so the log is polled (a type-filtered read from the last position seen:
 * cheap when nothing changed) rather than only watched through this process's commits.
 */
export class CustomerLogFeed {
  private after = 0;
  private readonly customers = new Map<string, CustomerDefinition>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly directory: CustomerDirectory,
    private readonly pollMs = 1000,
  ) {}

  start(): void {
    this.poll();
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Reads new customer events; returns whether anything changed. */
  poll(): boolean {
    const head = this.store.headPosition();
    if (head <= this.after) return false;
    const events: RecordedEvent[] = [];
    for (const type of CUSTOMER_EVENT_TYPES) events.push(...this.store.readAll({ after: this.after, type }));
    events.sort((a, b) => a.position - b.position);
    for (const event of events) this.apply(event as unknown as CustomerEvent);
    this.after = head;
    if (events.length > 0) this.directory.setSource('log', [...this.customers.values()]);
    return events.length > 0;
  }

  private apply(event: CustomerEvent): void {
    switch (event.type) {
      case 'CustomerRegistered':
        this.customers.set(event.data.customerId, {
          id: event.data.customerId,
          maxPeers: event.data.maxPeers,
          maxRooms: event.data.maxRooms,
          keys: [],
        });
        break;
      case 'CustomerLimitsChanged': {
        const customer = this.customers.get(event.data.customerId);
        if (customer) Object.assign(customer, { maxPeers: event.data.maxPeers, maxRooms: event.data.maxRooms });
        break;
      }
      case 'CustomerKeyAdded': {
        const customer = this.customers.get(event.data.customerId);
        customer?.keys.push({ keyId: event.data.keyId, publicKey: decodePublicKey(event.data.publicKey), namespace: event.data.namespace });
        break;
      }
      case 'CustomerKeyRevoked': {
        const customer = this.customers.get(event.data.customerId);
        if (customer) customer.keys = customer.keys.filter((key) => key.keyId !== event.data.keyId);
        break;
      }
    }
  }
}

export interface CustomerApiOptions {
  url: string;
  intervalSeconds: number;
  token?: string | undefined;
  /** Per fetch; a hanging API must not stall the next round. */
  timeoutMs?: number;
  maxBytes?: number;
}

/**
 * Fetches the customer list from an HTTP API (GET, JSON in the ODIN customer format) every
 * interval. A failed or invalid answer changes nothing: the last good list stays in force,
 * the failure is logged and counted in `switchyard_customer_api_failures_total`.
 */
export class CustomerApiPoller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<boolean> | undefined;
  private stopped = false;
  lastSuccessAt: number | null = null;
  lastFailure: string | null = null;

  constructor(
    private readonly options: CustomerApiOptions,
    private readonly directory: CustomerDirectory,
    private readonly logger: Logger,
    private readonly metrics: GridMetrics,
    private readonly now: () => number,
  ) {}

  start(): void {
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.options.intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One fetch; resolves true when the list was replaced. Overlapping calls share one fetch. */
  poll(): Promise<boolean> {
    this.running ??= this.fetchOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async fetchOnce(): Promise<boolean> {
    if (this.stopped) return false;
    const { url, token, timeoutMs = 10_000, maxBytes = 16 * 1024 * 1024 } = this.options;
    try {
      const response = await fetch(url, {
        headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      const text = await response.text();
      if (text.length > maxBytes) throw new Error(`answer larger than ${maxBytes} bytes`);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error('answer is not JSON');
      }
      const parsed = customerListSchema.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new Error(`answer is not a customer list: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`);
      }
      if (this.stopped) return false;
      this.directory.setSource('api', definitionsFromConfig(parsed.data));
      this.lastSuccessAt = this.now();
      this.lastFailure = null;
      this.metrics.customerApiUpdates.inc();
      this.logger.info({ customers: parsed.data.length }, 'customer list updated from the customer API');
      return true;
    } catch (error) {
      const reason = describeFailure(error, timeoutMs);
      this.lastFailure = reason;
      this.metrics.customerApiFailures.inc();
      this.logger.warn({ reason }, 'customer API fetch failed; keeping the last good customer list');
      return false;
    }
  }
}

/** A loggable reason; fetch hides the network cause (refused, DNS, TLS) in `cause`. */
function describeFailure(error: unknown, timeoutMs: number): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause ? `${error.message}: ${cause.code ?? cause.message ?? 'unknown cause'}` : error.message;
}
