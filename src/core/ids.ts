import { randomBytes, randomFillSync } from 'node:crypto';

/**
 * The CSPRNG's bytes are drawn a block at a time, as node:crypto's randomUUID does: one
 * `randomBytes(16)` costs about 3 µs (the call into OpenSSL, a new Buffer), a slice of the
 * block 0.2 µs, and a connection storm asks for two ids per socket. Each byte is handed out once.
 */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafeSlow(POOL_BYTES);
let poolUsed = POOL_BYTES;

/**
 * Short, URL-safe, unguessable ids. 16 random bytes give 128 bits: connection ids double
 * as `peer_id`s other clients address relays to, so they must not be enumerable.
 */
export function newId(bytes = 16): string {
  if (bytes > POOL_BYTES) return randomBytes(bytes).toString('base64url');
  if (poolUsed + bytes > POOL_BYTES) {
    randomFillSync(pool);
    poolUsed = 0;
  }
  const id = pool.toString('base64url', poolUsed, poolUsed + bytes);
  poolUsed += bytes;
  return id;
}

/** Stream ids are `category-id` (DESIGN.md), e.g. `connection-3fK...`. */
export function streamId(category: string, id: string): string {
  return `${category}-${id}`;
}

export function categoryOf(stream: string): string {
  const dash = stream.indexOf('-');
  return dash === -1 ? stream : stream.slice(0, dash);
}
