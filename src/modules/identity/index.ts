import { join } from 'node:path';
import type { Clock } from '../../core/index.js';
import { DISCONNECT } from '../../core/index.js';
import { addToIndex, removeFromIndex } from '../../core/index.js';
import { KeyRing } from '../../auth/index.js';
import { SecretBox } from '../../auth/index.js';
import { TokenService } from '../../auth/index.js';
import type { ClientConnection } from '../../edge/index.js';
import type { Logger } from '../../edge/index.js';
import type { Connections } from '../connections/index.js';
import { defineModule, type ActorRuntime, type Processor, type Scheduler } from '../../runtime/index.js';
import type { EventStore } from '../../store/index.js';
import type { IdentityConfig } from './config.js';
import { SESSION_CATEGORY, identityAggregates, oauthAggregates, refusalAggregate, sessionAggregate } from './domain/index.js';
import { IdentityService } from './identity-service.js';
import { OAuthService } from './oauth-service.js';
import { oauthRoutes } from './oauth-routes.js';
import { identityProjection } from './projection.js';
import { identityRoutes } from './routes.js';
import { identityTopics } from './topics.js';

export { IdentityService, type RequestOrigin } from './identity-service.js';
export { OAuthService } from './oauth-service.js';
export { requireSession, TOKEN_NOT_VALID, MFA_PROMPT } from './topics.js';
export { bearerPrincipal } from './bearer.js';
export type { IdentityConfig, ConfiguredOAuthClient } from './config.js';
export { identityProjection } from './projection.js';
export * from './domain/index.js';

export interface IdentityDependencies {
  runtime: ActorRuntime;
  store: EventStore;
  clock: Clock;
  logger: Logger;
  config: IdentityConfig;
  connections: Connections;
  /** Refusal summaries are flushed on it, one window at a time. */
  scheduler: Scheduler;
}

/**
 * Users, organisations, groups, app tokens, OAuth2 and the sessions of sockets (PROTOCOL.md
 * section 4, README "OAuth2"). Keys are made or loaded here, at creation.
 */
export interface IdentityApi {
  identity: IdentityService;
  oauth: OAuthService;
  keyRing: KeyRing;
  tokens: TokenService;
}

export const identityModule = defineModule<IdentityDependencies, IdentityApi, ClientConnection>({
  name: 'identity',
  aggregates: [...identityAggregates, sessionAggregate, ...oauthAggregates, refusalAggregate],
  projections: [identityProjection],
  create({ runtime, store, clock, logger, config, connections, scheduler }) {
    const keyRing = new KeyRing(config.dataDir);
    const key = keyRing.loadOrCreate(clock.now());
    if (key.generated) logger.warn({ kid: key.kid, dir: join(config.dataDir, 'keys') }, 'generated a new token signing key (first start)');
    const secrets = SecretBox.open(config.dataDir);
    if (secrets.generated) logger.warn({ dir: join(config.dataDir, 'keys') }, 'generated a new secrets key for MFA seeds (first start)');
    const tokens = new TokenService(keyRing, {
      issuer: config.issuer,
      clockToleranceSeconds: config.tokenClockToleranceSeconds,
      externalIssuers: config.externalIssuers,
    });
    const identity = new IdentityService(runtime, store, tokens, secrets.box, config, clock);
    const oauth = new OAuthService(identity, runtime, config, clock, logger);
    // One summary per address and window of the refusals past the window's budget.
    scheduler.every('identity.refusal-summaries', identity.refusals.windowMs, () => identity.refusals.flush());

    /** Sockets by the user they speak for: disabling a user closes all of them. */
    const socketsByUser = new Map<string, Set<ClientConnection>>();
    const userOfSocket = new Map<ClientConnection, string>();
    const unbind = (connection: ClientConnection) => {
      const userId = userOfSocket.get(connection);
      if (userId === undefined) return;
      userOfSocket.delete(connection);
      removeFromIndex(socketsByUser, userId, connection);
    };
    const bindToUser = (connection: ClientConnection, userId: string) => {
      const previous = userOfSocket.get(connection);
      if (previous !== undefined && previous !== userId) removeFromIndex(socketsByUser, previous, connection);
      addToIndex(socketsByUser, userId, connection);
      userOfSocket.set(connection, userId);
      // Disabled between the token check and now: do not let the socket slip through.
      if (!identity.userActive(userId)) connection.close(DISCONNECT.userDisabled);
    };
    connections.onClosed((connection) => {
      unbind(connection);
      // A session lives as long as its socket: its actor need not stay in memory.
      runtime.release(`${SESSION_CATEGORY}-${connection.id}`);
    });

    /**
     * Committed events, from this process or the CLI: a disabled user's sockets close
     * (4501) and an operator-ended session's socket closes (4503).
     */
    const socketCloser: Processor = {
      name: 'identity.socket-closer',
      startFrom: 'now',
      canHandle: (event) => event.type === 'UserDisabled' || event.type === 'SessionEnded',
      handle(events) {
        for (const event of events) {
          if (event.type === 'UserDisabled') {
            const userId = (event.data as { userId: string }).userId;
            for (const connection of socketsByUser.get(userId) ?? []) connection.close(DISCONNECT.userDisabled);
          } else {
            connections.get(event.streamId.slice(SESSION_CATEGORY.length + 1))?.close(DISCONNECT.kicked);
          }
        }
      },
    };

    return {
      api: { identity, oauth, keyRing, tokens },
      topics: identityTopics({ identity, runtime, config, boundToUser: bindToUser, unboundFromUser: unbind }),
      routes: [...identityRoutes(identity, clock, config), ...oauthRoutes(oauth, { secureCookies: config.ssl, logger })],
      processors: [socketCloser],
      // Clients of the `oauthClients` config key; a bad entry stops the start, not a half-started gateway.
      start: async () => {
        await oauth.registerConfiguredClients();
      },
      // Refusals counted in the last window are written before the log closes.
      stop: () => identity.refusals.flush(),
    };
  },
});
