import { randomBytes } from 'node:crypto';

/**
 * Short, URL-safe, unguessable ids. 16 random bytes give 128 bits: connection ids double
 * as `peer_id`s other clients address relays to, so they must not be enumerable.
 */
export function newId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}

/** Stream ids are `category-id` (DESIGN.md), e.g. `connection-3fK...`. */
export function streamId(category: string, id: string): string {
  return `${category}-${id}`;
}

export function categoryOf(stream: string): string {
  const dash = stream.indexOf('-');
  return dash === -1 ? stream : stream.slice(0, dash);
}
