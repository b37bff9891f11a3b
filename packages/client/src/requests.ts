import { commandError, serverCode, SwitchyardError, type Receipt } from './errors.js';
import type { Answer } from './topics.js';
import type { IncomingFrame } from './wire.js';

/**
 * Requests between the call and their answer: queued while the client is offline (up to a
 * bound), then in flight under their frame `id` until the direct answer (PROTOCOL.md
 * section 2). Knows how answers look; knows nothing of sockets.
 */

/** Events whose arrival on a request's `id` is a refusal (section 2), besides `error`. */
const REJECT_EVENTS: ReadonlySet<string> = new Set(['auth-reject', 'room-create-reject', 'room-join-reject', 'unauthorized']);

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

const isReceipt = (data: unknown): data is Receipt => isRecord(data) && data.status === 202 && typeof data.messageId === 'number';

export interface PendingOptions {
  timeoutMs: number;
  onReceipt?: ((receipt: Receipt) => void) | undefined;
}

export interface Pending {
  readonly event: string;
  readonly data: unknown;
  /** `command`: an Extream command, whose result body decides success by its status. */
  readonly kind: 'request' | 'command';
  readonly onReceipt: ((receipt: Receipt) => void) | undefined;
  id: number | undefined;
  receipt: Receipt | undefined;
  settle: { resolve(value: unknown): void; reject(error: SwitchyardError): void };
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class RequestBook {
  private readonly queue: Pending[] = [];
  private readonly inFlight = new Map<number, Pending>();
  private lastId = 0;

  constructor(
    private readonly maxQueued: number,
    private readonly reportError: (error: unknown) => void,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  /** A new request and its promise; it times out `timeoutMs` from now, wherever it is then. */
  create(event: string, data: unknown, kind: Pending['kind'], options: PendingOptions): { pending: Pending; promise: Promise<unknown> } {
    let settle!: Pending['settle'];
    const promise = new Promise<unknown>((resolve, reject) => (settle = { resolve, reject }));
    const pending: Pending = { event, data, kind, onReceipt: options.onReceipt, id: undefined, receipt: undefined, settle, timer: undefined };
    if (options.timeoutMs > 0 && Number.isFinite(options.timeoutMs)) {
      pending.timer = setTimeout(() => {
        this.forget(pending);
        this.fail(pending, new SwitchyardError('TIMEOUT', `no answer to ${event} within ${options.timeoutMs} ms`, { receipt: pending.receipt }));
      }, options.timeoutMs);
    }
    return { pending, promise };
  }

  /** Queues a request for the next session; false (and rejected) past `maxQueued`. */
  enqueue(pending: Pending): boolean {
    if (this.queue.length >= this.maxQueued) {
      this.fail(pending, new SwitchyardError('QUEUE_FULL', `offline with ${this.maxQueued} requests already queued (maxQueued)`));
      return false;
    }
    this.queue.push(pending);
    return true;
  }

  /** Takes everything queued, oldest first, to send now. */
  drain(): Pending[] {
    return this.queue.splice(0);
  }

  /** A frame id from the one sequence of every socket, so an old socket's answer never matches a new request. */
  nextId(): number {
    return ++this.lastId;
  }

  /** Gives a request its frame id and waits for the answer on it. */
  sent(pending: Pending): number {
    const id = this.nextId();
    pending.id = id;
    this.inFlight.set(id, pending);
    return id;
  }

  /** Routes a frame carrying an `id`; false when no request waits on it (it timed out, or it is someone else's answer). */
  answer(frame: IncomingFrame): boolean {
    if (frame.id === undefined) return false;
    const pending = this.inFlight.get(frame.id);
    if (!pending) return false;
    const { event, data } = frame;
    // The Extream receipt comes first, on the same id; the result follows.
    if (isReceipt(data) && event !== 'error') {
      pending.receipt = data;
      try {
        pending.onReceipt?.(data);
      } catch (error) {
        this.reportError(error);
      }
      return true;
    }
    this.forget(pending);
    const refused = event === 'error' || (REJECT_EVENTS.has(event) && !(pending.event === 'logout' && event === 'unauthorized'));
    if (refused) {
      const body = isRecord(data) ? data : {};
      const message = typeof body.message === 'string' ? body.message : `${pending.event} was refused`;
      this.fail(pending, new SwitchyardError(serverCode(body.code), message, { event, data, receipt: pending.receipt }));
    } else if (pending.kind === 'command') {
      if (isRecord(data) && typeof data.status === 'number' && data.status < 400) pending.settle.resolve(data);
      else this.fail(pending, commandError(event, isRecord(data) ? data : {}, pending.receipt));
    } else {
      const answer: Answer = { event, data };
      pending.settle.resolve(answer);
    }
    return true;
  }

  /** The socket went away: what was sent cannot be answered any more. Queued requests stay. */
  cutInFlight(): void {
    for (const pending of [...this.inFlight.values()]) {
      this.forget(pending);
      const committed = pending.receipt ? ' (its receipt came: the change is committed)' : '';
      this.fail(pending, new SwitchyardError('DISCONNECTED', `disconnected before ${pending.event} was answered${committed}`, { receipt: pending.receipt }));
    }
  }

  /** The client will not connect again: everything waiting fails with `error`. */
  failAll(error: () => SwitchyardError): void {
    this.cutInFlight();
    for (const pending of this.drain()) this.fail(pending, error());
  }

  private forget(pending: Pending): void {
    if (pending.id !== undefined) this.inFlight.delete(pending.id);
    const at = this.queue.indexOf(pending);
    if (at !== -1) this.queue.splice(at, 1);
    clearTimeout(pending.timer);
  }

  fail(pending: Pending, error: SwitchyardError): void {
    clearTimeout(pending.timer);
    pending.settle.reject(error);
  }
}
