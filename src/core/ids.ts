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
 * A first byte from 0xF8 up encodes to '-' or '_' in base64url. Such ids are redrawn, so
 * that every id starts with a letter or digit: an id that starts with '-' is taken for an
 * option by a command line (`switchyard sync qr -fK...` failed so, one user id in 64).
 * Redrawing keeps the first character uniform over the 62 others (127.95 of 128 bits).
 */
const FIRST_BYTE_LIMIT = 0xf8;

/**
 * Short, URL-safe, unguessable ids. 16 random bytes give 128 bits: connection ids double
 * as `peer_id`s other clients address relays to, so they must not be enumerable.
 */
export function newId(bytes = 16): string {
  if (bytes > POOL_BYTES) {
    for (;;) {
      const drawn = randomBytes(bytes);
      if (drawn[0]! < FIRST_BYTE_LIMIT) return drawn.toString('base64url');
    }
  }
  for (;;) {
    if (poolUsed + bytes > POOL_BYTES) {
      randomFillSync(pool);
      poolUsed = 0;
    }
    // A rejected first byte is dropped; the bytes after it are not yet handed out.
    if (pool[poolUsed]! >= FIRST_BYTE_LIMIT) {
      poolUsed += 1;
      continue;
    }
    const id = pool.toString('base64url', poolUsed, poolUsed + bytes);
    poolUsed += bytes;
    return id;
  }
}

/** Stream ids are `category-id` (DESIGN.md), e.g. `connection-3fK...`. */
export function streamId(category: string, id: string): string {
  return `${category}-${id}`;
}

export function categoryOf(stream: string): string {
  const dash = stream.indexOf('-');
  return dash === -1 ? stream : stream.slice(0, dash);
}
