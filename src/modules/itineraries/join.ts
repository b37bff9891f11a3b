import sanitizeHtml from 'sanitize-html';
import type { z } from 'zod';
import { AppError } from '../../core/index.js';
import { ITEM_CONFIGURATIONS, type ItemType, type PollConfiguration } from '../../protocol/topics/itineraries.js';
import { formatExtreamDateTime } from '../../protocol/topics/extream.js';
import type { ItinerariesConfig } from './config.js';
import type { JsonObject } from './domain/index.js';
import type { ItemRecord } from './projection.js';

/**
 * What `consumer_{type}_get {id}` answers to join an item (PROTOCOL.md section 8): what the
 * client needs for the item's type, computed from the item as stored and the command's time.
 */

/** The part of an item joining reads. */
export type JoinableItem = Pick<ItemRecord, 'itemId' | 'type' | 'startDate' | 'endDate' | 'configuration'>;

/** Issues the short-lived token of a webrtc item's call (the identity module's session tokens). */
export type IssueSessionToken = (request: { subject: string; room: string; item: string; now: number; ttlSeconds: number }) => Promise<{ token: string; expiresAt: number | null }>;

export interface JoinDependencies {
  config: Pick<ItinerariesConfig, 'rtmpPlaybackBaseUrl' | 'rtmpRecordingSeconds' | 'itemSessionTokenSeconds'>;
  issueSessionToken: IssueSessionToken;
}

export interface JoinRequest {
  /** Who joins, as the token names them (`user:<id>`, `organisation:<id>`, `connection:<id>`). */
  subject: string;
  now: number;
}

export type RtmpStatus = 'rehearsing' | 'live' | 'recording' | 'complete';

/** The stream goes live this long before the item starts: the crew's last checks are on air. */
export const RTMP_LIVE_BEFORE_START_MS = 30 * 60_000;

/**
 * An rtmp item's status at `now`: rehearsing until 30 minutes before its start, live from then
 * until its end, recording for `recordingSeconds` after it, then complete. An item without a
 * schedule streams whenever its broadcaster does: it is live.
 */
export function rtmpStatus(item: Pick<ItemRecord, 'startDate' | 'endDate'>, now: number, recordingSeconds: number): RtmpStatus {
  if (item.startDate === null || item.endDate === null) return 'live';
  if (now < item.startDate - RTMP_LIVE_BEFORE_START_MS) return 'rehearsing';
  if (now < item.endDate) return 'live';
  if (now < item.endDate + recordingSeconds * 1000) return 'recording';
  return 'complete';
}

/** sanitize-html's defaults, plus images and (only from the configured hosts, https only) iframes. */
function sanitizeOptions(iframeHostnames: readonly string[]): sanitizeHtml.IOptions {
  const iframes = iframeHostnames.length > 0;
  return {
    // Without allowed hosts the tag itself goes: sanitize-html would keep an empty <iframe>.
    allowedTags: [...sanitizeHtml.defaults.allowedTags, 'img', ...(iframes ? ['iframe'] : [])],
    allowedAttributes: {
      ...sanitizeHtml.defaults.allowedAttributes,
      ...(iframes ? { iframe: ['src', 'width', 'height', 'title', 'allow', 'allowfullscreen', 'loading'] } : {}),
    },
    allowedSchemesByTag: { img: ['https', 'http', 'data'], iframe: ['https'] },
    allowedIframeHostnames: [...iframeHostnames],
    allowIframeRelativeUrls: false,
    allowProtocolRelative: false,
    // An iframe whose src was refused (another host, not https) would stay as an empty box: it goes whole.
    exclusiveFilter: (frame) => frame.tag === 'iframe' && !frame.attribs.src,
  };
}

/** An html item's HTML without scripts, event handlers, `javascript:` URLs or foreign iframes. */
export function sanitizeItemHtml(html: string, iframeHostnames: readonly string[] = []): string {
  return sanitizeHtml(html, sanitizeOptions(iframeHostnames));
}

/**
 * A configuration as it is stored: an html item's HTML is sanitised here, when the item is
 * added or updated, so the log never holds a script an admin gave, and every reader (join
 * answers, admin reads, pushes, replays) gets the clean text. Sanitising again on output would
 * be redundant: nothing writes an item's configuration but this path.
 */
export function storedConfiguration(type: ItemType, configuration: JsonObject, iframeHostnames: readonly string[]): JsonObject {
  if (type !== 'html' || typeof configuration.html !== 'string') return configuration;
  return { ...configuration, html: sanitizeItemHtml(configuration.html, iframeHostnames) };
}

/**
 * A poll's questions as an audience sees them: only the fields a question and an answer are
 * known to have. A whitelist, since a quiz's key could hide under any name (`correct`,
 * `is_correct`, `right_answer`...) in the fields kept as given.
 */
