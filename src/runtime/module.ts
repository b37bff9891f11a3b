import type { ModuleShape } from '../core/module.js';
import type { HttpRoute } from '../protocol/http.js';
import type { Projection } from '../store/index.js';
import type { Processor } from './processors.js';
import type { AnyTopic, TopicClient } from './topic-handler.js';

/**
 * A synchronous route-on-the-envelope handler for raw text frames (the relay). It answers
 * its own refusals through `fail` (the dispatcher's, so they are counted like any other).
 */
export type FastPath<Client> = (
  client: Client,
  message: ArrayBuffer | Uint8Array,
  now: number,
  fail: (client: Client, id: number | undefined, error: unknown, now: number) => void,
) => boolean;

/** Figures of a module's recovery at start, e.g. `{uncleanConnections: 2}`. */
export type StartReport = Record<string, number>;

/**
 * What a module contributes once created. `api` is its surface for the app and for other
 * modules (what its index.ts exports is the type of it); everything else the app wires.
 */
export interface ModuleInstance<Api = unknown, Client extends TopicClient = TopicClient> {
  readonly api: Api;
  readonly topics?: readonly AnyTopic<Client>[];
  readonly routes?: readonly HttpRoute[];
  readonly processors?: readonly Processor[];
  /**
   * Tried on every text frame before the generic decode (the relay's route-on-the-envelope
   * path); returns true when it handled the frame. Synchronous, off the log.
   */
  readonly fastPath?: FastPath<Client>;
  /**
   * After actors are rebuilt from the log and processors run, before the gateway is ready.
   * What it returns (counts of its recovery) goes into the start-up log line.
   */
  start?(): void | StartReport | Promise<void | StartReport>;
  /** At shutdown, after sockets are closed and before the store closes. */
  stop?(): void | Promise<void>;
}

export type ModuleDefinition<Deps, Api, Client extends TopicClient = TopicClient> = ModuleShape<Projection, Deps, ModuleInstance<Api, Client>>;

/** Declares a module (DESIGN.md: `defineModule({name, aggregates, projections, create})`). */
export function defineModule<Deps, Api, Client extends TopicClient = TopicClient>(definition: ModuleDefinition<Deps, Api, Client>): ModuleDefinition<Deps, Api, Client> {
  return definition;
}
