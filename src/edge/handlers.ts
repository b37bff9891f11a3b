import type { InboundFrame } from '../protocol/index.js';
import type { ClientConnection } from './connection.js';

export interface HandlerContext {
  connection: ClientConnection;
  frame: InboundFrame;
  now: number;
}

/** Handles one native event. Throw an AppError to answer with an error frame. */
export type EventHandler = (context: HandlerContext) => void | Promise<void>;

/**
 * Native events by name. Areas (identity, rooms, ...) add theirs at wiring time, so the
 * edge knows no event names of its own beyond `ping`.
 */
export class EventHandlers {
  private readonly handlers = new Map<string, EventHandler>();

  on(event: string, handler: EventHandler): this {
    if (this.handlers.has(event)) throw new Error(`handler for ${event} registered twice`);
    this.handlers.set(event, handler);
    return this;
  }

  get(event: string): EventHandler | undefined {
    return this.handlers.get(event);
  }
}

/** `ping` -> `pong {ts}`: proves the whole path (decode, dispatch, encode, send) end to end. */
export const pingHandler: EventHandler = ({ connection, frame, now }) => {
  connection.reply(frame.id, 'pong', { ts: now });
};
