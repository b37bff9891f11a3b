import { z } from 'zod';
import { commandPayload, extreamId } from './extream.js';

/**
 * Live streams on `rtmp` items and Zoom meeting signatures (PROTOCOL.md section 8): the
 * streaming service's `client_rtmp_{get,activate,complete}`, the audience's
 * `consumer_zoom_sign`, and the status push. Imports only zod and extream.ts: the client SDK
 * imports this.
 */

export const STREAM_TOPICS = {
  /** The ingest URL and stream key, for the item's broadcaster. */
  rtmpGet: 'client_rtmp_get',
  /** The streaming service: the broadcaster went on air. */
  rtmpActivate: 'client_rtmp_activate',
  /** The streaming service: the recording is done (with its URL). */
  rtmpComplete: 'client_rtmp_complete',
  /** A Zoom Meeting SDK signature for a `zoom` item. */
  zoomSign: 'consumer_zoom_sign',
} as const;

/**
 * `consumer_rtmp_status {id, status, stream_url, seq}` to the connections that joined the item
 * (`consumer_rtmp_get`). A Switchyard addition: PROTOCOL.md names no push for a stream's status.
 */
export const STREAM_PUSHES = {
  status: 'consumer_rtmp_status',
} as const;

/** An rtmp item's status, as `consumer_rtmp_get` and `consumer_rtmp_status` carry it. */
export const STREAM_STATUSES = ['rehearsing', 'live', 'recording', 'complete'] as const;
export type StreamStatus = (typeof STREAM_STATUSES)[number];

/** A key as the gateway makes it is 85 characters; anything much longer is not one of ours. */
export const MAX_STREAM_KEY_LENGTH = 256;
export const MAX_RECORDING_URL_LENGTH = 2048;

const streamKey = z.string().min(1, 'must not be empty').max(MAX_STREAM_KEY_LENGTH, `must be at most ${MAX_STREAM_KEY_LENGTH} characters`);

/** `{id, rotate?}`: `rotate: true` issues a new key, which revokes the one before. */
export const rtmpGet = z.object({ id: extreamId, rotate: z.boolean('must be true or false').optional(), payload: commandPayload });

/** `{id, key?}`: the stream key authenticates the streaming service; without it, its credential must hold `stream_rtmp`. */
export const rtmpActivate = z.object({ id: extreamId, key: streamKey.optional(), payload: commandPayload });

export const rtmpComplete = z.object({
  id: extreamId,
  key: streamKey.optional(),
  /** Where the recording plays from: given to the audience once the stream is recording or complete. */
  recording_url: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .max(MAX_RECORDING_URL_LENGTH, `must be at most ${MAX_RECORDING_URL_LENGTH} characters`)
    .optional(),
  payload: commandPayload,
});

/** Zoom's roles: 0 attendee (the default), 1 host. */
export const ZOOM_ROLES = [0, 1] as const;
export type ZoomRole = (typeof ZOOM_ROLES)[number];

export const zoomSign = z.object({
  id: extreamId,
  role: z.union([z.literal(0), z.literal(1)], 'must be 0 (attendee) or 1 (host)').optional(),
  payload: commandPayload,
});

export type RtmpGet = z.infer<typeof rtmpGet>;
export type RtmpActivate = z.infer<typeof rtmpActivate>;
export type RtmpComplete = z.infer<typeof rtmpComplete>;
export type ZoomSign = z.infer<typeof zoomSign>;