function publicQuestions(questions: PollConfiguration['questions']): JsonObject[] {
  return (questions ?? []).map((question) => ({
    ...(question.id === undefined ? {} : { id: question.id }),
    question: question.question,
    order: question.order,
    ...(question.time === undefined ? {} : { time: question.time }),
    answers: question.answers.map((answer) => ({ ...(answer.id === undefined ? {} : { id: answer.id }), text: answer.text, order: answer.order })),
  }));
}

/**
 * An item's configuration as every attendee may see it (consumer reads, joins, pushes): a
 * poll's questions through the same whitelist as its join (no answer keys), a call's
 * participant criteria (invitees' addresses, domains, groups) and participant list left out,
 * an rtmp item's ingest URL (`broadcast`, where the crew publishes) left out. Everything else
 * as stored; admins read the whole configuration.
 */
export function publicConfiguration(type: string, configuration: JsonObject): JsonObject {
  switch (type) {
    case 'poll': {
      const questions = Array.isArray(configuration.questions) ? configuration.questions : undefined;
      if (!questions) return configuration;
      // Stored configurations were checked on write; one that no longer fits shows no questions rather than its keys.
      const parsed = ITEM_CONFIGURATIONS.poll.safeParse(configuration);
      return { ...configuration, questions: parsed.success ? publicQuestions(parsed.data.questions) : [] };
    }
    case 'webrtc':
    case 'zoom': {
      const { criteria: _criteria, participants: _participants, ...rest } = configuration;
      return rest;
    }
    case 'rtmp': {
      const { broadcast: _broadcast, ...rest } = configuration;
      return rest;
    }
    default:
      return configuration;
  }
}

/**
 * A stored configuration read with its type's schema: it was checked when written, so this
 * only restores its type (cheap: configurations are small). One that no longer fits (a
 * schema tightened since) is an operator's problem, not the client's: INTERNAL.
 */
function configurationOf<Output>(type: ItemType, schema: z.ZodType<Output>, configuration: JsonObject): Output {
  const parsed = schema.safeParse(configuration);
  if (!parsed.success) throw new AppError('INTERNAL', `stored ${type} configuration does not fit its schema`);
  return parsed.data;
}

const stringOr = <Fallback>(value: unknown, fallback: Fallback): string | Fallback => (typeof value === 'string' ? value : fallback);

/** The join answer for the item at `now`. */
export async function joinItem(item: JoinableItem, request: JoinRequest, deps: JoinDependencies): Promise<JsonObject> {
  const configuration = item.configuration;
  switch (item.type) {
    case 'rtmp': {
      const base = deps.config.rtmpPlaybackBaseUrl.replace(/\/+$/, '');
      return { stream_url: `${base}/${encodeURIComponent(item.itemId)}/index.m3u8`, status: rtmpStatus(item, request.now, deps.config.rtmpRecordingSeconds) };
    }
    case 'webrtc': {
      const room = stringOr(configuration.instance, `item-${item.itemId}`);
      const issued = await deps.issueSessionToken({ subject: request.subject, room, item: item.itemId, now: request.now, ttlSeconds: deps.config.itemSessionTokenSeconds });
      return {
        room,
        token: issued.token,
        expires_at: formatExtreamDateTime(issued.expiresAt),
        mode: stringOr(configuration.mode, 'group'),
        max_participants: typeof configuration.max_participants === 'number' ? configuration.max_participants : null,
      };
    }
    case 'zoom': {
      const meetingNumber = configuration.meeting_number;
      if (typeof meetingNumber !== 'string' && typeof meetingNumber !== 'number') throw new AppError('NOT_FOUND', 'this zoom item has no meeting yet');
      return { meeting_number: String(meetingNumber), join_url: stringOr(configuration.join_url, null) };
    }
    case 'video':
    case 'vod':
      return { url: stringOr(configuration.url, null) };
    case 'chat':
    case 'forum': {
      const chat = configurationOf(item.type, ITEM_CONFIGURATIONS.chat, configuration);
      return { room: `chat-${item.itemId}`, moderation: chat.moderation ?? 'trust', threads: chat.threads ?? false, private: chat.private ?? false };
    }
    case 'html': {
      // Stored sanitised (storedConfiguration): returned as it is.
      const html = configurationOf(item.type, ITEM_CONFIGURATIONS.html, configuration);
      return html.url !== undefined ? { url: html.url } : { html: html.html ?? '' };
    }
    case 'poll': {
      const poll = configurationOf(item.type, ITEM_CONFIGURATIONS.poll, configuration);
      return { mode: poll.mode ?? 'poll', show_responses: poll.show_responses ?? false, questions: publicQuestions(poll.questions) };
    }
    case 'presentation':
      return { configuration };
  }
}
