import { encodePong, type InboundFrame } from '../protocol/index.js';
import { defineTopic, runTopic, type AnyTopic, type RejectStyle } from '../runtime/index.js';
import type { ClientConnection } from './connection.js';

export interface HandlerContext {
  connection: ClientConnection;
  frame: InboundFrame;
  now: number;
}

/** A topic written as a plain function of the connection and the raw frame. */
export type EventHandler = (context: HandlerContext) => void | Promise<void>;

/**
 * A topic from a plain handler: the pipeline runs it like any other (dispatch, replies,
 * counting), without a schema of its own; the handler checks the raw data itself.
 */
export function handlerTopic(name: string, handler: EventHandler, reject?: RejectStyle): AnyTopic<ClientConnection> {
  return defineTopic<unknown, ClientConnection>({
    name,
    ...(reject ? { reject } : {}),
    handle: ({ client, frame, now }) => handler({ connection: client, frame, now }),
  });
}

/** Collects handler topics by name (tests, the Socket.IO fixture). */
export class EventHandlers {
  private readonly byName = new Map<string, AnyTopic<ClientConnection>>();

  on(event: string, handler: EventHandler, reject?: RejectStyle): this {
    if (this.byName.has(event)) throw new Error(`handler for ${event} registered twice`);
    this.byName.set(event, handlerTopic(event, handler, reject));
    return this;
  }

  get topics(): AnyTopic<ClientConnection>[] {
    return [...this.byName.values()];
  }

  /** The topic as a plain function, through the pipeline (tests drive topics this way). */
  get(event: string): EventHandler | undefined {
    const topic = this.byName.get(event);
    return topic && (({ connection, frame, now }) => runTopic(topic, connection, frame, now));
  }
}

/**
 * `ping` -> `pong {ts}`: proves the whole path (decode, dispatch, encode, send) end to end.
 * Guests may ping: it reveals nothing and keeps their call's socket measurably alive.
 * (Handler topics from `handlerTopic` stay closed to guests: they are not vetted one by one.)
 */
export const pingTopic = defineTopic<unknown, ClientConnection>({
  name: 'ping',
  admitGuest: () => true,
  portable: true,
  handle: ({ client, id, now }) => {
    // A native socket gets the pong's bytes straight from the codec (the same bytes, without
    // building and walking a frame: the hottest answer there is); Socket.IO through its encoder.
    if (client.encoder === undefined) client.sendEncoded(encodePong(client.codec, now, id), client.codec === 'msgpack');
    else client.reply(id, 'pong', { ts: now });
  },
});
