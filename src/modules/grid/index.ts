export { GridService, type GridServiceOptions, type RoomTaskParams, type CallCounters } from './grid-service.js';
export { gridConfigShape, customerConfigSchema, customerListSchema, type GridConfig, type CustomerConfig } from './grid-config.js';
export { CustomerDirectory, CustomerLogFeed, CustomerApiPoller, definitionsFromConfig, type CustomerDefinition } from './customers.js';
export { noGatewayRooms, type GatewayRoomHost, type HostedRoomRef } from './room-host.js';
export { publicDispatcher, internalDispatcher, type PublicRpcContext, type InternalRpcContext } from './rpc-methods.js';
export { extendSfuConfig, recommendedSfuConfig, mergeMissing } from './sfu-config.js';
