import { randomUUID } from 'node:crypto';
import { humanId } from 'human-id';

/**
 * A new call's instance, which also names its room: a UUID, or memorable words
 * (`gentle-ideas-hear`, from a pool of 15 million) when the start asks `generator: "memorable"`.
 * Words can repeat: the start tries another name when one is taken (its stream exists, or a
 * room of that name is open).
 */
export function newInstanceId(memorable: boolean): string {
  return memorable ? humanId({ separator: '-', capitalize: false }) : randomUUID();
}
