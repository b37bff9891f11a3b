import { AppError } from '../../../core/index.js';

/** What a customer uses now: rooms placed or reported, peers reported or promised. */
export interface Usage {
  rooms: number;
  peers: number;
}

/** A customer's limits; null means none. */
export interface Licence {
  maxPeers: number | null;
  maxRooms: number | null;
}

/**
 * Refuses a Connect that would take a customer past its limits. `usage` counts what servers
 * reported plus what was promised since (peers) or placed and not reported yet (rooms), so a
 * burst between two reports cannot overshoot. A room that already exists costs no room; the
 * ODIN gateway checked the room limit on every Connect, which locked clients out of their
 * existing rooms once the limit was reached.
 */
export function checkLicence(licence: Licence, usage: Usage, needsNewRoom: boolean): void {
  if (licence.maxPeers !== null && usage.peers >= licence.maxPeers) {
    throw new AppError('LIMIT_EXCEEDED', 'peer limit exceeded', { limit: 'maxPeers', max: licence.maxPeers });
  }
  if (needsNewRoom && licence.maxRooms !== null && usage.rooms >= licence.maxRooms) {
    throw new AppError('LIMIT_EXCEEDED', 'room limit exceeded', { limit: 'maxRooms', max: licence.maxRooms });
  }
}

export const isUnlimited = (licence: Licence): boolean => licence.maxPeers === null && licence.maxRooms === null;
