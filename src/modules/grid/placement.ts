import type { Clock } from '../../core/index.js';
import { AppError } from '../../core/index.js';
import { checkLicence, isUnlimited, type Licence, type RoomId } from './domain/index.js';
import type { GridDirectory, RoomEntry } from './directory.js';
import type { SfuStreams } from './sfu-streams.js';

export interface PlacementRequest {
  room: RoomId;
  customerId: string;
  /** The server the client asked for (Connect's `preferred_server`), if any. */
  preferred: string | undefined;
  now: number;
}

/** Where a Connect's room goes. */
export type PlacementChoice =
  /** The room has its server already (its placement may still be being appended). */
  | { kind: 'placed'; entry: RoomEntry }
  | { kind: 'new'; server: string }
  | { kind: 'unavailable' };

/**
 * Chooses the server for a room, like LiveKit's node selector. Synchronous on purpose: the
 * placer checks the licence and reserves right after the choice, with no await between
 * them, so a burst of Connects cannot overshoot a limit or all pick the same "emptiest" server.
 */
export interface PlacementStrategy {
  choose(request: PlacementRequest, grid: GridDirectory): PlacementChoice;
}

/**
 * Best of two random choices among active servers (the lower projected load: reported load
 * plus reservations since the last report): close to least-loaded placement without every
 * Connect of a burst herding onto the same server.
 */
export function bestOfTwoRandom(grid: GridDirectory, random: () => number): string | undefined {
  const active = grid.activeServers();
  if (active.length === 0) return undefined;
  if (active.length === 1) return active[0]!.address;
  const first = Math.floor(random() * active.length) % active.length;
  let second = Math.floor(random() * (active.length - 1)) % (active.length - 1);
  if (second >= first) second += 1;
  const a = active[first]!.address;
  const b = active[second]!.address;
  return grid.projectedLoad(b) < grid.projectedLoad(a) ? b : a;
}

/**
 * A placed room stays on its server; rooms of one `{tag}` group share a server; then the
 * client's preferred server if it is active; otherwise the better of two random servers.
 */
export class DefaultPlacement implements PlacementStrategy {
  /** `random` is injectable so tests can steer the choice. */
  constructor(private readonly random: () => number = Math.random) {}

  choose({ room, preferred, now }: PlacementRequest, grid: GridDirectory): PlacementChoice {
    const entry = grid.owner(room, now);
    if (entry) return { kind: 'placed', entry };
    const server =
      grid.groupServer(room) ?? (preferred !== undefined && grid.isActive(preferred) ? preferred : bestOfTwoRandom(grid, this.random));
    return server === undefined ? { kind: 'unavailable' } : { kind: 'new', server };
  }
}

/** A Connect that finds its room being placed by another waits for it; this bounds the retries. */
const MAX_PLACEMENT_ATTEMPTS = 3;

/** Finds or chooses the server for a Connect's room and takes the customer's licence for it. */
export class RoomPlacer {
  constructor(
    private readonly directory: GridDirectory,
    private readonly streams: SfuStreams,
    private readonly strategy: PlacementStrategy,
    private readonly clock: Clock,
    /** How long an unreported placement holds: the room token's lifetime. */
    private readonly placementLifetimeMs: number,
  ) {}

  /**
   * Check and reservation run without an await between them: that is what keeps a burst of
   * Connects from overshooting a limit. A new placement is appended before anyone is
   * answered; Connects for the same room meanwhile wait for it. A room already placed (the
   * common Connect) is answered in this turn, without a promise: it changes no state but a
   * reservation, so it writes nothing to the log.
   */
  place(room: RoomId, customerId: string, licence: Licence, preferred: string | undefined): string | Promise<string> {
    const choice = this.strategy.choose({ room, customerId, preferred, now: this.clock.now() }, this.directory);
    if (choice.kind !== 'placed' || choice.entry.pending) return this.placeOrWait(room, customerId, licence, preferred);
    return this.join(choice.entry, customerId, licence);
  }

  /** A Connect to a room placed and settled: the licence's peers, and one more reserved on its server. */
  private join(entry: RoomEntry, customerId: string, licence: Licence): string {
    if (!isUnlimited(licence)) checkLicence(licence, this.directory.usage(customerId, this.clock.now()), false);
    this.directory.reservePeer(entry.server, customerId);
    return entry.server;
  }

  /** A new room (appended before the answer), or one whose placement is in flight (waited for). */
  private async placeOrWait(room: RoomId, customerId: string, licence: Licence, preferred: string | undefined): Promise<string> {
    const unlimited = isUnlimited(licence);
    for (let attempt = 0; attempt < MAX_PLACEMENT_ATTEMPTS; attempt++) {
      const now = this.clock.now();
      const choice = this.strategy.choose({ room, customerId, preferred, now }, this.directory);
      if (choice.kind === 'unavailable') throw new AppError('UNAVAILABLE', 'no SFU server is available');
      if (choice.kind === 'placed') {
        const { entry } = choice;
        if (entry.pending) {
          await entry.pending;
          continue;
        }
        return this.join(entry, customerId, licence);
      }
      const { server } = choice;
      if (!unlimited) checkLicence(licence, this.directory.usage(customerId, now), true);
      this.directory.reservePeer(server, customerId);
      if (await this.append(server, room, customerId, now)) return server;
    }
    throw new AppError('UNAVAILABLE', 'no SFU server is available');
  }

  /** Appends a new placement; false when the server was disabled since the choice (choose again). */
  private async append(server: string, room: RoomId, customerId: string, now: number): Promise<boolean> {
    const expiresAt = now + this.placementLifetimeMs;
    let settle!: () => void;
    const pending = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const entry = this.directory.reserveRoom(server, room, customerId, now, expiresAt, pending);
    try {
      await this.streams.execute(server, { type: 'PlaceRoom', room, customer: customerId, expiresAt, now });
      this.directory.settleRoom(entry, true);
      return true;
    } catch (error) {
      this.directory.settleRoom(entry, false);
      this.directory.releasePeer(server, customerId);
      if (error instanceof AppError && error.code === 'UNAVAILABLE') return false;
      throw error;
    } finally {
      settle();
    }
  }
}
