import { AppError, type ErrorCode } from '../../core/index.js';
import { newId, streamId } from '../../core/index.js';
import { InFlightLimiter, RateLimiter } from '../../core/index.js';
import type { ActorRuntime } from '../../runtime/index.js';
import type { Topic, TopicClient } from '../../runtime/index.js';
import type { RefusalsCountAsBadFrames } from '../../edge/index.js';
import { REFUSAL_CATEGORY, type RefusalCommand, type RefusalsSummary } from './domain/index.js';
import type { IdentityConfig } from './config.js';

/**
 * Bounds on what anonymous clients can make the gateway do (issue 16, points 2, 4 and 8): sign-in
 * work in flight per connection and per address, refusals logged one by one only up to a budget
 * per address and window, and guesses of shared secrets (`POST /app`, OAuth2 client secrets)
 * per address and per client.
 */

/** The refusals of sign-in topics that count toward the bad-frame limit (edge/replies.ts). */
export const SIGN_IN_BAD_FRAME_REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['UNAUTHORIZED', 'RATE_LIMITED']);

export type SignInLimitsConfig = Pick<IdentityConfig, 'maxSignInsInFlightPerConnection' | 'maxSignInsInFlightPerAddress'>;

interface SignInClient extends TopicClient {
  readonly closed: boolean;
  readonly info: { readonly remoteAddress: string };
}

/**
 * Sign-in frames in flight per connection and per remote address. A frame past either cap is
 * refused before any work (no token check, no hash, no append) with RATE_LIMITED; so is a
 * frame of a connection already closed (uWS may hand over frames it had read before the close).
 * Without this cap an anonymous flood queued one log append per frame and kept a core busy for
 * minutes after the flooder left.
 */
export class SignInLimits {
  private readonly perConnection: InFlightLimiter<TopicClient>;
  private readonly perAddress: InFlightLimiter;

  constructor(config: SignInLimitsConfig) {
    this.perConnection = new InFlightLimiter(config.maxSignInsInFlightPerConnection);
    this.perAddress = new InFlightLimiter(config.maxSignInsInFlightPerAddress);
  }

  /** Sign-in commands in flight over every connection (tests, metrics). */
  get inFlight(): number {
    return this.perConnection.total;
  }

  /** The topic with the caps in front of its handler, its refusals counted as bad frames. */
  guard<Data, Client extends SignInClient>(topic: Topic<Data, Client>): Topic<Data, Client> & RefusalsCountAsBadFrames {
    const handle = topic.handle;
    const guarded: Topic<Data, Client> & RefusalsCountAsBadFrames = {
      ...topic,
      badFrameRefusals: SIGN_IN_BAD_FRAME_REFUSALS,
      // Not `async`: a refusal is thrown synchronously, so the dispatcher answers and counts it
      // at once, with no promise per refused frame.
      handle: (request) => {
        const { client } = request;
        const address = client.info.remoteAddress;
        if (client.closed) throw new AppError('RATE_LIMITED', 'connection is closing');
        if (!this.perConnection.enter(client)) throw tooMany();
        if (!this.perAddress.enter(address)) {
          this.perConnection.leave(client);
          throw tooMany();
        }
        const leave = () => {
          this.perConnection.leave(client);
          this.perAddress.leave(address);
        };
        let result: void | Promise<void>;
        try {
          result = handle(request);
        } catch (error) {
          leave();
          throw error;
        }
        if (result instanceof Promise) return result.finally(leave);
        leave();
        return result;
      },
    };
    return guarded;
  }
}

const tooMany = (): AppError => new AppError('RATE_LIMITED', 'too many sign-in requests in flight; wait for the answers');

export type RefusalAuditConfig = Pick<IdentityConfig, 'refusalEventsPerWindow' | 'refusalWindowSeconds'>;

/** A refusal as the audit counts it. */
export interface Refusal {
  connectionId: string;
  remoteAddress: string;
  /** What was refused: `token:access`, `token:app`, `login`, `oauth-client`, `app-password`. */
  kind: string;
  reason: string;
  username?: string;
}

interface AddressWindow {
  /** Refusals of this window logged one by one so far. */
  logged: number;
  summary: RefusalsSummary | undefined;
}

/** How many connection ids and usernames a summary names: enough to follow up, bounded. */
const SUMMARY_SAMPLE = 20;
/** Addresses tracked in one window; past it the rest share one summary under OVERFLOW_ADDRESS. */
const MAX_ADDRESSES_PER_WINDOW = 10_000;
const OVERFLOW_ADDRESS = '(other addresses)';

