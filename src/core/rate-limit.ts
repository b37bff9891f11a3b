/** One token bucket: `capacity` at once, refilled at `perSecond`. Pure: the caller passes `now`. */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.updatedAt = now;
  }

  take(now: number, cost = 1): boolean {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updatedAt) / 1000) * this.perSecond);
    this.updatedAt = now;
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Whether `cost` tokens are there now, without taking them (an admission check before the work). */
  has(now: number, cost = 1): boolean {
    return Math.min(this.capacity, this.tokens + ((now - this.updatedAt) / 1000) * this.perSecond) >= cost;
  }

  /** Seconds until `cost` tokens are there again: the `retry-after` of a refusal. */
  secondsUntil(now: number, cost = 1): number {
    const tokens = Math.min(this.capacity, this.tokens + ((now - this.updatedAt) / 1000) * this.perSecond);
    return tokens >= cost ? 0 : Math.ceil((cost - tokens) / this.perSecond);
  }

  /** True once the bucket would be full again: it can be forgotten. */
  idleSince(now: number): boolean {
    return now - this.updatedAt >= (this.capacity / this.perSecond) * 1000;
  }
}

/**
 * Token buckets by key (username, address). Idle full buckets are swept so an address scan
 * cannot grow memory.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private lastSweep = 0;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Takes one token; false when the key has none left. */
  take(key: string, now: number, cost = 1): boolean {
    this.sweep(now);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.capacity, this.perSecond, now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now, cost);
  }

  /** Whether the key has a token now, without taking it (unknown keys have a full bucket). */
  has(key: string, now: number, cost = 1): boolean {
    return this.buckets.get(key)?.has(now, cost) ?? cost <= this.capacity;
  }

  /** Seconds until the key has a token again (0 when it has one). */
  secondsUntil(key: string, now: number, cost = 1): number {
    return this.buckets.get(key)?.secondsUntil(now, cost) ?? 0;
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 10_000 && this.buckets.size < this.maxKeys) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) {
      if (bucket.idleSince(now)) this.buckets.delete(key);
    }
  }
}

/**
 * Work in flight by key (a connection, an address): `enter` refuses past `limit`, `leave`
 * gives the slot back. Keys at zero are forgotten at once, so memory follows the work in
 * flight, not the number of keys ever seen. A limit of 0 turns the cap off.
 */
export class InFlightLimiter<Key = string> {
  private readonly counts = new Map<Key, number>();

  constructor(private readonly limit: number) {}

  enter(key: Key): boolean {
    const count = this.counts.get(key) ?? 0;
    if (this.limit > 0 && count >= this.limit) return false;
    this.counts.set(key, count + 1);
    return true;
  }

  leave(key: Key): void {
    const count = this.counts.get(key) ?? 0;
    if (count <= 1) this.counts.delete(key);
    else this.counts.set(key, count - 1);
  }

  count(key: Key): number {
    return this.counts.get(key) ?? 0;
  }

  /** Keys with work in flight. */
  get size(): number {
    return this.counts.size;
  }

  /** Work in flight over every key. */
  get total(): number {
    let total = 0;
    for (const count of this.counts.values()) total += count;
    return total;
  }
}
