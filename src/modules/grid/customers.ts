import type { Logger } from 'pino';
import { decodePublicKey, keyIdOf, publicKeyObject, type OdinAccessKey, type OdinKeyLookup } from '../../auth/index.js';
import type { Processor } from '../../runtime/index.js';
import type { EventStore, RecordedEvent } from '../../store/index.js';
import { CUSTOMER_EVENT_TYPES, isCustomerEvent, type CustomerEvent, type Licence } from './domain/index.js';
import type { CustomerConfig } from './grid-config.js';

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
 * The customers recorded in the log (`switchyard customers ...`, often run from another
 * process while the gateway is up), as the directory's `log` source.
 *
 * The directory lives in memory, so each start needs every customer event since the
 * beginning of the log: a checkpointed processor would resume after its checkpoint and
 * miss them. So this is a live (`startFrom: 'now'`) processor plus one history read:
 * `loadHistory` (at module start, after processors started) reads every customer event up
 * to the head it saw first, and `handle` then applies only events after that head. Whatever
 * the processor delivers before or up to that point is in the history already, so nothing is
 * applied twice or out of order, and nothing committed in between is missed.
 */
export class CustomerLogFeed implements Processor {
  readonly name = 'grid.customers';
  readonly startFrom = 'now';
  /** The log position the customers reflect; undefined until the history is loaded. */
  private loadedTo: number | undefined;
  private readonly customers = new Map<string, CustomerDefinition>();

  constructor(
    private readonly store: EventStore,
    private readonly directory: CustomerDirectory,
  ) {}

  canHandle(event: RecordedEvent): boolean {
    return isCustomerEvent(event);
  }

  handle(events: readonly RecordedEvent[]): void {
    const after = this.loadedTo;
    if (after === undefined) return;
    const fresh = events.filter((event) => event.position > after);
    if (fresh.length === 0) return;
    this.applyAll(fresh);
    this.loadedTo = fresh[fresh.length - 1]!.position;
  }

  /** Reads every customer event in the log; returns whether there were any. */
  loadHistory(): boolean {
    // The head first: events committed after it come through `handle`, not from these reads.
    const head = this.store.headPosition();
    const events: RecordedEvent[] = [];
    for (const type of CUSTOMER_EVENT_TYPES) {
      for (const event of this.store.readAll({ type })) if (event.position <= head) events.push(event);
    }
    events.sort((a, b) => a.position - b.position);
    this.applyAll(events);
    this.loadedTo = head;
    return events.length > 0;
  }

  private applyAll(events: readonly RecordedEvent[]): void {
    let changed = false;
    for (const event of events) {
      if (!isCustomerEvent(event)) continue;
      this.apply(event);
      changed = true;
    }
    if (changed) this.directory.setSource('log', [...this.customers.values()]);
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
