/**
 * Handlers by event name. Untyped on purpose: the client's `on`/`off` type the handlers by
 * its event maps, and the data of a push is typed by the server's word (the push map), not by
 * anything checked here. A handler's exception is reported and never stops the SDK's own work.
 */
export type AnyHandler = (...args: never) => void;

export class Emitter {
  private readonly handlers = new Map<string, Set<AnyHandler>>();

  constructor(private readonly reportError: (error: unknown) => void) {}

  on(name: string, handler: AnyHandler): () => void {
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    set.add(handler);
    return () => this.off(name, handler);
  }

  off(name: string, handler: AnyHandler): void {
    this.handlers.get(name)?.delete(handler);
  }

  emit(name: string, ...args: unknown[]): void {
    const set = this.handlers.get(name);
    if (!set) return;
    // A copy: a handler that removes itself (once) must not make the loop skip the next one.
    for (const handler of [...set]) {
      try {
        Reflect.apply(handler, undefined, args);
      } catch (error) {
        this.reportError(error);
      }
    }
  }
}
