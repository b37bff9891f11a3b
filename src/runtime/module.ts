import type { ModuleShape } from '../core/module.js';
import type { Codec } from '../core/types.js';
import type { HttpResponse, HttpRoute } from '../protocol/http.js';
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
  /** A binary (MessagePack) frame rather than JSON text. */
  isBinary: boolean,
) => boolean;

/** How a module's socket writes to the wire (edge/connection.ts's SocketSink, structurally). */
export interface ModuleSocketSink {
  /** 1 sent, 0 sent but buffered (backpressure), 2 dropped. */
  send(message: string | Uint8Array, isBinary: boolean): number;
  end(code: number, reason: string): void;
  bufferedAmount(): number;
}

/**
 * A raw WebSocket route a module serves beside the gateway's own (/ws, Socket.IO): the shape
 * of edge/uws.ts's WebSocketRoute, typed here structurally so the runtime and modules stay
 * free of uWS. `upgrade` decides from the request alone (copied out of uWS); `open` returns
 * the value later callbacks get as `connection`.
 */
export interface ModuleSocketRoute {
  path: string;
  maxFrameBytes?: number;
  upgrade(request: { url: string; query: string; headers: Readonly<Record<string, string>>; remoteAddress: string }):
    | { refuse: HttpResponse }
    | { accept: { codec: Codec; protocol: string | null; data: unknown } };
  open(sink: ModuleSocketSink, data: unknown): unknown;
  message(connection: unknown, message: ArrayBuffer, isBinary: boolean): void;
  drain?(connection: unknown): void;
  close(connection: unknown, code: number, reason: string): void;
}

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
  /** Raw WebSocket routes (device sync's page socket); their sockets are the module's own, not ClientConnections. */
  readonly sockets?: readonly ModuleSocketRoute[];
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
