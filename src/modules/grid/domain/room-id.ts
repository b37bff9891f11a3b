import type { Duration, RoomId } from './sfu.events.js';

/** One string per room, unambiguous for any namespace and name (both may hold any character). */
export const roomKey = (id: RoomId): string => JSON.stringify(id);

/**
 * The `{tag}` of a room name: rooms of one namespace with the same tag are placed on the same
 * server (ODIN's room name convention, e.g. `lobby{eu-1}` and `match-7{eu-1}`). Null when the
 * name has no complete `{...}`.
 */
export function tagOf(name: string): string | null {
  const start = name.indexOf('{');
  if (start === -1) return null;
  const end = name.indexOf('}', start + 1);
  if (end === -1) return null;
  return name.slice(start + 1, end);
}

/** Rooms sharing a group key are co-located; null: the room has no tag. */
export function groupKeyOf(id: RoomId): string | null {
  const tag = tagOf(id[1]);
  return tag === null ? null : JSON.stringify([id[0], tag]);
}

/** Seconds as the `{secs, nanos}` duration ODIN servers read. */
export function durationOf(seconds: number): Duration {
  const secs = Math.floor(seconds);
  return { secs, nanos: Math.round((seconds - secs) * 1e9) };
}
