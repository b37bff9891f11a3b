import type { Clock } from '../../core/index.js';
import { RateLimiter, isAppError, streamId } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import {
  RESUME_ANSWERS,
  RESUME_TOPICS,
  resumeData,
  type ResumeData,
  type ResumedData,
  type ResumeFailedData,
  type ResumeFailure,
  type WelcomeData,
} from '../../protocol/topics/resume.js';
import { defineTopic, type ActorRuntime, type Topic } from '../../runtime/index.js';
import type { ResumeConfig } from './config.js';
import { CONNECTION_CATEGORY, type ConnectionCommand, type connectionMachine } from './domain/index.js';
import { formatResumeToken, newResumeSecret, parseResumeToken, resumeDigest, secretsEqual, type ResumeToken } from './resume-token.js';
import type { Adoptions } from './adoption.js';

/** Every way a resume ends, as the metrics count them. */
export type ResumeOutcome = 'resumed' | ResumeFailure;

export interface ResumeObserver {
  resume(outcome: ResumeOutcome): void;
}

/** What resume.ts needs of the connections module (lifecycle.ts keeps the state). */
export interface ResumeSessions {
  get(id: string): ClientConnection | undefined;
  /** The recording of the connection's open, until committed (its `welcome` follows it). */
  opening(connection: ClientConnection): Promise<unknown> | undefined;
  detachment(connection: ClientConnection): { code: number; until: number; resuming: boolean } | undefined;
  detachedCount(): number;
  /** Stops the connection's window (a resume is being recorded); an attached one loses its old socket (4509). */
  hold(connection: ClientConnection): 'detached' | 'attached';
  /** The resume did not complete: the connection is detached again; `logShows` is its state in the log. */
  unhold(connection: ClientConnection, logShows: 'detached' | 'open'): void;
  /** Ends the connection for real. */
  end(connection: ClientConnection, code: number, reason: string): void;
  /** The connection writes to `carrier`'s socket from now on; the carrier's own connection ends in the log. */
  handOver(connection: ClientConnection, carrier: ClientConnection): void;
  /** After `handOver` of a connection adopted from a lost node: the modules restore what they hold of it. */
  adopted(connection: ClientConnection): void;
  execute(connection: ClientConnection, command: ConnectionCommand): Promise<unknown>;
}

export interface ResumptionDependencies {
  config: ResumeConfig;
  clock: Clock;
  /** This process's node id (resume-token.ts). */
  node: string;
  /** Reads an earlier process's connection from the log, to tell `restarted` from `unknown`. */
  runtime: Pick<ActorRuntime, 'read'>;
  /** In a cluster: resumes of connections whose node was lost (adoption.ts). */
  adoptions?: Adoptions;
}

/** How long, and how many, ended sessions are remembered to answer `expired` or `gap` instead of `unknown`. */
const MAX_REMEMBERED_ENDINGS = 10_000;

const MESSAGES: Record<ResumeFailure, string> = {
  unknown: 'no session of this gateway has that token',
  restarted: 'the gateway restarted since: its sessions are gone',
  expired: 'the session was not resumed within its window',
  gap: 'pushes after since are no longer kept: the session cannot be replayed whole',
  future: 'since is past every seq this session was sent',
  forbidden: 'resume must be the first frame of a socket, with the codec and transport of the session',
  'rate-limited': 'too many failed resumes from this address; start afresh',
};

/**
 * `resume {session, since}` (PROTOCOL.md section 11): a new socket takes over a connection
 * that lost its socket (or whose client noticed the cut first), gets the pushes it missed in
 * order, then `resumed`; or `resume-failed {reason}` and it goes on as the fresh connection its
 * own `welcome` named.
 *
 * The log tells it consistently: the new socket's own connection is opened as any (its
 * `welcome` comes first, before the resume's answer), the resumed connection records
 * `ConnectionResumed` naming it (before `resumed` is sent), and the new socket's own connection
 * then ends with `ConnectionClosed {code: 1000, resumedConnection}`; modules never heard of it.
 */
export class Resumptions {
  observer: ResumeObserver | undefined;
  /** Failed resumes per address: a token cannot be guessed at any speed. */
  private readonly failures: RateLimiter;
  /** Sessions ended while resumable, by connection id: their token answers why for a window more. */
  private readonly endings = new Map<string, { secret: string; reason: 'expired' | 'gap'; until: number }>();
  readonly topic: Topic<ResumeData, ClientConnection>;
  /** Connections adopted from a lost node whose client still holds that node's token (its resume here did not complete). */
  private readonly adoptedFrom = new WeakMap<ClientConnection, string>();

