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
import { defineModule, portableTopics, type ActorRuntime, type Processor, type Scheduler } from '../../runtime/index.js';
import type { EventStore } from '../../store/index.js';
import { isPlainObject } from '../../protocol/index.js';
import type { IdentityConfig } from './config.js';
import { SESSION_CATEGORY, identityAggregates, oauthAggregates, refusalAggregate, sessionAggregate, type sessionMachine } from './domain/index.js';
import { principalFromSession } from './adoption.js';
import { IdentityService } from './identity-service.js';
import { OAuthService } from './oauth-service.js';
import { oauthRoutes } from './oauth-routes.js';
import { identityProjection } from './projection.js';
import { identityRoutes } from './routes.js';
import { identityTopics } from './topics.js';
import type { GuestRevocations } from './guests.js';

export { IdentityService, type RequestOrigin } from './identity-service.js';
export { OAuthService } from './oauth-service.js';
export { requireSession, TOKEN_NOT_VALID, MFA_PROMPT } from './topics.js';
export { bearerPrincipal } from './bearer.js';
/** The login page's look, for other modules' pages (the guest landing page). */
export { escapeHtml, page as loginLookPage } from './login-page.js';
export { guestFromToken, type GuestRevocations, type GuestSignIn } from './guests.js';
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
  /**
   * Revoked invitations, from the invitations module (asked per guest sign-in, so it may be
   * wired to a module created after this one). Absent: no guest token is revoked.
   */
  guests?: GuestRevocations;
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
  /**
   * Told after a socket's principal changed by signing in or out (authorize, login, mfa,
   * a guest ticket, logout), so modules that count who is where (presence) recount it then.
   */
  onPrincipalChanged(listener: (connection: ClientConnection) => void): void;
}

/** The invitations module's event for a removed participant (data: invitationId, itemId, email, revokedAt). */
const INVITATION_REVOKED = 'InvitationRevoked';
/** The close's detail for a removed participant's sockets (PROTOCOL.md section 9). */
const PARTICIPANT_REMOVED = 'participant removed';

export const identityModule = defineModule<IdentityDependencies, IdentityApi, ClientConnection>({
  name: 'identity',
  aggregates: [...identityAggregates, sessionAggregate, ...oauthAggregates, refusalAggregate],
  projections: [identityProjection],
  create({ runtime, store, clock, logger, config, connections, scheduler, guests }) {
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

    /**
     * Sockets by whom they speak for, `user:<userId>` or `invitation:<invitationId>`:
     * disabling a user, or removing a guest, closes all of theirs. One holder per socket.
     */
    const socketsByHolder = new Map<string, Set<ClientConnection>>();
    const holderOfSocket = new Map<ClientConnection, string>();
    const unbind = (connection: ClientConnection) => {
      const holder = holderOfSocket.get(connection);
      if (holder === undefined) return;
      holderOfSocket.delete(connection);
      removeFromIndex(socketsByHolder, holder, connection);
    };
    const bind = (connection: ClientConnection, holder: string) => {
      const previous = holderOfSocket.get(connection);
      if (previous !== undefined && previous !== holder) removeFromIndex(socketsByHolder, previous, connection);
      addToIndex(socketsByHolder, holder, connection);
      holderOfSocket.set(connection, holder);
    };
    const principalListeners: ((connection: ClientConnection) => void)[] = [];
    const principalChanged = (connection: ClientConnection) => {
      for (const listener of principalListeners) {
        try {
          listener(connection);
        } catch (error) {
          logger.warn({ err: error }, 'a principal-change listener failed');
        }
      }
    };
    const bindToUser = (connection: ClientConnection, userId: string) => {
      bind(connection, `user:${userId}`);
      // Disabled between the token check and now: do not let the socket slip through.
      if (!identity.userActive(userId)) connection.close(DISCONNECT.userDisabled);
      else principalChanged(connection);
    };
    const bindToGuest = (connection: ClientConnection, invitationId: string) => {
      bind(connection, `invitation:${invitationId}`);
      // Removed between the token check and now (while the session was appended): same.
      if (guests?.isRevoked(invitationId) === true) connection.close(DISCONNECT.userDisabled, PARTICIPANT_REMOVED);
      else principalChanged(connection);
    };
    const signedOut = (connection: ClientConnection) => {
      unbind(connection);
      principalChanged(connection);
    };
    const closeAll = (holder: string, detail?: string) => {
      // A copy: a close may run the onClosed unbind while we iterate.
      for (const connection of [...(socketsByHolder.get(holder) ?? [])]) connection.close(DISCONNECT.userDisabled, detail);
    };
    // A connection another cluster node adopts after its node was lost (PROTOCOL.md section 12)
    // speaks for whom its session stream says, and is bound like a fresh sign-in once adopted.
    connections.moves.restorePrincipalsWith((connectionId) => principalFromSession(runtime.read<typeof sessionMachine>(`${SESSION_CATEGORY}-${connectionId}`)));
    connections.moves.onAdopted((connection) => {
      const { principal } = connection;
      if (principal.kind === 'user') bindToUser(connection, principal.userId);
      else principalChanged(connection);
    });
    // A session lives as long as its socket here: its actor need not stay in memory after a
    // close, nor after another node adopted the connection.
    const forget = (connection: ClientConnection) => {
      unbind(connection);
      runtime.release(`${SESSION_CATEGORY}-${connection.id}`);
    };
    connections.moves.onMovedAway(forget);
    connections.onClosed(forget);

    /**
     * Committed events, from this process or the CLI: a disabled user's sockets close
     * (4501), a removed participant's guest sockets close (4501, `participant removed`:
     * InvitationRevoked, the invitations module's event, known here by its name only) and an
     * operator-ended session's socket closes (4503).
     */
    const socketCloser: Processor = {
      name: 'identity.socket-closer',
      startFrom: 'now',
      canHandle: (event) => event.type === 'UserDisabled' || event.type === 'SessionEnded' || event.type === INVITATION_REVOKED,
      handle(events) {
        for (const event of events) {
          if (event.type === 'UserDisabled') {
            closeAll(`user:${(event.data as { userId: string }).userId}`);
          } else if (event.type === INVITATION_REVOKED) {
            const invitationId = isPlainObject(event.data) ? event.data.invitationId : undefined;
            if (typeof invitationId === 'string') closeAll(`invitation:${invitationId}`, PARTICIPANT_REMOVED);
          } else {
            connections.get(event.streamId.slice(SESSION_CATEGORY.length + 1))?.close(DISCONNECT.kicked);
          }
        }
      },
    };

    return {
      api: { identity, oauth, keyRing, tokens, onPrincipalChanged: (listener) => void principalListeners.push(listener) },
      // Everything a sign-in leaves on a connection is in its session stream: another node rebuilds it.
      topics: portableTopics(identityTopics({ identity, runtime, config, guests, boundToUser: bindToUser, boundToGuest: bindToGuest, unboundFromUser: signedOut })),
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
