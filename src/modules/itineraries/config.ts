import { z } from 'zod';
import { configInt as int, configList as list } from '../../core/index.js';

/**
 * Configuration keys of itineraries and their items (PROTOCOL.md section 8), spread into the
 * one config schema (src/app/config.ts); each is also `SWITCHYARD_<KEY>`.
 */

export const itinerariesConfigShape = {
  /**
   * Where players fetch an rtmp item's HLS stream: `${rtmpPlaybackBaseUrl}/${itemId}/index.m3u8`.
   * The default is a local streaming server for development; set it in production to the
   * streaming service's public playback URL (no trailing slash needed).
   */
  rtmpPlaybackBaseUrl: z.url({ protocol: /^https?$/, error: 'rtmpPlaybackBaseUrl must be an http(s) URL' }).default('http://localhost:8080/live'),
  /** Seconds an rtmp item reports `recording` after its end, before `complete`. */
  rtmpRecordingSeconds: int(0, 30 * 86400).default(3600),
  /** Lifetime of the token a webrtc item's join answer carries: short, as it only opens the call's room. */
  itemSessionTokenSeconds: int(30, 86400).default(300),
  /**
   * Hosts an html item may embed in an iframe (e.g. www.youtube.com), https only. Empty: html
   * items hold no iframes at all. Applies when an item is written (its HTML is stored sanitised).
   */
  itemHtmlIframeHostnames: list.pipe(z.array(z.string().regex(/^[a-z0-9.-]+$/i, 'an iframe hostname is letters, digits, dots and dashes'))).default([]),
};

/** The slice of the gateway's config the itineraries module reads (app/config.ts's `Config` satisfies it). */
export interface ItinerariesConfig {
  readonly rtmpPlaybackBaseUrl: string;
  readonly rtmpRecordingSeconds: number;
  readonly itemSessionTokenSeconds: number;
  readonly itemHtmlIframeHostnames: readonly string[];
}
