import type { Principal } from '../../core/index.js';
import type { SnapshotFrom } from 'xstate';
import { isAppError, streamId } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import type { ResumeFailure } from '../../protocol/topics/resume.js';
import type { ActorRuntime } from '../../runtime/index.js';
import { CONNECTION_CATEGORY, type connectionMachine } from './domain/index.js';
import { newResumeSecret, resumeDigest, secretMatchesDigest, type ResumeToken } from './resume-token.js';

/** What adoption.ts needs of the connections module (lifecycle.ts keeps the state). */
export interface AdoptionSessions {
  /** The principal the connection's session stream shows (the identity module), or undefined. */
  restorePrincipal(connectionId: string): Principal | undefined;
  /** Whether a module pushed the connection something after `since` (its rooms' events). */
  missedSince(connectionId: string, since: number): boolean;
  /** The connection is this node's from now on (recorded): it joins the open connections, detached. */
  adopt(connection: ClientConnection): void;
  /** Ends a lost node's connection that cannot be resumed after all, taking it out of its rooms (a live node's is left to it). */
  endLost(connectionId: string, node: string): Promise<void>;
}

/**
 * `adopted`: the connection is this node's (recorded), detached until the caller hands it the
 * carrier's socket; `missed` when a push it should have had was committed meanwhile (the caller
 * ends it: a gap). `gone`: the carrier closed before anything was recorded.
 */
export type Adoption = { kind: 'adopted'; connection: ClientConnection; missed: boolean } | { kind: 'failed'; reason: ResumeFailure } | { kind: 'gone' };

/**
 * A resume on this cluster node of a connection another node holds, or held before it was lost
 * (PROTOCOL.md sections 11 and 12): this node adopts it. What comes over is what the log keeps:
 * the session (identity) and the room memberships, under the same peer_id. A connection that
 * held more (`pinned`: an audience, a chat follow) is `restarted`. The pushes kept for a resume
 * stay in the other node's memory: when a module pushed the connection anything past `since`
 * (the rooms module: an event of one of its rooms that went to it), the resume is a `gap`;
 * otherwise nothing was missed.
 *
 * The log decides who has it: the resume is recorded only if the connection is still on the
 * node the token names (`fromNode`), so of two nodes racing for one token exactly one wins; a
 * node still alive lets go of its copy when it reads that record (lifecycle.ts, `movedAway`),
 * and the node taking over a lost one (takeover.ts) leaves alone a connection that has moved.
 * No node is asked or waited for: a client whose socket broke resumes on whichever node it
 * reaches next, at once.
 */
export class Adoptions {
  constructor(
    private readonly sessions: AdoptionSessions,
    private readonly deps: { node: string; runtime: Pick<ActorRuntime, 'read' | 'execute' | 'catchUp'> },
  ) {}

  async adopt(carrier: ClientConnection, token: ResumeToken, since: number, now: number): Promise<Adoption> {
    const { runtime, node } = this.deps;
    if (carrier.closed) return { kind: 'gone' };
    const stream = streamId(CONNECTION_CATEGORY, token.connectionId);
    let refused = refusal(runtime.read<typeof connectionMachine>(stream), token, carrier, now);
    // This node's copy of the log may lag the token's node (a secret rotated, a pin, the open
    // itself a moment ago): before refusing, it catches up and looks again. What it accepts is
    // checked again by the append, which expects the stream's last version.
    if (refused) {
      await runtime.catchUp();
      if (carrier.closed) return { kind: 'gone' };
      refused = refusal(runtime.read<typeof connectionMachine>(stream), token, carrier, now);
      if (refused) return failed(refused);
    }
    const principal = this.sessions.restorePrincipal(token.connectionId);
    if (!principal) return failed('restarted');
    if (this.sessions.missedSince(token.connectionId, since)) {
      await this.sessions.endLost(token.connectionId, token.node);
      return failed('gap');
    }

    const { remoteAddress, userAgent, origin } = carrier.info;
    const connection = carrier.successor({ id: token.connectionId, codec: carrier.codec, transport: carrier.info.transport, remoteAddress, userAgent, origin });
    connection.principal = principal;
    connection.resumeSecret = newResumeSecret();
    try {
      await runtime.execute(
        stream,
        {
          type: 'ResumeConnection',
          carrier: carrier.id,
          remoteAddress,
          since,
          replacedSocket: false,
          node,
          resumeDigest: resumeDigest(connection.resumeSecret),
          fromNode: token.node,
          now,
        },
        { actor: `connection:${carrier.id}` },
      );
    } catch (error) {
      // Another node adopted it first, or it was pinned a moment ago.
      if (isAppError(error) && error.code === 'CONFLICT') return failed(runtime.read<typeof connectionMachine>(stream).context.pinned === true ? 'restarted' : 'unknown');
      throw error;
    }
    this.sessions.adopt(connection);
    // Once more, now that it is ours: a room event committed meanwhile was pushed by nobody.
    return { kind: 'adopted', connection, missed: this.sessions.missedSince(token.connectionId, since) };
  }
}

const failed = (reason: ResumeFailure): Adoption => ({ kind: 'failed', reason });

/** Why the log, as this node has it, refuses the token's connection to `carrier`; undefined when it may be adopted. */
function refusal(snapshot: SnapshotFrom<typeof connectionMachine>, token: ResumeToken, carrier: ClientConnection, now: number): ResumeFailure | undefined {
  const { context } = snapshot;
  const holder = secretMatchesDigest(context.resumeDigest, token.secret);
  // Ended (its window ran out, or it could not be kept), or adopted elsewhere: the token's holder hears the node is gone.
  if (snapshot.status === 'done' || snapshot.value === 'idle' || context.node !== token.node) return holder && snapshot.status === 'done' ? 'restarted' : 'unknown';
  if (!holder) return 'unknown';
  if (context.pinned === true) return 'restarted';
  if (context.codec !== carrier.codec || context.transport !== carrier.info.transport) return 'forbidden';
  if (context.detachedUntil !== undefined && now >= context.detachedUntil) return 'expired';
  return undefined;
}
