import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../edge/logger.js';
import type { IdentityApi } from '../identity/index.js';
import { defineModule, type ActorRuntime, type Scheduler } from '../../runtime/index.js';
import type { EventStore } from '../../store/index.js';
import type { SyncConfig } from './config.js';
import { syncSessionAggregate } from './domain/index.js';
import { syncPageSocket } from './page-socket.js';
import { syncRoutes } from './routes.js';
import { ServerRsaKey } from './rsa.js';
import { SyncSessions } from './sessions.js';

export { syncConfigShape, type SyncConfig } from './config.js';
export { SyncSessions, PAGE_TEXT, PAGE_CLOSE } from './sessions.js';
export { SYNC_SESSION_CATEGORY, SYNC_SESSION_EVENT_TYPES, syncSessionAggregate, type SyncSessionEvent } from './domain/index.js';

export interface SyncDependencies {
  runtime: ActorRuntime;
  store: EventStore;
  clock: Clock;
  logger: Logger;
  scheduler: Scheduler;
  config: SyncConfig;
  identity: Pick<IdentityApi, 'identity' | 'tokens'>;
}

/**
 * Device sync (PROTOCOL.md section 7, issue 12): a signed-in page shows rotating QR codes
 * over its own socket; a phone pauses the rotation with its RSA key and proves the user's
 * password, RSA-OAEP encrypted, to get a shared key. Every change of a session is an event
 * on `syncsession-<syncId>`; timers are the scheduler's.
 */
export const syncModule = defineModule<SyncDependencies, SyncSessions>({
  name: 'sync',
  aggregates: [syncSessionAggregate],
  projections: [],
  create({ runtime, store, clock, logger, scheduler, config, identity }) {
    const serverKey = ServerRsaKey.loadOrCreate(config.dataDir);
    if (serverKey.generated) logger.warn({ dir: join(config.dataDir, 'keys') }, 'generated a new RSA key for device sync (first start)');
    const sessions = new SyncSessions({ runtime, store, scheduler, clock, logger, config, identity: identity.identity, serverKey });
    return {
      api: sessions,
      routes: syncRoutes({ sessions, tokens: identity.tokens, identity: identity.identity, clock, ssl: config.ssl }),
      sockets: [syncPageSocket(sessions, config.ssl)],
      // Pages died with the previous process: their sessions end here, in the log.
      start: async () => ({ expiredSyncSessions: await sessions.expireLeftovers() }),
      stop: () => sessions.stop(),
    };
  },
});
