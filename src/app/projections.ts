import type { Projection } from '../store/types.js';
import { connectionStatsProjection, connectionsProjection } from '../modules/connections/projection.js';
import { identityProjection } from '../modules/identity/projection.js';
import { roomsProjection } from '../modules/rooms/projection.js';

export * from '../modules/connections/projection.js';
export * from '../modules/identity/projection.js';
export * from '../modules/rooms/projection.js';

/** Every read model, in the order they are set up and replayed. */
export const allProjections: readonly Projection[] = [connectionsProjection, connectionStatsProjection, identityProjection, roomsProjection];