  constructor(
    private readonly sessions: ResumeSessions,
    private readonly deps: ResumptionDependencies,
  ) {
    const perMinute = deps.config.resumeFailuresPerMinutePerAddress;
    this.failures = new RateLimiter(perMinute, perMinute / 60);
    this.topic = defineTopic<ResumeData, ClientConnection>({
      name: RESUME_TOPICS.resume,
      schema: resumeData,
      portable: true,
      handle: ({ client, data, id, now }) => this.resume(client, data, id, now),
    });
  }

  get enabled(): boolean {
    return this.deps.config.resumeWindowSeconds > 0;
  }

  /** The `welcome` of a new connection: with its resume token (a new secret) when resume is on. */
  welcome(connection: ClientConnection): WelcomeData {
    const data: WelcomeData = { peer_id: connection.id, codec: connection.codec, protocol: 1 };
    if (!this.enabled) return data;
    return { ...data, resume: this.issue(connection), resumeWindowSeconds: this.deps.config.resumeWindowSeconds };
  }

  /** A resumable session ended without its client coming back: its token says why, for a while. */
  ended(connection: ClientConnection, reason: 'expired' | 'gap'): void {
    const now = this.deps.clock.now();
    const secret = connection.resumeSecret;
    if (secret === undefined) return;
    for (const [id, ending] of this.endings) {
      if (ending.until > now && this.endings.size < MAX_REMEMBERED_ENDINGS) break;
      this.endings.delete(id);
    }
    this.endings.set(connection.id, { secret, reason, until: now + this.deps.config.resumeWindowSeconds * 1000 });
  }

  private async resume(carrier: ClientConnection, { session, since }: ResumeData, id: number | undefined, now: number): Promise<void> {
    // A socket that did anything else first may hold state (a sign-in, a subscription) that
    // would leak if it became another connection.
    if (carrier.framesDispatched !== 1 || carrier.handedTo !== undefined) return this.fail(carrier, id, 'forbidden', now);
    const address = carrier.info.remoteAddress;
    if (!this.enabled) return this.fail(carrier, id, 'unknown', now);
    if (!this.failures.has(address, now)) return this.fail(carrier, id, 'rate-limited', now);
    // Every socket's first frame is its own `welcome`, resuming or not.
    await this.sessions.opening(carrier);
    if (carrier.closed) return;
    const token = parseResumeToken(session);
    // This node's token, or the lost node's for a connection adopted here whose first resume did not complete.
    const local = token && this.sessions.get(token.connectionId);
    const connection = local && (token.node === this.deps.node || this.adoptedFrom.get(local) === token.node) ? local : undefined;
    if (token && !local && token.node !== this.deps.node && this.deps.adoptions) return this.adopt(carrier, token, since, id, now);
    if (!token || !connection || !secretsEqual(connection.resumeSecret, token.secret)) return this.fail(carrier, id, this.notFound(token, now), now);
    if (connection === carrier || connection.codec !== carrier.codec || connection.info.transport !== carrier.info.transport) {
      return this.fail(carrier, id, 'forbidden', now);
    }
    const detachment = this.sessions.detachment(connection);
    if (detachment && now >= detachment.until) {
      this.ended(connection, 'expired');
      this.sessions.end(connection, detachment.code, `not resumed within ${this.deps.config.resumeWindowSeconds} s`);
      return this.fail(carrier, id, 'expired', now);
    }
    const replay = connection.replayFrom(since);
    if (replay.kind === 'future') return this.fail(carrier, id, 'future', now);
    if (replay.kind === 'gap') return this.gap(connection, carrier, id, now);

    // Claimed: the token is spent (another socket presenting it is `unknown`), its window stopped.
    const presented = connection.resumeSecret;
    connection.resumeSecret = newResumeSecret();
    const was = this.sessions.hold(connection);
    // Not taken over after all: detached again, and the token the client holds works again.
    const giveBack = (recorded = true): void => {
      connection.resumeSecret = presented;
      this.sessions.unhold(connection, recorded || was === 'attached' ? 'open' : 'detached');
    };
    try {
      await this.sessions.execute(connection, {
        type: 'ResumeConnection',
        carrier: carrier.id,
        remoteAddress: address,
        since,
        replacedSocket: was === 'attached',
        // In a cluster the log keeps the new secret's digest (another node checks it), and the
        // resume is ours only while the connection is (another node may have adopted it).
        ...(this.deps.adoptions ? { resumeDigest: resumeDigest(connection.resumeSecret), fromNode: this.deps.node } : {}),
        now,
      });
    } catch (error) {
      giveBack(false);
      // In a cluster: another node adopted it a moment ago (this node lets go of it on reading that).
      if (isAppError(error) && error.code === 'CONFLICT') return this.fail(carrier, id, 'unknown', now);
      throw error;
    }
    if (connection.closed) return this.fail(carrier, id, 'unknown', now);
    if (carrier.closed) return giveBack();
    // A frame the client sent before the answer ran on the new socket's own connection and may
    // have left state there (a subscription): that connection cannot become the old one.
    if (carrier.framesDispatched !== 1) {
      giveBack();
      return this.fail(carrier, id, 'forbidden', now);
    }
    // Pushes kept while the resume was recorded are in the replay too, in order.
    const missed = connection.replayFrom(since);
    if (missed.kind !== 'replay') {
      connection.resumeSecret = presented;
      return this.gap(connection, carrier, id, now);
    }
    this.sessions.handOver(connection, carrier);
    connection.replay(missed.frames);
    const data: ResumedData = {
      missed: missed.frames.length,
      peer_id: connection.id,
      resume: this.issue(connection),
      resumeWindowSeconds: this.deps.config.resumeWindowSeconds,
    };
    connection.send({ event: RESUME_ANSWERS.resumed, data, id });
    this.observer?.resume('resumed');
  }

