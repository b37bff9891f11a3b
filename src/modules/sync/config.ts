import { configInt as int } from '../../core/index.js';

/**
 * Configuration keys of device sync (PROTOCOL.md section 7, the seed's names in brackets),
 * spread into the one config schema (src/app/config.ts); each is also `SWITCHYARD_<KEY>`.
 */

export const syncConfigShape = {
  /** URLs a sync page is shown at most before it closes (`session_change_limit`). */
  syncChangeLimit: int(1, 1000).default(3),
  /** Seconds between two URLs on a sync page (`session_sleep_timeout`). */
  syncSleepSeconds: int(1, 3600).default(15),
  /** Seconds a device has, after its handshake, to prove the user before rotation resumes (`session_paused_timeout`). */
  syncPausedSeconds: int(1, 86400).default(120),
  /** Wrong passwords a sync session takes before it fails (the page is told, the socket closed). */
  syncPasswordAttempts: int(1, 100).default(3),
};

/** The slice of the gateway's config the sync module reads (app/config.ts's `Config` satisfies it). */
export interface SyncConfig {
  readonly dataDir: string;
  readonly ssl: boolean;
  readonly host: string;
  readonly syncChangeLimit: number;
  readonly syncSleepSeconds: number;
  readonly syncPausedSeconds: number;
  readonly syncPasswordAttempts: number;
}
