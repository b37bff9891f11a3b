import { z } from 'zod';
import { configInt as int } from '../../core/index.js';

/**
 * Configuration keys of streams (rtmp items) and Zoom signatures, spread into the one config
 * schema (src/app/config.ts); each is also `SWITCHYARD_<KEY>`. The playback URL and the
 * recording window are the itineraries module's (rtmpPlaybackBaseUrl, rtmpRecordingSeconds):
 * one definition of where an item's stream plays and when it is recorded.
 */

/** A Zoom Meeting SDK key (Zoom's "Client ID" of a Meeting SDK app): letters, digits, `_` and `-`. */
export const zoomSdkKey = z
  .string()
  .min(1, 'a Zoom SDK key must not be empty')
  .max(200, 'a Zoom SDK key is at most 200 characters')
  .regex(/^[A-Za-z0-9_-]+$/, 'a Zoom SDK key is letters, digits, "_" and "-"');

/** The SDK secret (Zoom's "Client Secret"). Error messages never quote it. */
export const zoomSdkSecret = z
  .string()
  .min(8, 'a Zoom SDK secret is at least 8 characters')
  .max(512, 'a Zoom SDK secret is at most 512 characters')
  .regex(/^\S+$/, 'a Zoom SDK secret has no spaces or line breaks');

const zoomCredentials = z.record(z.string().min(1, 'an organisation id must not be empty'), z.object({ key: zoomSdkKey, secret: zoomSdkSecret }).strict());

export const streamsConfigShape = {
  /**
   * Where broadcasters push an rtmp item's stream (the streaming service's RTMP ingest), handed
   * out by `client_rtmp_get` with the stream key. The default is a local server for development.
   */
  rtmpIngestBaseUrl: z.url({ protocol: /^rtmps?$/, error: 'rtmpIngestBaseUrl must be an rtmp:// or rtmps:// URL' }).default('rtmp://localhost/live'),
  /**
   * Where crew, chiefs and the broadcaster watch a rehearsing stream: `${base}/${itemId}/index.m3u8`.
   * Unset: rtmpPlaybackBaseUrl (the audience is then kept from it only by not being told).
   */
  rtmpPreviewBaseUrl: z.url({ protocol: /^https?$/, error: 'rtmpPreviewBaseUrl must be an http(s) URL' }).optional(),
  /** rtmp items one connection hears `consumer_rtmp_status` of; past it the one joined longest ago is dropped. */
  streamSubscriptionsPerConnection: int(1, 10_000).default(64),
  /** Validity of a Zoom signature after its `iat` (Zoom accepts 30 min to 48 h). */
  zoomSignatureSeconds: int(30 * 60, 48 * 3600).default(7200),
  /**
   * Zoom Meeting SDK credentials per organisation, as a JSON object `{"<organisationId>":
   * {"key": "...", "secret": "..."}}`. Those set with `switchyard zoom set` (in the log, the
   * secret sealed) take precedence; these serve organisations the CLI has not set.
   */
  zoomSdkCredentials: z
    .preprocess((value, context) => {
      if (typeof value !== 'string') return value;
      try {
        return JSON.parse(value) as unknown;
      } catch {
        context.addIssue({ code: 'custom', message: 'zoomSdkCredentials must be a JSON object' });
        return z.NEVER;
      }
    }, zoomCredentials)
    .default({}),
};

/** The slice of the gateway's config the streams module reads (app/config.ts's `Config` satisfies it). */
export interface StreamsConfig {
  readonly rtmpIngestBaseUrl: string;
  readonly rtmpPreviewBaseUrl?: string | undefined;
  readonly streamSubscriptionsPerConnection: number;
  readonly zoomSignatureSeconds: number;
  readonly zoomSdkCredentials: Readonly<Record<string, { readonly key: string; readonly secret: string }>>;
  /** The itineraries module's keys: where an item's stream plays, and how long it records after its end. */
  readonly rtmpPlaybackBaseUrl: string;
  readonly rtmpRecordingSeconds: number;
  /** The data directory: the secrets key (data/keys/secrets.key) seals stream keys and Zoom secrets. */
  readonly dataDir: string;
}
