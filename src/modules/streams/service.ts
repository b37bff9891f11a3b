import { createHash, randomBytes } from 'node:crypto';
import type { SecretBox } from '../../auth/index.js';
import { AppError, streamId, type EventMetadata } from '../../core/index.js';
import type { ActorRuntime } from '../../runtime/index.js';
import type { JoinedItem } from '../itineraries/index.js';
import type { StreamsConfig } from './config.js';
import { STREAM_CATEGORY, streamStatus, type StreamCommand, type StreamStatus } from './domain/index.js';
import { untouchedStream, type StreamDirectory, type StreamRecord } from './projection.js';
import { phaseAt } from './schedule.js';

/** Who issues a change (the audit view's answer), what ties its answers together, and its time. */
export interface StreamCommandContext extends EventMetadata {
  actor: string;
  now: number;
}

/** The part of an item a stream needs: its id and its schedule. */
export type StreamItem = Pick<JoinedItem, 'itemId' | 'startDate' | 'endDate'>;

export interface StreamView {
  status: StreamStatus;
  record: StreamRecord;
}

export interface IssuedCredentials {
  streamKey: string;
  generation: number;
  issuedAt: number;
  /** Position of the StreamKeyIssued; undefined when the current key was shown again. */
  position: number | undefined;
}

export interface StreamsServiceDependencies {
  runtime: ActorRuntime;
  directory: StreamDirectory;
  secrets: Pick<SecretBox, 'seal' | 'open'>;
  config: Pick<StreamsConfig, 'rtmpPlaybackBaseUrl' | 'rtmpPreviewBaseUrl' | 'rtmpRecordingSeconds'>;
}

/** SHA-256 of a stream key: what the log and the stream's state keep, and what a presented key is checked against. */
export const streamKeyHash = (key: string): string => createHash('sha256').update(key, 'utf8').digest('base64url');

/**
 * A new stream key: `live_<itemId>_<32 random bytes, base64url>`. The random part makes it
 * unguessable; the item id in it lets a streaming service's publish hook name the item in
 * `client_rtmp_activate {id, key}` from the key alone.
 */
const newStreamKey = (itemId: string): string => `live_${itemId}_${randomBytes(32).toString('base64url')}`;

const hlsUrl = (base: string, itemId: string): string => `${base.replace(/\/+$/, '')}/${encodeURIComponent(itemId)}/index.m3u8`;

/**
 * Live streams on rtmp items (PROTOCOL.md section 8): the broadcaster's key, the streaming
 * service's activate and complete, the clock's status changes, each a command on the item's
 * `stream-<itemId>` stream; and the status and URL a viewer gets now.
 *
 * Status is computed, not read: the join answers what the schedule's phase at `now` and the
 * stream's recorded facts (activated, completed) say, the same function decide records
 * transitions with. The recorded status (StreamStatusChanged) is the history and what pushes
 * follow; the scheduler keeps it in step with the clock.
 */
export class Streams {
  constructor(private readonly deps: StreamsServiceDependencies) {}

  /** The stream's facts as the read model holds them; an item nobody streamed yet reads as untouched. */
  record(itemId: string): StreamRecord {
    return this.deps.directory.get(itemId) ?? untouchedStream(itemId);
  }

  /** The status at `now`, with the facts it was computed from. */
  view(item: StreamItem, now: number): StreamView {
    const record = this.record(item.itemId);
    return { status: streamStatus(phaseAt(item, now, this.deps.config.rtmpRecordingSeconds), record), record };
  }

  /**
   * The URL a viewer plays in this status: the live stream while live; the recording once
   * recording or complete (the live URL until the streaming service names a recording);
   * while rehearsing nothing for the audience, and the preview for those who may see it.
   */
  streamUrl(itemId: string, status: StreamStatus, recordingUrl: string | null, mayPreview: boolean): string | null {
    const { rtmpPlaybackBaseUrl, rtmpPreviewBaseUrl } = this.deps.config;
    switch (status) {
      case 'live':
        return hlsUrl(rtmpPlaybackBaseUrl, itemId);
      case 'recording':
      case 'complete':
        return recordingUrl ?? hlsUrl(rtmpPlaybackBaseUrl, itemId);
      case 'rehearsing':
        return mayPreview ? hlsUrl(rtmpPreviewBaseUrl ?? rtmpPlaybackBaseUrl, itemId) : null;
    }
  }