  /** A connection of a lost cluster node (adoption.ts): this node's from now on, or the refusal. */
  private async adopt(carrier: ClientConnection, token: ResumeToken, since: number, id: number | undefined, now: number): Promise<void> {
    const adoption = await this.deps.adoptions!.adopt(carrier, token, since, now);
    if (adoption.kind === 'gone') return;
    if (adoption.kind === 'failed') return this.fail(carrier, id, adoption.reason, now);
    const { connection } = adoption;
    if (adoption.missed) {
      this.sessions.end(connection, 1006, 'resume impossible: pushes after since are no longer kept');
      return this.fail(carrier, id, 'gap', now);
    }
    // The socket closed, or sent another frame, meanwhile: the connection stays here, detached,
    // resumable by the token its client holds.
    if (carrier.closed || carrier.framesDispatched !== 1) {
      connection.resumeSecret = token.secret;
      this.adoptedFrom.set(connection, token.node);
      this.sessions.unhold(connection, 'open');
      if (!carrier.closed) this.fail(carrier, id, 'forbidden', now);
      return;
    }
    this.sessions.handOver(connection, carrier);
    this.sessions.adopted(connection);
    const data: ResumedData = { missed: 0, peer_id: connection.id, resume: this.issue(connection), resumeWindowSeconds: this.deps.config.resumeWindowSeconds };
    connection.send({ event: RESUME_ANSWERS.resumed, data, id });
    this.observer?.resume('resumed');
  }

  /**
   * Pushes the client missed are gone: replaying the rest would hide the loss, so a detached
   * session ends (its client starts afresh). One still on its old socket keeps it: the server
   * sees that socket alive, and will detach it (then end it) if it is not.
   */
  private gap(connection: ClientConnection, carrier: ClientConnection, id: number | undefined, now: number): void {
    if (connection.detached) {
      this.ended(connection, 'gap');
      this.sessions.end(connection, 1006, 'resume impossible: pushes after since are no longer kept');
    }
    this.fail(carrier, id, 'gap', now);
  }

  /** Why a token names no live session here: an ended one (to its holder only), a restart, or nothing. */
  private notFound(token: ResumeToken | undefined, now: number): ResumeFailure {
    if (!token) return 'unknown';
    if (token.node === this.deps.node) {
      const ending = this.endings.get(token.connectionId);
      return ending && ending.until > now && secretsEqual(ending.secret, token.secret) ? ending.reason : 'unknown';
    }
    // Another process's token: one that opened this connection in this log, i.e. before a restart?
    const snapshot = this.deps.runtime.read<typeof connectionMachine>(streamId(CONNECTION_CATEGORY, token.connectionId));
    return snapshot.context.node === token.node ? 'restarted' : 'unknown';
  }

  private fail(carrier: ClientConnection, id: number | undefined, reason: ResumeFailure, now: number): void {
    if (reason !== 'rate-limited') this.failures.take(carrier.info.remoteAddress, now);
    const data: ResumeFailedData = { reason, message: MESSAGES[reason] };
    carrier.send({ event: RESUME_ANSWERS.resumeFailed, data, id });
    this.observer?.resume(reason);
  }

  private issue(connection: ClientConnection): string {
    connection.resumeSecret ??= newResumeSecret();
    return formatResumeToken({ node: this.deps.node, connectionId: connection.id, secret: connection.resumeSecret });
  }
}
