import { randomBytes } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { newId, streamId } from '../../core/ids.js';
import { RateLimiter } from '../../core/rate-limit.js';
import type { Logger } from '../../edge/logger.js';
import type { IdentityService } from '../identity/index.js';
import type { ActorRuntime, CommandResult, ModuleSocketSink, Scheduler } from '../../runtime/index.js';
import type { EventStore, RecordedEvent } from '../../store/index.js';
import type { SyncConfig } from './config.js';
import {
  SYNC_SESSION_CATEGORY,
  syncSessionRefusal,
  type SyncExpiryReason,
  type SyncSessionCommand,
  type SyncSessionEvent,
  type syncSessionMachine,
  type SyncSessionSnapshot,
} from './domain/index.js';
import { encryptTo, fingerprintOf, parseDevicePublicKey, type ServerRsaKey } from './rsa.js';

/** Texts the page's socket receives (the seed's wire words). */
export const PAGE_TEXT = { pause: '201- pause', ack: '200- ack', failed: '401- failed' } as const;

/** Close codes of the page's socket. */
export const PAGE_CLOSE = {
  verified: { code: 1000, reason: 'sync session verified' },
  expired: { code: 1000, reason: 'sync session expired' },
  failed: { code: 4403, reason: 'sync session failed: too many wrong passwords' },
  shutdown: { code: 1001, reason: 'gateway shutting down; start a new sync session' },
  taken: { code: 4409, reason: 'a page is already connected to this sync session' },
} as const;

/** Wrong passwords (and unreadable ciphertexts) per minute from one address over all sessions. */
const WRONG_PER_MINUTE_PER_ADDRESS = 10;
/** Session ids remembered for their refusal messages ("rotated", "expired"); the oldest go first. */
const REMEMBERED_IDS = 50_000;

/** The page of a session: its socket, and the base URL it reached the gateway at. */
export interface SyncPage {
  readonly syncId: string;
  readonly sink: ModuleSocketSink;
  /** `http(s)://host:port` as the page's upgrade named it: the QR codes point there. */
  readonly baseUrl: string;
  closed: boolean;
}

export interface SyncSessionsDependencies {
  runtime: ActorRuntime;
  store: EventStore;
  scheduler: Scheduler;
  clock: Clock;
  logger: Logger;
  config: SyncConfig;
  identity: IdentityService;
  serverKey: ServerRsaKey;
}

const isStale = (error: unknown): boolean => error instanceof AppError && error.code === 'CONFLICT';

/**
 * Device sync sessions: commands on `syncsession-<syncId>` streams and what follows their
 * commits (texts and closes on the page's socket, the next timer). The socket itself, the
 * id index and the timers live here, in memory, for the process's lifetime: a session never
 * outlives its page's socket, and start() expires what a previous process left live.
 */
export class SyncSessions {
  /** Every session id this process handed out (current or dead) to its syncId. */
  private readonly syncIdOf = new Map<string, string>();
  private readonly pages = new Map<string, SyncPage>();
  private readonly wrongByAddress = new RateLimiter(WRONG_PER_MINUTE_PER_ADDRESS, WRONG_PER_MINUTE_PER_ADDRESS / 60);
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopping = false;

  constructor(private readonly deps: SyncSessionsDependencies) {}

  get serverPublicKeyPem(): string {
    return this.deps.serverKey.publicKeyPem;
  }

  // ---- the page ----

  /** A new session for a user (the caller checked who asks); its first id is in the page's websocket URL. */
  async create(userId: string): Promise<{ syncId: string; sessionId: string }> {
    if (!this.deps.identity.userActive(userId)) throw new AppError('NOT_FOUND', 'unknown or disabled user');
    const syncId = newId();
    const sessionId = newId();
    await this.run(syncId, { type: 'CreateSyncSession', syncId, userId, sessionId, changeLimit: this.deps.config.syncChangeLimit, now: this.deps.clock.now() });
    return { syncId, sessionId };
  }

  /** The upgrade's check: the session whose current id this is, with no page yet; else the refusal. */
  pageMayConnect(userId: string, sessionId: string): string {
    const { syncId, snapshot } = this.resolve(userId, sessionId);
    if (!snapshot.matches('rotating') || snapshot.context.currentId !== sessionId) throw syncSessionRefusal(snapshot, sessionId);
    if (this.pages.has(syncId)) throw new AppError('CONFLICT', PAGE_CLOSE.taken.reason);
    return syncId;
  }

