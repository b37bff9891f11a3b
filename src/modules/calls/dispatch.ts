import { isAppError, streamId, type Clock } from '../../core/index.js';
import type { ActorRuntime, Scheduler } from '../../runtime/index.js';
import type { ItemModulePorts } from '../itineraries/index.js';
import type { CallsConfig } from './config.js';
import { CALL_CATEGORY, type callMachine } from './domain/index.js';
import { modeOf } from './parties.js';
import type { CallPresence } from './presence.js';
import type { CallDirectory } from './projection.js';
import type { Calls } from './service.js';

export interface OfferDispatcherDependencies {
  calls: Calls;
  directory: CallDirectory;
  presence: CallPresence;
  runtime: ActorRuntime;
  scheduler: Scheduler;
  clock: Clock;
  items: ItemModulePorts['items'];
  config: Pick<CallsConfig, 'callOfferSeconds'>;
  logger: Pick<ItemModulePorts['logger'], 'error'>;
}

const SYSTEM = { actor: 'system' };
const timerKey = (instance: string): string => `calls.offer.${instance}`;

/**
 * The round-robin (PROTOCOL.md section 8): each queued call of an item is offered to one free
 * operator at a time, for `callOfferSeconds`; an offer not taken lapses (a timer, issued as a
 * command through the scheduler) and the call is offered to the next. Free: on the item now
 * (presence), in none of its calls, holding no other offer. The next is the operator this call
 * was offered to least recently, one never offered it first, so every operator gets a turn.
 *
 * Passes over one item run one at a time (a queue per item), so two triggers at once cannot
 * offer one operator two calls. What an offer is, and that it is offered once, is the call's
 * stream's to decide (OfferCall is refused unless the call waits for one).
 */
export class OfferDispatcher {
  private readonly passes = new Map<string, Promise<void>>();

  constructor(private readonly deps: OfferDispatcherDependencies) {}

  /** Offers the item's waiting calls to its free operators (after whatever pass is running). */
  dispatch(itemId: string): Promise<void> {
    const previous = this.passes.get(itemId) ?? Promise.resolve();
    const pass = previous
      .then(() => this.pass(itemId))
      .catch((error: unknown) => this.deps.logger.error({ err: error, itemId }, 'call offers failed'))
      .finally(() => {
        if (this.passes.get(itemId) === pass) this.passes.delete(itemId);
      });
    this.passes.set(itemId, pass);
    return pass;
  }

  /** Waits until no pass is running (at shutdown); true when there was one. */
  async drain(): Promise<boolean> {
    if (this.passes.size === 0) return false;
    while (this.passes.size > 0) await Promise.allSettled([...this.passes.values()]);
    return true;
  }

  /** Arms the lapse of an offer: at its expiry the call's stream is told, and decides whether it still stands. */
  arm(instance: string, operator: string, expiresAt: number): void {
    this.deps.scheduler.at(timerKey(instance), expiresAt, async (now) => {
      const outcome = await this.deps.calls.run(instance, { type: 'ExpireOffer', operator, reason: 'timeout', now }, SYSTEM);
      // Timers run on the monotonic clock and may fire a little before the wall clock says the
      // offer expired: the call then keeps it, and the lapse is armed again for its expiry.
      const call = outcome.call;
      if (outcome.position === undefined && call?.offeredTo === operator && call.offerExpiresAt !== null && call.offerExpiresAt > now) {
        this.arm(instance, operator, call.offerExpiresAt);
      }
    });
  }

  cancel(instance: string): void {
    this.deps.scheduler.cancel(timerKey(instance));
  }

  private async pass(itemId: string): Promise<void> {
    const item = this.deps.items.get(itemId);
    if (!item || item.type !== 'webrtc' || modeOf(item) !== 'round-robin') return;
    const now = this.deps.clock.now();
    const waiting = this.deps.directory.queue(itemId).filter((call) => call.offeredTo === null || (call.offerExpiresAt ?? 0) <= now);
    if (waiting.length === 0) return;
    const busy = this.deps.directory.busyOperators(itemId);
    const free = this.deps.presence.operators(itemId).filter((operator) => !busy.has(operator));
    for (const call of waiting) {
      if (free.length === 0) return;
      const stream = streamId(CALL_CATEGORY, call.instanceId);
      const operator = nextOperator(free, this.deps.runtime.read<typeof callMachine>(stream).context.offeredTo);
      const expiresAt = now + this.deps.config.callOfferSeconds * 1000;
      try {
        await this.deps.calls.run(call.instanceId, { type: 'OfferCall', operator, expiresAt, now }, SYSTEM);
        free.splice(free.indexOf(operator), 1);
      } catch (error) {
        // Taken or offered meanwhile (another pass, an operator's activate): nothing to offer.
        if (!isAppError(error) || error.code !== 'CONFLICT') throw error;
      }
    }
  }
}

/** The free operator whose turn it is: one never offered the call, else the one offered it least recently. */
export function nextOperator(free: readonly string[], offeredTo: readonly string[]): string {
  const fresh = free.find((operator) => !offeredTo.includes(operator));
  if (fresh !== undefined) return fresh;
  return [...free].sort((a, b) => offeredTo.indexOf(a) - offeredTo.indexOf(b))[0]!;
}
