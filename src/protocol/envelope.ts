import { AppError } from '../core/index.js';

/** A decoded client frame: `{"event", "data", "id"}` (PROTOCOL.md section 2). */
export interface InboundFrame {
  event: string;
  data: unknown;
  /** Client correlation id; echoed on the direct answer. */
  id: number | undefined;
}

export interface OutboundFrame {
  event: string;
  data: unknown;
  id?: number | undefined;
  /**
   * An answer before the final one (Extream's receipt): native clients get it with the `id`,
   * but a Socket.IO ack is kept for the final answer, which is what an ack callback awaits.
   */
  interim?: boolean;
  /**
   * The log position of the committed event this push comes from (PROTOCOL.md section 11):
   * native frames carry it beside `event`, Socket.IO inside the data. Only pushes made from
   * the log set it; answers and relays never do.
   */
  seq?: number | undefined;
}

/** A frame the server refuses; `id` is set when the frame carried a valid one to echo. */
export class FrameError extends AppError {
  readonly frameId: number | undefined;
  constructor(code: 'BAD_REQUEST' | 'PAYLOAD_TOO_LARGE', message: string, frameId?: number) {
    super(code, message);
    this.frameId = frameId;
  }
}

export const MAX_EVENT_NAME_LENGTH = 64;
const EVENT_NAME = /^[A-Za-z0-9_.:-]+$/;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/**
 * True when `value` nests deeper than `maxDepth` containers. Iterative, so a hostile frame
 * cannot exhaust the stack here, and it stops at the first too-deep branch.
 */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  // Binary (MessagePack bin) is a leaf like a string, not a container: counting it as a level
  // refused a byte field at the deepest allowed level where a string field passed.
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return false;
  const stack: { node: object; depth: number }[] = [{ node: value, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (depth > maxDepth) return true;
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) {
      if (child !== null && typeof child === 'object' && !ArrayBuffer.isView(child)) {
        stack.push({ node: child as object, depth: depth + 1 });
      }
    }
  }
  return false;
}

function readId(raw: Record<string, unknown>): number | undefined {
  if (!('id' in raw) || raw.id === undefined || raw.id === null) return undefined;
  const id = raw.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    throw new FrameError('BAD_REQUEST', '"id" must be a positive integer no larger than 2^53-1');
  }
  return id;
}

/** Validates a decoded value as a frame envelope. */
export function toInboundFrame(raw: unknown, maxDepth: number): InboundFrame {
  if (!isPlainObject(raw)) throw new FrameError('BAD_REQUEST', 'a frame must be an object {"event", "data", "id"}');
  const id = readId(raw);
  const event = raw.event;
  if (typeof event !== 'string' || event.length === 0) {
    throw new FrameError('BAD_REQUEST', '"event" must be a non-empty string', id);
  }
  if (event.length > MAX_EVENT_NAME_LENGTH || !EVENT_NAME.test(event)) {
    throw new FrameError('BAD_REQUEST', `"event" must be at most ${MAX_EVENT_NAME_LENGTH} characters of [A-Za-z0-9_.:-]`, id);
  }
  const data = raw.data === undefined ? null : raw.data;
  if (nestsDeeperThan(data, maxDepth)) throw new FrameError('BAD_REQUEST', `"data" nests deeper than ${maxDepth} levels`, id);
  return { event, data, id };
}
