import type { ClientConnection } from '../../edge/index.js';
import { defineModule } from '../../runtime/index.js';
import { connectionAggregate } from './domain/index.js';
import { Connections, type ConnectionsDependencies } from './lifecycle.js';
import { connectionCountsProjection, connectionsProjection } from './projection.js';
import type { Processor } from '../../runtime/index.js';
import type { ConnectionResumedData } from './domain/index.js';

export { Connections, type ConnectionsConfig, type ConnectionsDependencies, type ClosedListener, type DetachListener } from './lifecycle.js';
export { resumeConfigShape, type ResumeConfig } from './config.js';
export type { SessionMoves } from './moves.js';
export type { ResumeObserver, ResumeOutcome } from './resume.js';
export { connectionsProjection, connectionCountsProjection } from './projection.js';
export { CONNECTION_CATEGORY, connectionAggregate } from './domain/index.js';

/** Sockets as the log records them: opened, detached and resumed, closed; the authentication deadline. */
export const connectionsModule = defineModule<ConnectionsDependencies, Connections, ClientConnection>({
  name: 'connections',
  aggregates: [connectionAggregate],
  projections: [connectionsProjection, connectionCountsProjection],
  create(deps) {
    const connections = new Connections(deps);
    return {
      api: connections,
      topics: [connections.resumeTopic],
      processors: [movedAwayProcessor(connections)],
      start: async () => ({ uncleanConnections: await connections.closeStale() }),
      stop: () => connections.closeAll(),
    };
  },
});

/**
 * In a cluster: a connection this node holds that another node adopted (ConnectionResumed
 * naming that node) is let go of here (`Connections.movedAway`). Live only: after a restart
 * this node holds no connection.
 */
function movedAwayProcessor(connections: Connections): Processor {
  return {
    name: 'connections.moved-away',
    startFrom: 'now',
    canHandle: (event) => event.type === 'ConnectionResumed' && (event.data as ConnectionResumedData).node !== undefined,
    handle(events) {
      for (const event of events) {
        const { connectionId, node } = event.data as ConnectionResumedData;
        if (node !== connections.node) connections.movedAway(connectionId);
      }
    },
  };
}