/**
 * Refusals aggregated per remote address and window. The first `refusalEventsPerWindow` of an
 * address in a window are logged as today (TokenRefused, LoginFailed on the session stream:
 * the audit trail of ordinary mistakes stays per connection and complete); the rest are only
 * counted, and `flush` (the scheduler, every window) writes one RefusalsSummarised per address
 * with their count, kinds, reasons, connections, usernames and first/last time. So a flood
 * grows the log by at most the budget plus one event per address and window.
 */
export class RefusalAudit {
  private windows = new Map<string, AddressWindow>();

  constructor(
    private readonly runtime: ActorRuntime,
    private readonly config: RefusalAuditConfig,
  ) {}

  get windowMs(): number {
    return this.config.refusalWindowSeconds * 1000;
  }

  /** True: the caller logs this refusal on its own (today's event). False: it was counted for the summary. */
  admit(refusal: Refusal, now: number): boolean {
    let address = refusal.remoteAddress;
    let window = this.windows.get(address);
    if (!window) {
      if (this.windows.size >= MAX_ADDRESSES_PER_WINDOW) address = OVERFLOW_ADDRESS;
      window = this.windows.get(address) ?? { logged: address === OVERFLOW_ADDRESS ? Number.POSITIVE_INFINITY : 0, summary: undefined };
      this.windows.set(address, window);
    }
    if (window.logged < this.config.refusalEventsPerWindow) {
      window.logged += 1;
      return true;
    }
    const summary = (window.summary ??= {
      remoteAddress: address,
      count: 0,
      kinds: {},
      reasons: {},
      connections: 0,
      connectionIds: [],
      usernames: [],
      firstAt: now,
      lastAt: now,
    });
    summary.count += 1;
    summary.kinds[refusal.kind] = (summary.kinds[refusal.kind] ?? 0) + 1;
    summary.reasons[refusal.reason] = (summary.reasons[refusal.reason] ?? 0) + 1;
    summary.lastAt = now;
    // Connections arrive one after another (a socket's refusals are contiguous in a flood), so
    // comparing with the last id counts distinct ones without a set per address.
    if (summary.connectionIds[summary.connectionIds.length - 1] !== refusal.connectionId && !summary.connectionIds.includes(refusal.connectionId)) {
      summary.connections += 1;
      if (summary.connectionIds.length < SUMMARY_SAMPLE) summary.connectionIds.push(refusal.connectionId);
    }
    if (refusal.username !== undefined && summary.usernames.length < SUMMARY_SAMPLE && !summary.usernames.includes(refusal.username)) {
      summary.usernames.push(refusal.username);
    }
    return false;
  }

  /** Refusals counted and not yet written (tests, metrics). */
  get pending(): number {
    let count = 0;
    for (const window of this.windows.values()) count += window.summary?.count ?? 0;
    return count;
  }

  /**
   * Ends the window: one RefusalsSummarised per address that had refusals past its budget
   * (each on its own stream, written once), and every budget starts again.
   */
  async flush(): Promise<void> {
    const windows = this.windows;
    this.windows = new Map();
    const writes: Promise<unknown>[] = [];
    for (const window of windows.values()) {
      if (!window.summary) continue;
      const command: RefusalCommand = { type: 'SummariseRefusals', summary: window.summary };
      writes.push(this.runtime.execute(streamId(REFUSAL_CATEGORY, newId()), command, { actor: `address:${window.summary.remoteAddress}` }));
    }
    await Promise.all(writes);
  }
}

/**
 * Guesses of a shared secret by key (an address, a client id): only wrong guesses spend a
 * token, and an empty bucket refuses before the secret is compared, right or wrong, so a
 * guesser learns nothing past the budget while a client with the right secret never waits.
 */
export class GuessLimiter {
  private readonly limiters: RateLimiter[];

  constructor(...perMinute: number[]) {
    this.limiters = perMinute.map((limit) => new RateLimiter(limit, limit / 60));
  }

  /** Seconds to wait (the `retry-after`) when any key is out of guesses; 0 when a guess may be checked. */
  refusal(keys: readonly string[], now: number): number {
    let wait = 0;
    this.limiters.forEach((limiter, index) => {
      const key = keys[index];
      if (key !== undefined && !limiter.has(key, now)) wait = Math.max(wait, limiter.secondsUntil(key, now), 1);
    });
    return wait;
  }

  /** Spends a guess for each key: the secret was wrong. */
  wrong(keys: readonly string[], now: number): void {
    this.limiters.forEach((limiter, index) => {
      const key = keys[index];
      if (key !== undefined) limiter.take(key, now);
    });
  }
}
