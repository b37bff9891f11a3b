import type { ResumeFailure } from '../../../src/protocol/topics/resume.js';
import type { BackoffOptions } from './backoff.js';
import type { PushMap } from './topics.js';
import type { CodecName } from './wire.js';
import type { WebSocketConstructor } from './websocket.js';

/** How the SDK signs a fresh session in (the first one, and each one after a failed resume). */
export interface AuthOptions {
  /**
   * The event to sign in with: `authorize {method:"oauth2", token}` (user and guest tokens,
   * the default), `authenticate {method:"oauth2", token}` (organisation tokens) or
   * `auth-request {token}` (Chat Signal app tokens).
   */
  method?: 'authorize' | 'authenticate' | 'auth-request';
  /** Called before every fresh sign-in, so an expired token can be refreshed; no token: stay anonymous. */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /**
   * Without `getToken`: sign in again with the last token this client signed in with (the
   * `token` of `login`/`mfa`'s `authorized`, or the token sent in a successful `authorize`,
   * `authenticate` or `auth-request`), forgotten on `logout`. Kept in memory only. Default true.
   */
  remember?: boolean;
}

export interface ReconnectOptions extends BackoffOptions {
  /** Consecutive failed attempts before giving up (the client then closes for good). */
  maxAttempts: number;
}

/**
 * Why a session is new: the server's `resume-failed` reason (`unknown`, `restarted`, `expired`,
 * `gap`, `future`, `forbidden`, `rate-limited`: src/protocol/topics/resume.ts), or the SDK's:
 * `unsupported` (the server offered no resume token), `disabled` (`resume: false`). Open to
 * reasons a newer server may add.
 */
export type RestartReason = ResumeFailure | 'unsupported' | 'disabled' | (string & {});

export interface RestartInfo {
  reason: RestartReason;
  /** Rooms the old session was in, by the SDK's account; the new session is in none of them. */
  rooms: string[];
}

export interface ClientOptions {
  /** `ws(s)://host:port/ws`, or a function asked before every attempt (another node, a fresh query string). */
  url: string | (() => string | Promise<string>);
  /** The server's frames' codec, by subprotocol; the SDK sends in the same one. Default `json`. */
  codec?: CodecName;
  /** The WebSocket class; default the global one. In Node 20 pass the `ws` package's. */
  WebSocket?: WebSocketConstructor;
  /** Default bound of a request from the call to its answer, queue time included. Default 10 000. */
  requestTimeoutMs?: number;
  /** Requests kept while offline; past it they fail with QUEUE_FULL. Default 100. */
  maxQueued?: number;
  /** `false`: never reconnect. Defaults: baseMs 500, maxMs 30 000, maxAttempts Infinity. */
  reconnect?: false | Partial<ReconnectOptions>;
  /** From opening a socket to a usable session (welcome, resume); past it the attempt counts as failed. Default 10 000. */
  handshakeTimeoutMs?: number;
  /** `ping` after `intervalMs` without a frame; no answer in `timeoutMs` drops the socket. Default 25 000 / 10 000; `false`: off. */
  heartbeat?: false | { intervalMs?: number; timeoutMs?: number };
  auth?: AuthOptions;
  /** Resume the session after a cut (section 11). Default true. */
  resume?: boolean;
  /** After a fresh session replaced a lost one (and the SDK signed it in): re-join and re-subscribe here. Awaited before queued requests go out. */
  onRestart?: (info: RestartInfo) => void | Promise<void>;
  /** The jitter's random source, in [0, 1). */
  random?: () => number;
  /** Where exceptions thrown by handlers go. Default console.error. */
  onError?: (error: unknown) => void;
}

/** The client's own events, beside the pushes. */
export interface LifecycleEvents {
  /** A socket is being opened; attempt 0 is the first connection, then the reconnect attempt's number. */
  connecting: { attempt: number };
  /** The session is usable: resumed, or fresh (and signed in when the SDK could). */
  open: { peerId: string | undefined; resumed: boolean };
  /** The next attempt is in `delayMs`. */
  reconnecting: { attempt: number; delayMs: number };
  /** A socket closed (or an attempt failed). `code` 1006 also stands for the SDK's own timeouts. */
  closed: { code: number; reason: string; willReconnect: boolean };
  /** The old session is back with its rooms and subscriptions; its `missed` pushes were delivered just before. */
  resumed: { missed: number; peerId: string | undefined };
  /** The session is new: nothing of the old one is left on the server (see `RestartInfo`). */
  restarted: RestartInfo;
  /** The SDK's own sign-in of a fresh session was refused (the session stays anonymous). */
  'auth-failed': { code: string; message: string };
}

export interface PushMeta {
  event: string;
  /** The log position the push comes from, when it comes from the log. */
  seq: number | undefined;
}

export type ClientEvents = PushMap & LifecycleEvents;
