import type { Clock } from '../../core/index.js';
import type { RecordedEvent } from '../../core/index.js';
import { streamId } from '../../core/index.js';
import type { ActorRuntime, Processor } from '../../runtime/index.js';
import { SFU_CATEGORY, isSfuEvent, sfuAggregate, statusOf, type SfuCommand, type SfuEvent, type SfuSnapshot } from './domain/index.js';
import type { GridDirectory } from './directory.js';

/** A committed event of an SFU server's stream. */
export type RecordedSfuEvent = RecordedEvent & SfuEvent;

const STREAM_PREFIX = `${SFU_CATEGORY}-`;

/**
 * The SFU server streams (`sfu-<address>`) and the grid directory that indexes them.
 *
 * The directory follows the log through `directoryFeed`, a live processor: the local log
 * source delivers a commit to processors before the appender's promise resolves (and the
 * runtime's actors processor, added first, has evolved the actor by then), so by the time a
 * Connect or a Report gets its command's result, the directory already reflects it. That is
 * the read-your-writes the room API needs (a Report's tasks and the next Connect's placement
 * see its own command), with one path for our commands and any other writer's.
 */
export class SfuStreams {
  /** Commands issued and not answered yet: stop waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly runtime: ActorRuntime,
    private readonly directory: GridDirectory,
    private readonly clock: Clock,
  ) {}

  /** Runs a command on a server's stream; resolves with the events it committed. */
  execute(address: string, command: SfuCommand): Promise<RecordedSfuEvent[]> {
    const work = this.runtime.execute<SfuSnapshot>(streamId(SFU_CATEGORY, address), command, { actor: `sfu:${address}` }).then(
      (result) => result.events.filter(isSfuEvent),
      (error: unknown) => {
        // Whatever was reserved for this command (claims of a report) goes back to the log's truth.
        this.load(address, this.clock.now());
        throw error;
      },
    );
    this.inFlight.add(work);
    const forget = () => this.inFlight.delete(work);
    work.then(forget, forget);
    return work;
  }

  /** At start, after the runtime rebuilt the actors: the directory from every server's state. */
  loadAll(now: number): void {
    for (const stream of this.runtime.streams(SFU_CATEGORY)) this.load(stream.slice(STREAM_PREFIX.length), now);
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  /** Keeps the directory in step with every committed SFU event, ours or another process's. */
  readonly directoryFeed: Processor = {
    name: 'grid.directory',
    // The directory is rebuilt from the actors at each start; only what follows is needed.
    startFrom: 'now',
    canHandle: (event) => event.streamId.startsWith(STREAM_PREFIX) && isSfuEvent(event),
    handle: (events) => {
      const byServer = new Map<string, RecordedSfuEvent[]>();
      for (const event of events) {
        if (!isSfuEvent(event)) continue;
        const address = event.streamId.slice(STREAM_PREFIX.length);
        const list = byServer.get(address) ?? [];
        list.push(event);
        byServer.set(address, list);
      }
      const now = this.clock.now();
      for (const [address, serverEvents] of byServer) this.follow(address, serverEvents, now);
    },
  };

  private follow(address: string, events: readonly RecordedSfuEvent[], now: number): void {
    const snapshot = this.runtime.read<typeof sfuAggregate.machine>(streamId(SFU_CATEGORY, address));
    const server = this.directory.server(address);
    // A Connect's placement (reserved in the directory by the placer) and a room API task
    // change only a counter: reloading the whole server on every Connect would cost O(rooms).
    const incremental =
      server !== undefined &&
      events.every(
        (event) =>
          (event.type === 'SfuTaskQueued' && event.data.reason === 'api') ||
          (event.type === 'SfuRoomPlaced' && this.directory.isOn(address, event.data.room)),
      );
    if (incremental) server.pendingTasks = snapshot.context.tasks.length;
    else this.directory.loadServer(address, statusOf(snapshot), snapshot.context, now);
  }

  /** Replaces the directory's view of a server with its live actor's state. */
  private load(address: string, now: number): void {
    const snapshot = this.runtime.snapshot<typeof sfuAggregate.machine>(streamId(SFU_CATEGORY, address));
    if (snapshot) this.directory.loadServer(address, statusOf(snapshot), snapshot.context, now);
  }
}
