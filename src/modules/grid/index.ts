import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Clock } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import { defineModule, type ActorRuntime, type Scheduler } from '../../runtime/index.js';
import type { EventStore } from '../../store/index.js';
import { customerAggregate, sfuAggregate } from './domain/index.js';
import type { GridConfig } from './grid-config.js';
import { GridService } from './grid-service.js';
import { noGatewayRooms, type GatewayRoomHost } from './room-host.js';
import { rpcRoutes } from './routes.js';

export { GridService, type GridServiceOptions } from './grid-service.js';
export type { RoomTaskParams } from './tasks.js';
export type { CallCounters } from './grid-info.js';
export { DefaultPlacement, type PlacementStrategy, type PlacementRequest, type PlacementChoice } from './placement.js';
export { gridConfigShape, customerConfigSchema, customerListSchema, type GridConfig, type CustomerConfig } from './grid-config.js';
export { CustomerDirectory, CustomerLogFeed, definitionsFromConfig, type CustomerDefinition } from './customers.js';
export { CustomerApiPoller } from './customer-api.js';
export { noGatewayRooms, type GatewayRoomHost, type HostedRoomRef } from './room-host.js';
export { publicDispatcher, internalDispatcher, type PublicRpcContext, type InternalRpcContext } from './rpc-methods.js';
export { extendSfuConfig, recommendedSfuConfig, mergeMissing } from './sfu-config.js';

export interface GridDependencies {
  config: GridConfig & { dataDir: string; rpcMaxBodyBytes: number; internalMaxBodyBytes: number };
  logger: Logger;
  clock: Clock;
  store: EventStore;
  runtime: ActorRuntime;
  registry: Registry;
  /** Runs the silence sweep and the customer API poll. */
  scheduler: Scheduler;
  /** Rooms the gateway hosts itself, as the room API reaches them (the rooms module's). */
  roomHost: GatewayRoomHost | undefined;
  /** In a cluster, the gateway nodes alive now, for `Info` (PROTOCOL.md section 12). */
  gatewayNodes?: (() => readonly Record<string, unknown>[]) | undefined;
}

/** The room API (JSON-RPC, ODIN tokens) and the SFU grid: placement, licences, tasks (PROTOCOL.md section 6). */
export const gridModule = defineModule<GridDependencies, GridService, ClientConnection>({
  name: 'grid',
  aggregates: [sfuAggregate, customerAggregate],
  projections: [],
  create({ config, logger, clock, store, runtime, registry, scheduler, roomHost, gatewayNodes }) {
    const grid = new GridService({ config, dataDir: config.dataDir, logger, clock, store, runtime, registry, scheduler, roomHost: roomHost ?? noGatewayRooms, gatewayNodes });
    return {
      api: grid,
      routes: rpcRoutes(grid, { maxBodyBytes: config.rpcMaxBodyBytes, maxInternalBodyBytes: config.internalMaxBodyBytes }),
      processors: grid.processors,
      start: () => grid.start(),
      stop: () => grid.stop(),
    };
  },
});