  /** The page's socket opened: it gets the first URLs now, the next ones from the rotation timer. */
  pageOpened(page: SyncPage, sessionId: string): boolean {
    const snapshot = this.read(page.syncId);
    // Checked again: another page (or a rotation) may have come between upgrade and open.
    if (this.pages.has(page.syncId) || !snapshot.matches('rotating') || snapshot.context.currentId !== sessionId) return false;
    this.pages.set(page.syncId, page);
    this.sendUrls(page, sessionId);
    this.armRotation(page.syncId, sessionId, this.deps.clock.now());
    return true;
  }

  pageClosed(page: SyncPage): void {
    page.closed = true;
    if (this.pages.get(page.syncId) !== page) return;
    this.pages.delete(page.syncId);
    // At shutdown the session stays as it is: the next start expires it ('gateway restarted').
    if (this.stopping) return;
    this.track(this.expire(page.syncId, 'page closed'));
  }

  /** The handshake URL of the session's current QR id, for the QR endpoints. */
  currentQrUrl(userId: string, sessionId: string, baseUrl: string): string {
    const { snapshot } = this.resolve(userId, sessionId);
    if (!snapshot.matches('rotating') || snapshot.context.currentId !== sessionId) throw syncSessionRefusal(snapshot, sessionId);
    return handshakeUrl(baseUrl, userId, sessionId);
  }

  // ---- the device ----

  /**
   * `POST .../sessions/<id>/handshake {public_key}`: pauses the rotation. The QR id dies and
   * a verification id only this answer carries replaces it, so whoever else saw the QR code
   * can neither pause again nor verify.
   */
  async handshake(userId: string, sessionId: string, body: unknown, remoteAddress: string): Promise<{ public_key: string; verification_url: string }> {
    const { syncId, snapshot } = this.resolve(userId, sessionId);
    if (!snapshot.matches('rotating') || snapshot.context.currentId !== sessionId) throw syncSessionRefusal(snapshot, sessionId);
    const device = parseDevicePublicKey(field(body, 'public_key'));
    const now = this.deps.clock.now();
    const verificationId = newId();
    const page = this.pages.get(syncId);
    await this.run(syncId, {
      type: 'PauseSyncSession',
      sessionId,
      verificationId,
      devicePublicKey: device.pem,
      deviceKeyFingerprint: device.fingerprint,
      pageConnected: page !== undefined && !page.closed,
      remoteAddress,
      resumeAt: now + this.deps.config.syncPausedSeconds * 1000,
      now,
    });
    return { public_key: this.deps.serverKey.publicKeyPem, verification_url: `/v2/sync/users/${userId}/sessions/${verificationId}` };
  }

  /**
   * `POST <verification_url> {password}`: the user's password, RSA-OAEP to the server key.
   * Checked with the identity module's own password check inside the session's mailbox, so
   * two submissions are decided one after the other and a replay meets a verified session.
   */
  async verify(userId: string, sessionId: string, body: unknown, remoteAddress: string): Promise<{ shared_key: string; user_platforms: unknown[] }> {
    const { syncId, snapshot } = this.resolve(userId, sessionId);
    if (!snapshot.matches('paused') || snapshot.context.currentId !== sessionId) throw syncSessionRefusal(snapshot, sessionId);
    const now = this.deps.clock.now();
    if (!this.wrongByAddress.has(remoteAddress, now)) {
      throw new AppError('RATE_LIMITED', 'too many wrong sync passwords from this address; try again later', {
        retryAfterSeconds: Math.max(1, Math.ceil(this.wrongByAddress.secondsUntil(remoteAddress, now))),
      });
    }
    let password: string;
    try {
      password = this.deps.serverKey.decrypt(field(body, 'password'), 'password').toString('utf8');
    } catch (error) {
      // An unreadable ciphertext is a guess too: it costs the address, not the session.
      this.wrongByAddress.take(remoteAddress, now);
      throw error;
    }
    const sharedKey = randomBytes(32);
    let devicePublicKey = '';
    const result = await this.run(syncId, async (current) => {
      if (!current.matches('paused') || current.context.currentId !== sessionId) throw syncSessionRefusal(current, sessionId);
      devicePublicKey = current.context.devicePublicKey!;
      const username = this.deps.identity.userState(userId).context.username;
      let matched = true;
      try {
        await this.deps.identity.verifyPassword(username, password, { connectionId: null, remoteAddress, now });
      } catch (error) {
        // Wrong password: recorded on the session. Rate limits and disabled users are refused as they are.
        if (!(error instanceof AppError && error.code === 'UNAUTHORIZED')) throw error;
        matched = false;
      }
      return {
        type: 'VerifySyncSession',
        sessionId,
        passwordMatched: matched,
        sharedKeyFingerprint: fingerprintOf(sharedKey),
        maxFailures: this.deps.config.syncPasswordAttempts,
        remoteAddress,
        now,
      };
    });
    const types = result.events.map((event) => event.type);
    if (types.includes('SyncSessionVerified')) return { shared_key: encryptTo(devicePublicKey, sharedKey), user_platforms: [] };
    this.wrongByAddress.take(remoteAddress, now);
    const rejected = result.events.find((event) => event.type === 'SyncSessionPasswordRejected');
    const failures = (rejected?.data as { failures?: number } | undefined)?.failures ?? 0;
    if (types.includes('SyncSessionFailed')) {
      throw new AppError('UNAUTHORIZED', `wrong password; the sync session has failed after ${failures} wrong passwords`);
    }
    throw new AppError('UNAUTHORIZED', `wrong password (${failures} of ${this.deps.config.syncPasswordAttempts} before the sync session fails)`);
  }

