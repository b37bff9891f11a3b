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

  private sweep(now: number): void {
    if (now - this.lastSweep < 10_000 && this.buckets.size < this.maxKeys) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) {
      if (bucket.idleSince(now)) this.buckets.delete(key);
    }
  }
}
