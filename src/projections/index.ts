import type { Projection } from '../store/types.js';
import { connectionStatsProjection, connectionsProjection } from './connections.js';
import { identityProjection } from './identity.js';
import { roomsProjection } from './rooms.js';

export * from './connections.js';
export * from './identity.js';
export * from './rooms.js';

/** Every read model, in the order they are set up and replayed. */
export const allProjections: readonly Projection[] = [connectionsProjection, connectionStatsProjection, identityProjection, roomsProjection];