  /**
   * The broadcaster's stream key: the current one shown again, or a new one (the first, or on
   * `rotate`), which revokes every earlier key from its commit on.
   */
  async credentials(item: StreamItem, rotate: boolean, context: StreamCommandContext): Promise<IssuedCredentials> {
    const current = this.record(item.itemId);
    if (current.keyHash !== null && !rotate) return this.shown(current);
    const streamKey = newStreamKey(item.itemId);
    const { position, generation } = await this.run(
      item.itemId,
      { type: 'IssueStreamKey', itemId: item.itemId, keyHash: streamKeyHash(streamKey), sealedSecret: this.deps.secrets.seal(streamKey), replace: rotate, now: context.now },
      context,
    );
    // Another first ask won the race: its key is the one, shown here too.
    if (position === undefined) return this.shown(this.record(item.itemId));
    return { streamKey, generation, issuedAt: context.now, position };
  }

  /** The current key, opened from the read model to be shown again. */
  private shown(record: StreamRecord): IssuedCredentials {
    if (record.sealedKey === null || record.keyIssuedAt === null) throw new AppError('INTERNAL', 'a stream key without its sealed copy');
    try {
      return { streamKey: this.deps.secrets.open(record.sealedKey), generation: record.keyGeneration, issuedAt: record.keyIssuedAt, position: undefined };
    } catch {
      // Sealed under another secrets key (data/keys/secrets.key was replaced): the key still
      // activates (its hash is checked), but cannot be shown; a new one can.
      throw new AppError('UNAVAILABLE', 'this stream key cannot be shown again: ask for a new one with rotate: true');
    }
  }

  /** The streaming service: the broadcaster is on air. `key` null: its credential was checked by the caller. */
  async activate(item: StreamItem, key: string | null, context: StreamCommandContext): Promise<{ position: number | undefined; view: StreamView }> {
    const phase = phaseAt(item, context.now, this.deps.config.rtmpRecordingSeconds);
    const { position } = await this.run(item.itemId, { type: 'ActivateStream', itemId: item.itemId, phase, presentedKeyHash: key === null ? null : streamKeyHash(key), now: context.now }, context);
    return { position, view: this.view(item, context.now) };
  }

  /** The streaming service: the recording is done, playing from `recordingUrl` when it says. */
  async complete(item: StreamItem, key: string | null, recordingUrl: string | null, context: StreamCommandContext): Promise<{ position: number | undefined; view: StreamView }> {
    const phase = phaseAt(item, context.now, this.deps.config.rtmpRecordingSeconds);
    const { position } = await this.run(
      item.itemId,
      { type: 'CompleteStream', itemId: item.itemId, phase, presentedKeyHash: key === null ? null : streamKeyHash(key), recordingUrl, now: context.now },
      context,
    );
    return { position, view: this.view(item, context.now) };
  }

  /** The scheduler's command: records the status the clock now gives, if it changed. */
  async recordStatus(item: StreamItem, now: number): Promise<number | undefined> {
    const phase = phaseAt(item, now, this.deps.config.rtmpRecordingSeconds);
    const record = this.record(item.itemId);
    // Most timers fire to find the status as recorded (a far boundary re-checked): no command then.
    if (streamStatus(phase, record) === record.status) return undefined;
    const { position } = await this.run(item.itemId, { type: 'RecordStreamStatus', itemId: item.itemId, phase, now }, { actor: 'system:streams', now });
    return position;
  }

  private async run(itemId: string, command: StreamCommand, context: StreamCommandContext): Promise<{ position: number | undefined; generation: number }> {
    const { now: _now, ...metadata } = context;
    const result = await this.deps.runtime.execute<{ context: { generation: number } }>(streamId(STREAM_CATEGORY, itemId), command, metadata);
    return { position: result.events.at(-1)?.position, generation: result.snapshot.context.generation };
  }
}
