import type { Clock } from '../../core/index.js';
import { sendToAll, type ClientConnection } from '../../edge/index.js';
import { STREAM_PUSHES } from '../../protocol/topics/streams.js';
import type { Processor, Scheduler } from '../../runtime/index.js';
import { isItineraryEvent, type ItemModulePorts } from '../itineraries/index.js';
import { isStreamEvent } from './domain/index.js';
import type { StreamDirectory } from './projection.js';
import type { StreamRoles } from './roles.js';
import { nextPhaseChangeAt } from './schedule.js';
import type { Streams } from './service.js';

/**
 * A far boundary is re-checked at least this often: Node's setTimeout takes at most 2^31-1 ms
 * (24.8 days) and fires at once past it, and an item's start may be months away.
 */
const MAX_TIMER_MS = 24 * 3600_000;
/** After a failed status command the timer tries again this much later, not in a loop. */
const RETRY_MS = 5000;

const timerKey = (itemId: string): string => `stream-status:${itemId}`;

export interface StreamTimerDependencies {
  streams: Streams;
  directory: StreamDirectory;
  items: ItemModulePorts['items'];
  scheduler: Scheduler;
  clock: Clock;
  config: { rtmpRecordingSeconds: number };
  logger: Pick<ItemModulePorts['logger'], 'warn'>;
}

/**
 * The clock's side of an rtmp item's status (DESIGN.md: timers are commands from the
 * scheduler). One timer per item that can still change, at its next phase boundary; when it
 * fires, the status the clock now gives is recorded (StreamStatusChanged) if it changed, and
 * the next one is armed. Timers die with the process: `resume()` at start re-arms every open
 * item from the read model, and one whose recorded status is behind the clock (its boundary
 * passed while the gateway was down) is recorded at once.
 */
export class StreamTimers {
  private stopped = false;

  constructor(private readonly deps: StreamTimerDependencies) {}

  /** (Re-)arms the item's timer from its schedule and recorded state now; cancels it when nothing can change any more. */
  arm(itemId: string): void {
    if (this.stopped) return;
    const { items, streams, scheduler, clock, config } = this.deps;
    const key = timerKey(itemId);
    const item = items.get(itemId);
    if (!item || item.type !== 'rtmp') {
      scheduler.cancel(key);
      return;
    }
    const now = clock.now();
    const { status, record } = streams.view(item, now);
    if (record.completedAt !== null) {
      scheduler.cancel(key);
      return;
    }
    if (status !== record.status) {
      scheduler.at(key, now, (at) => this.fire(itemId, at));
      return;
    }
    const next = nextPhaseChangeAt(item, now, config.rtmpRecordingSeconds);
    if (next === undefined) scheduler.cancel(key);
    else scheduler.at(key, Math.min(next, now + MAX_TIMER_MS), (at) => this.fire(itemId, at));
  }

  /** Re-arms every item whose status can still change; returns how many. */
  resume(): number {
    const open = this.deps.directory.open();
    for (const itemId of open) this.arm(itemId);
    return open.length;
  }

  stop(): void {
    this.stopped = true;
  }

  private async fire(itemId: string, now: number): Promise<void> {
    const item = this.deps.items.get(itemId);
    if (!item || this.stopped) return;
    try {
      await this.deps.streams.recordStatus(item, now);
    } catch (error) {
      this.deps.logger.warn({ err: error, item: itemId }, 'stream status change not recorded; retrying');
      if (!this.stopped) this.deps.scheduler.at(timerKey(itemId), now + RETRY_MS, (at) => this.fire(itemId, at));
      return;
    }
    this.arm(itemId);
  }
}

/**
 * Re-arms an item's timer when its schedule or its stream changes, from the log: an item added
 * or moved by the CLI or another socket, a stream completed or an item removed (no timer any
 * more). Live only: `resume()` covers what happened while the gateway was down.
 */
export function streamScheduleProcessor({ timers, directory, audiences }: { timers: StreamTimers; directory: StreamDirectory; audiences: { dropEvent(itemId: string): void } }): Processor {
  return {
    name: 'streams.schedule',
    startFrom: 'now',
    canHandle: (event) =>
      isStreamEvent(event) || (isItineraryEvent(event) && (event.type === 'ItemAdded' || event.type === 'ItemUpdated' || event.type === 'ItemRemoved') && directory.has(event.data.itemId)),
    handle(events) {
      const touched = new Set<string>();
      for (const event of events) {
        if (isStreamEvent(event)) touched.add(event.data.itemId);
        else if (isItineraryEvent(event) && 'itemId' in event.data) {
          touched.add(event.data.itemId);
          // A removed item's stream is pushed no more: its audience goes with it.
          if (event.type === 'ItemRemoved') audiences.dropEvent(event.data.itemId);
        }
      }
      for (const itemId of touched) timers.arm(itemId);
    },
  };
}

export interface StreamPushDependencies {
  streams: Streams;
  roles: StreamRoles;
  items: ItemModulePorts['items'];
  audiences: { members(itemId: string): ReadonlySet<ClientConnection> };
}

/**
 * `consumer_rtmp_status {id, status, stream_url, seq}` to the item's audience after each
 * recorded status change or completion (a recording URL changes what the audience plays),
 * from the log, once per item per batch with the position of its last event. A rehearsal's
 * URL is for those who may preview it: the audience gets null, so the members are split in
 * two and each half's frame encoded once (sendToAll).
 */
export function streamPushProcessor({ streams, roles, items, audiences }: StreamPushDependencies): Processor {
  return {
    name: 'streams.pushes',
    startFrom: 'now',
    canHandle: (event) => isStreamEvent(event) && (event.type === 'StreamStatusChanged' || event.type === 'StreamCompleted'),
    handle(events) {
      const touched = new Map<string, number>();
      for (const event of events) if (isStreamEvent(event)) touched.set(event.data.itemId, event.position);
      for (const [itemId, seq] of touched) {
        const members = audiences.members(itemId);
        const item = items.get(itemId);
        if (members.size === 0 || !item) continue;
        const { status, recordingUrl } = streams.record(itemId);
        const frame = (mayPreview: boolean) => {
          const data = { id: itemId, status, stream_url: streams.streamUrl(itemId, status, recordingUrl, mayPreview), seq };
          return { event: STREAM_PUSHES.status, data, seq };
        };
        if (status !== 'rehearsing') {
          sendToAll(members, frame(false));
          continue;
        }
        const previewers: ClientConnection[] = [];
        const others: ClientConnection[] = [];
        for (const member of members) (roles.mayPreview(member.principal, item) ? previewers : others).push(member);
        sendToAll(previewers, frame(true));
        sendToAll(others, frame(false));
      }
    },
  };
}
