import type { SerializedEvent } from './expected-version.js';
import type { ExpectedVersion } from './types.js';

/**
 * How one append travels as one JetStream message: its subject (which log stream) and its
 * body (the events). Pure functions, shared by the appender and the mirror's ingest, so both
 * sides agree byte for byte.
 */

/** Stream ids made only of these characters are their own subject token (`room-8f3c`). */
const PLAIN_TOKEN = /^[A-Za-z0-9_-]+$/;
/** Marks an escaped token; never a plain token's first character, so the two cannot collide. */
const ESCAPE = '~';

/**
 * The subject token of a log stream. NATS tokens may not hold `.`, `*`, `>` or whitespace, and
 * room names come from users, so anything beyond `[A-Za-z0-9_-]` is escaped as `~` plus the
 * base64url of its UTF-8 bytes (`room-a.b` -> `~cm9vbS1hLmI`). Injective: the per-subject
 * sequence JetStream checks is then exactly the per-stream version's.
 */
export function subjectToken(streamId: string): string {
  return PLAIN_TOKEN.test(streamId) ? streamId : `${ESCAPE}${Buffer.from(streamId, 'utf8').toString('base64url')}`;
}

/** The stream id of a token `subjectToken` made, or undefined for a token it cannot have made. */
export function streamIdOfToken(token: string): string | undefined {
  if (PLAIN_TOKEN.test(token)) return token;
  if (!token.startsWith(ESCAPE)) return undefined;
  const streamId = Buffer.from(token.slice(1), 'base64url').toString('utf8');
  // Only the canonical spelling counts: base64 with stray padding or bits would name the same id
  // on another subject, where JetStream's per-subject expectation would not see it.
  return streamId.length > 0 && subjectToken(streamId) === token ? streamId : undefined;
}

export function subjectOf(prefix: string, streamId: string): string {
  return `${prefix}.${subjectToken(streamId)}`;
}

/** The stream id a message's subject names, or undefined when no append could have used it. */
export function streamIdOfSubject(prefix: string, subject: string): string | undefined {
  if (!subject.startsWith(`${prefix}.`)) return undefined;
  const token = subject.slice(prefix.length + 1);
  return token.includes('.') ? undefined : streamIdOfToken(token);
}

/** Version of the body's shape, so a later format can be told apart from this one. */
const FORMAT = 1;

export interface AppendBody {
  streamId: string;
  /** The caller's expected version: the mirror checks it again at ingest (see mirror.ts). */
  expected: ExpectedVersion;
  recordedAt: number;
  /** Data and metadata as the JSON text the append serialized: the mirror stores that very text. */
  events: SerializedEvent[];
}

/**
 * JSON, with each event's data and metadata kept as the serialized text (a string) rather
 * than re-nested: every node's mirror then stores exactly the appender's bytes, with no
 * parse-and-stringify in between that could differ.
 */
export function encodeAppend(body: AppendBody): Uint8Array {
  return Buffer.from(
    JSON.stringify({ format: FORMAT, streamId: body.streamId, expected: body.expected, recordedAt: body.recordedAt, events: body.events }),
    'utf8',
  );
}

/** The append in a message body, or a reason it is not one (a foreign or damaged message). */
export function decodeAppend(payload: Uint8Array): AppendBody | { malformed: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    return { malformed: 'body is not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null) return { malformed: 'body is not an object' };
  const { format, streamId, expected, recordedAt, events } = parsed as Record<string, unknown>;
  if (format !== FORMAT) return { malformed: `unknown body format ${String(format)}` };
  if (typeof streamId !== 'string' || streamId.length === 0) return { malformed: 'no stream id' };
  if (!isExpectedVersion(expected)) return { malformed: 'no expected version' };
  if (typeof recordedAt !== 'number' || !Number.isSafeInteger(recordedAt)) return { malformed: 'no recordedAt' };
  if (!Array.isArray(events) || events.length === 0) return { malformed: 'no events' };
  const checked: SerializedEvent[] = [];
  for (const event of events as unknown[]) {
    if (typeof event !== 'object' || event === null) return { malformed: 'an event is not an object' };
    const { type, data, metadata } = event as Record<string, unknown>;
    if (typeof type !== 'string' || type.length === 0 || typeof data !== 'string' || typeof metadata !== 'string') {
      return { malformed: 'an event lacks its type, data or metadata' };
    }
    try {
      JSON.parse(data);
      const meta: unknown = JSON.parse(metadata);
      if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return { malformed: 'event metadata is not an object' };
    } catch {
      return { malformed: 'event data or metadata is not JSON' };
    }
    checked.push({ type, data, metadata });
  }
  return { streamId, expected, recordedAt, events: checked };
}

function isExpectedVersion(value: unknown): value is ExpectedVersion {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0;
  return value === 'any' || value === 'no_stream' || value === 'stream_exists';
}