  // ---- lifecycle ----

  /**
   * At start: sessions a previous process left rotating or paused lost their page with it;
   * each is expired ('gateway restarted') and its last id remembered, so a device that
   * comes back is told it expired.
   */
  async expireLeftovers(): Promise<number> {
    const created: RecordedEvent[] = [];
    for (let after = 0; ; ) {
      const batch = this.deps.store.readAll({ type: 'SyncSessionCreated', after, limit: 1000 });
      created.push(...batch);
      if (batch.length < 1000) break;
      after = batch[batch.length - 1]!.position;
    }
    let expired = 0;
    for (const event of created) {
      const { syncId } = event.data as { syncId: string };
      const snapshot = this.read(syncId);
      if (!snapshot.matches('rotating') && !snapshot.matches('paused')) continue;
      if (snapshot.context.currentId) this.remember(snapshot.context.currentId, syncId);
      const result = await this.expire(syncId, 'gateway restarted');
      if (result > 0) expired += 1;
    }
    return expired;
  }

  /** At shutdown: pages are told (1001) and commands in flight finish before the log closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const page of [...this.pages.values()]) {
      page.closed = true;
      page.sink.end(PAGE_CLOSE.shutdown.code, PAGE_CLOSE.shutdown.reason);
    }
    this.pages.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  // ---- internals ----

  /** The session an id belongs to, for this user; an id of another user's session is treated like a made-up one. */
  private resolve(userId: string, sessionId: string): { syncId: string; snapshot: SyncSessionSnapshot } {
    const syncId = this.syncIdOf.get(sessionId);
    const snapshot = syncId === undefined ? undefined : this.read(syncId);
    if (syncId === undefined || snapshot === undefined || snapshot.context.userId !== userId) {
      throw new AppError('NOT_FOUND', 'unknown sync session (for this user)');
    }
    return { syncId, snapshot };
  }

  private read(syncId: string): SyncSessionSnapshot {
    return this.deps.runtime.read<typeof syncSessionMachine>(streamId(SYNC_SESSION_CATEGORY, syncId));
  }

  private async expire(syncId: string, reason: SyncExpiryReason): Promise<number> {
    const result = await this.run(syncId, { type: 'ExpireSyncSession', reason, now: this.deps.clock.now() });
    return result.events.length;
  }

  /** Runs a command (or one built from the current state) and then its effects, after the commit. */
  private async run(
    syncId: string,
    command: SyncSessionCommand | ((snapshot: SyncSessionSnapshot) => Promise<SyncSessionCommand>),
  ): Promise<CommandResult<SyncSessionSnapshot>> {
    const stream = streamId(SYNC_SESSION_CATEGORY, syncId);
    const result =
      typeof command === 'function'
        ? await this.deps.runtime.executeWith<SyncSessionSnapshot>(stream, command, { actor: 'sync' })
        : await this.deps.runtime.execute<SyncSessionSnapshot>(stream, command, { actor: 'sync' });
    this.afterCommit(syncId, result.events);
    return result;
  }

