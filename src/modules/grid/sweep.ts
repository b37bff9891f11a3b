import type { Logger } from 'pino';
import type { SfuCommand } from './domain/index.js';
import type { GridDirectory } from './directory.js';
import type { SfuStreams } from './sfu-streams.js';

/** Silence of 1.5 report intervals disables a server (PROTOCOL.md section 6). */
const DISABLE_AFTER_INTERVALS = 1.5;

export interface SweepOptions {
  reportIntervalSeconds: number;
  removeAfterSeconds: number;
}

/**
 * How often the scheduler runs the sweep: a quarter of the report interval, within
 * 100 ms..1 s, so a server is disabled close to its 1.5 intervals of silence.
 */
export const sweepIntervalMs = (reportIntervalSeconds: number): number => Math.max(100, Math.min(1000, (reportIntervalSeconds * 1000) / 4));

/**
 * Disables servers silent for 1.5 report intervals and removes those disabled and silent for
 * `removeAfterSeconds`. `since` is when the gateway started: a server is not silent for the
 * time the gateway itself was down. Each server's command re-checks the silence inside its
 * mailbox, so a report that arrives meanwhile wins.
 */
export async function sweepSilentServers(
  directory: GridDirectory,
  streams: SfuStreams,
  logger: Logger,
  options: SweepOptions,
  since: number,
  now: number,
): Promise<void> {
  const disableAfterMs = options.reportIntervalSeconds * 1000 * DISABLE_AFTER_INTERVALS;
  const removeAfterMs = options.removeAfterSeconds * 1000;
  const work: Promise<unknown>[] = [];
  for (const server of directory.serverList()) {
    const silentFor = now - Math.max(server.lastSeenAt ?? 0, since);
    let command: SfuCommand | undefined;
    if ((server.status === 'active' || server.status === 'registered') && silentFor > disableAfterMs) {
      command = { type: 'DisableServer', since, disableAfterMs, now };
    } else if (server.status === 'disabled' && silentFor > removeAfterMs) {
      command = { type: 'RemoveServer', since, removeAfterMs, now };
    }
    if (!command) continue;
    const address = server.address;
    work.push(
      streams.execute(address, command).then(
        (events) => {
          for (const event of events) {
            if (event.type === 'SfuServerDisabled') logger.warn({ address, silentSince: event.data.silentSince }, 'SFU server silent: disabled');
            if (event.type === 'SfuServerRemoved') {
              logger.warn({ address, droppedTasks: event.data.droppedTaskIds.length }, 'SFU server removed; its rooms will be placed again');
            }
          }
        },
        (error: unknown) => logger.error({ err: error, address }, 'SFU server timer command failed'),
      ),
    );
  }
  await Promise.all(work);
}
