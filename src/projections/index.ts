import type { Projection } from '../store/types.js';
import { connectionStatsProjection, connectionsProjection } from './connections.js';

export * from './connections.js';

/** Every read model, in the order they are set up and replayed. */
export const allProjections: readonly Projection[] = [connectionsProjection, connectionStatsProjection];