  private afterCommit(syncId: string, events: readonly RecordedEvent[]): void {
    const page = this.pages.get(syncId);
    const ends = events.some((event) => event.type === 'SyncSessionExpired');
    for (const recorded of events) {
      const event = { type: recorded.type, data: recorded.data } as SyncSessionEvent;
      switch (event.type) {
        case 'SyncSessionCreated':
          this.remember(event.data.sessionId, syncId);
          // A page that never connects leaves no live session behind.
          this.deps.scheduler.at(timerKey(syncId), event.data.createdAt + this.sleepMs, () => this.timer(this.expire(syncId, 'page never connected')));
          break;
        case 'SyncSessionRotated':
          this.remember(event.data.to, syncId);
          if (!ends && page) {
            this.sendUrls(page, event.data.to);
            this.armRotation(syncId, event.data.to, event.data.rotatedAt);
          }
          break;
        case 'SyncSessionPaused':
          this.remember(event.data.sessionId, syncId);
          if (page) send(page, PAGE_TEXT.pause);
          this.deps.scheduler.at(timerKey(syncId), event.data.resumeAt, (now) =>
            this.timer(this.run(syncId, { type: 'ResumeSyncSession', expectedId: event.data.sessionId, nextId: newId(), now })),
          );
          break;
        case 'SyncSessionResumed':
        case 'SyncSessionPasswordRejected':
          break;
        case 'SyncSessionVerified':
          this.end(syncId, page, PAGE_TEXT.ack, PAGE_CLOSE.verified);
          break;
        case 'SyncSessionFailed':
          this.end(syncId, page, PAGE_TEXT.failed, PAGE_CLOSE.failed);
          break;
        case 'SyncSessionExpired':
          this.end(syncId, page, undefined, PAGE_CLOSE.expired);
          break;
      }
    }
  }

  private end(syncId: string, page: SyncPage | undefined, text: string | undefined, close: { code: number; reason: string }): void {
    this.deps.scheduler.cancel(timerKey(syncId));
    if (!page) return;
    this.pages.delete(syncId);
    if (text !== undefined) send(page, text);
    if (!page.closed) {
      page.closed = true;
      page.sink.end(close.code, close.reason);
    }
  }

  private armRotation(syncId: string, expectedId: string, from: number): void {
    this.deps.scheduler.at(timerKey(syncId), from + this.sleepMs, (now) =>
      this.timer(this.run(syncId, { type: 'RotateSyncSession', expectedId, nextId: newId(), now })),
    );
  }

  /** A timer's command: stale ones (the session moved on since it was set) are no failure. */
  private timer(work: Promise<unknown>): Promise<unknown> {
    const settled = work.catch((error: unknown) => {
      if (!isStale(error)) throw error;
    });
    return this.track(settled);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    const done = () => this.inFlight.delete(work);
    work.then(done, (error: unknown) => {
      done();
      if (!isStale(error)) this.deps.logger.error({ err: error }, 'sync session command failed');
    });
    return work;
  }

  private sendUrls(page: SyncPage, sessionId: string): void {
    const snapshot = this.read(page.syncId);
    const userId = snapshot.context.userId!;
    send(page, JSON.stringify({ qr_url: handshakeUrl(page.baseUrl, userId, sessionId), mobile_url: mobileUrl(page.baseUrl, userId, sessionId) }));
  }

  private remember(sessionId: string, syncId: string): void {
    if (this.syncIdOf.size >= REMEMBERED_IDS) {
      const oldest = this.syncIdOf.keys().next();
      if (!oldest.done) this.syncIdOf.delete(oldest.value);
    }
    this.syncIdOf.set(sessionId, syncId);
  }

  private get sleepMs(): number {
    return this.deps.config.syncSleepSeconds * 1000;
  }
}

const timerKey = (syncId: string): string => `sync.${syncId}`;

function send(page: SyncPage, text: string): void {
  if (!page.closed) page.sink.send(text, false);
}

function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
}

export const handshakePath = (userId: string, sessionId: string): string => `/v2/sync/users/${userId}/sessions/${sessionId}/handshake`;
export const handshakeUrl = (baseUrl: string, userId: string, sessionId: string): string => `${baseUrl}${handshakePath(userId, sessionId)}`;
/** The handshake URL under `app://`, for the phone app to open directly (PROTOCOL.md 7.2). */
export const mobileUrl = (baseUrl: string, userId: string, sessionId: string): string =>
  `app://${baseUrl.replace(/^https?:\/\//, '')}${handshakePath(userId, sessionId)}`;
