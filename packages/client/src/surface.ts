import { Emitter } from './emitter.js';
import type { ClientEvents, LifecycleEvents, PushMeta } from './options.js';

/** The emitter's name for onAny's handlers: no event is called `*` (section 2 allows [A-Za-z0-9_.:-]). */
const ANY = '*';

/** The client's event side: handlers for pushes (typed by the push map) and for its lifecycle events. */
export abstract class EventSurface {
  protected readonly emitter: Emitter;

  protected constructor(protected readonly reportError: (error: unknown) => void) {
    this.emitter = new Emitter(reportError);
  }

  /** A push (by its event name) or a lifecycle event; returns the function that removes the handler. */
  on<Name extends keyof ClientEvents & string>(name: Name, handler: (data: ClientEvents[Name], meta: PushMeta) => void): () => void {
    return this.emitter.on(name, handler);
  }

  once<Name extends keyof ClientEvents & string>(name: Name, handler: (data: ClientEvents[Name], meta: PushMeta) => void): () => void {
    const off = this.emitter.on(name, (data: ClientEvents[Name], meta: PushMeta) => {
      off();
      handler(data, meta);
    });
    return off;
  }

  off<Name extends keyof ClientEvents & string>(name: Name, handler: (data: ClientEvents[Name], meta: PushMeta) => void): void {
    this.emitter.off(name, handler);
  }

  /** Every push, typed or not (not the lifecycle events). */
  onAny(handler: (event: string, data: unknown, meta: PushMeta) => void): () => void {
    return this.emitter.on(ANY, handler);
  }

  /** A push from the wire: its data is typed by the server's word (the push map), unchecked here. */
  protected emitPush(event: string, data: unknown, seq: number | undefined): void {
    const meta: PushMeta = { event, seq };
    this.emitter.emit(event, data, meta);
    this.emitter.emit(ANY, event, data, meta);
  }

  protected emit<Name extends keyof LifecycleEvents>(name: Name, data: LifecycleEvents[Name]): void {
    const meta: PushMeta = { event: name, seq: undefined };
    this.emitter.emit(name, data, meta);
  }
}
