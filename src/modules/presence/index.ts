import type { ClientConnection } from '../../edge/index.js';
import { defineModule } from '../../runtime/index.js';
import type { ItemModulePorts } from '../itineraries/index.js';
import type { PresenceConfig } from './config.js';
import { presenceAggregate } from './domain/index.js';
import { PresenceExchange, type PresenceClusterPort } from './exchange.js';
import { presenceProcessors } from './processors.js';
import { PresenceVisibility, presenceProjection } from './projection.js';
import { PresenceRoster } from './roster.js';
import { presenceTopics } from './topics.js';

export { presenceConfigShape, type PresenceConfig } from './config.js';
export { presenceProjection, PresenceVisibility } from './projection.js';
export { PresenceRoster } from './roster.js';
export { PresenceExchange, type PresenceClusterPort, type PresenceExchangeStats } from './exchange.js';
export { displayName } from './views.js';
export { PRESENCE_CATEGORY, PRESENCE_EVENT_TYPES, presenceAggregate, isPresenceEvent, type PresenceEvent } from './domain/index.js';

export interface PresenceDependencies extends ItemModulePorts {
  config: PresenceConfig;
  /** In a cluster (PROTOCOL.md section 12): the channel to the other nodes' rosters. */
  cluster?: PresenceClusterPort | undefined;
}

export interface PresenceApi {
  roster: PresenceRoster;
  visibility: PresenceVisibility;
  /** In a cluster: the exchange with the other nodes. */
  exchange: PresenceExchange | undefined;
}

/**
 * Who is online at an event (PROTOCOL.md section 8): counted from the event audiences' joins
 * and leaves, listed by `consumer_online_users`, announced with `consumer_online_join` /
 * `consumer_online_leave`; whether a user is seen is their choice, kept on `presence-<userId>`.
 * In a cluster a user online through any node is online on every node (exchange.ts).
 */
export const presenceModule = defineModule<PresenceDependencies, PresenceApi, ClientConnection>({
  name: 'presence',
  aggregates: [presenceAggregate],
  projections: [presenceProjection],
  create({ runtime, store, access, events, audiences, users, logger, config, onPrincipalChanged, cluster }) {
    const visibility = new PresenceVisibility(store.readModels);
    const roster = new PresenceRoster({ audiences, events, users, visibility });
    const exchange = cluster && new PresenceExchange(roster, cluster);
    if (exchange) roster.localListener = (eventId, userId, present) => exchange.localChanged(eventId, userId, present);
    // The roster runs inside joins, leaves and closes of other modules: a fault of its own is
    // logged, never thrown into them.
    const guarded = (what: string, run: () => void) => {
      try {
        run();
      } catch (error) {
        logger.error({ err: error }, `presence: ${what} failed`);
      }
    };
    audiences.onJoined((eventId, connection) => guarded('a join', () => roster.joined(eventId, connection)));
    audiences.onLeft((eventId, connection) => guarded('a leave', () => roster.left(eventId, connection)));
    // Signed in or out on a socket already on events: counted (or uncounted) at once, not at its next join.
    onPrincipalChanged((connection) => guarded('a sign-in', () => roster.reconcile(connection)));
    return {
      api: { roster, visibility, exchange },
      topics: presenceTopics({ runtime, access, events, audiences, roster, onlineUsersMax: config.onlineUsersMax }),
      processors: presenceProcessors(roster),
      start: () => exchange?.start(),
      stop: () => exchange?.close(),
    };
  },
});
