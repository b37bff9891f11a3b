import type { ClientConnection } from '../../edge/index.js';

/** The parties a connection is on per item: its own (a socket speaks for one principal at a time). */
interface ItemPresence {
  /** Connections by party, in the order the parties came: a group call lets them in in that order. */
  byParty: Map<string, Set<ClientConnection>>;
  /** Parties among them that operate the item's calls (offers go to these). */
  operators: Set<string>;
}

const NOBODY: readonly ClientConnection[] = [];

/**
 * Which connections are on which webrtc item, as whom: those that joined the item
 * (`consumer_webrtc_get`) or sent one of its call commands. Pushes to a party (a ring, an
 * offer, an activation) go to its connections here; the operators here are the ones offers go
 * to; the others are who a group call lets in when its host starts it.
 *
 * Lifetime: in memory only, like the sockets it holds; a connection leaves every item when it
 * closes (Connections.onClosed). Bounds: a connection is on at most `perConnection` items
 * (past it the one it came to longest ago is dropped), so one socket cannot grow the maps
 * without limit by asking for item after item. A connection that signs in as someone else is
 * no longer reached as whom it was (`stillOf`).
 */
export class CallPresence {
  private readonly byItem = new Map<string, ItemPresence>();
  /** Per connection, its items (and its party there) in the order it came: the eviction order. */
  private readonly byConnection = new Map<ClientConnection, Map<string, string>>();

  constructor(
    connections: { onClosed(listener: (connection: ClientConnection) => void): void },
    private readonly perConnection: number,
    /** Whether the party a connection speaks for now is still `party` (the principal can change). */
    private readonly stillOf: (connection: ClientConnection, party: string) => boolean,
  ) {
    if (!Number.isInteger(perConnection) || perConnection < 1) throw new RangeError('callItemsPerConnection must be a positive integer');
    connections.onClosed((connection) => this.leaveAll(connection));
  }

  /** Puts the connection on the item as `party`; a second call refreshes its place and its operator flag. */
  enter(itemId: string, connection: ClientConnection, party: string, operator: boolean): void {
    if (connection.closed) return;
    let items = this.byConnection.get(connection);
    if (!items) {
      items = new Map();
      this.byConnection.set(connection, items);
    }
    const previous = items.get(itemId);
    if (previous !== undefined && previous !== party) this.remove(itemId, connection, previous);
    items.delete(itemId);
    items.set(itemId, party);
    let item = this.byItem.get(itemId);
    if (!item) {
      item = { byParty: new Map(), operators: new Set() };
      this.byItem.set(itemId, item);
    }
    let connections = item.byParty.get(party);
    if (!connections) {
      connections = new Set();
      item.byParty.set(party, connections);
    }
    // Last in, last out: the newest connection of a party is the one a call joins it through.
    connections.delete(connection);
    connections.add(connection);
    if (operator) item.operators.add(party);
    else item.operators.delete(party);
    while (items.size > this.perConnection) {
      const [oldest, oldestParty] = items.entries().next().value!;
      items.delete(oldest);
      this.remove(oldest, connection, oldestParty);
    }
  }

  /** The party's open connections on the item, oldest first. */
  connectionsOf(itemId: string, party: string): readonly ClientConnection[] {
    const connections = this.byItem.get(itemId)?.byParty.get(party);
    if (!connections) return NOBODY;
    return [...connections].filter((connection) => !connection.closed && this.stillOf(connection, party));
  }

  /** The party's newest open connection on the item: the one a call joins it through. */
  latestOf(itemId: string, party: string): ClientConnection | undefined {
    return this.connectionsOf(itemId, party).at(-1);
  }

  /** Whether the party is on the item through this connection. */
  has(itemId: string, party: string, connection: ClientConnection): boolean {
    return this.byItem.get(itemId)?.byParty.get(party)?.has(connection) === true && this.stillOf(connection, party);
  }

  /** The item's operators with an open connection on it, in the order they came. */
  operators(itemId: string): string[] {
    const item = this.byItem.get(itemId);
    if (!item) return [];
    return [...item.operators].filter((party) => this.connectionsOf(itemId, party).length > 0);
  }

  /** Every open connection of the item's operators. */
  operatorConnections(itemId: string): ClientConnection[] {
    return this.operators(itemId).flatMap((party) => this.connectionsOf(itemId, party));
  }

  /** The parties on the item that are not its operators, each with its newest connection, in the order they came. */
  waiting(itemId: string): { party: string; connection: ClientConnection }[] {
    const item = this.byItem.get(itemId);
    if (!item) return [];
    const waiting: { party: string; connection: ClientConnection }[] = [];
    for (const party of item.byParty.keys()) {
      if (item.operators.has(party)) continue;
      const connection = this.latestOf(itemId, party);
      if (connection) waiting.push({ party, connection });
    }
    return waiting;
  }

  /** Takes the connection off every item (it closed). */
  leaveAll(connection: ClientConnection): void {
    const items = this.byConnection.get(connection);
    if (!items) return;
    this.byConnection.delete(connection);
    for (const [itemId, party] of items) this.remove(itemId, connection, party);
  }

  /** Sizes of the two indexes, for the tests that check nothing leaks. */
  get size(): { items: number; connections: number } {
    return { items: this.byItem.size, connections: this.byConnection.size };
  }

  private remove(itemId: string, connection: ClientConnection, party: string): void {
    const item = this.byItem.get(itemId);
    const connections = item?.byParty.get(party);
    if (!item || !connections) return;
    connections.delete(connection);
    if (connections.size === 0) {
      item.byParty.delete(party);
      item.operators.delete(party);
    }
    if (item.byParty.size === 0) this.byItem.delete(itemId);
  }
}
