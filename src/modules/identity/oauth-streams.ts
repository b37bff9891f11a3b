import { newId, streamId } from '../../core/index.js';
import type { ActorRuntime, CommandResult } from '../../runtime/index.js';
import { OAUTH_CATEGORIES, type OAuthErrorCode, type OAuthRequestCommand } from './domain/index.js';

/** A refusal that belongs to no flow or grant stream: the request's own stream records it. */
export interface OAuthRefusal {
  endpoint: 'authorize' | 'token';
  grantType: string | null;
  clientId: string | null;
  error: OAuthErrorCode;
  reason: string;
  flowId?: string;
  grantId?: string;
}

/**
 * The OAuth2 server's access to the log: its flows, grants and requests are touched a few
 * times in their life, so their actors are loaded when needed and dropped after use.
 */
export class OAuthStreams {
  /** Commands in flight per oauth stream (see `run`). */
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly runtime: ActorRuntime) {}

  /** Records a refusal that belongs to no flow or grant stream (one stream per request). */
  async refuse(refusal: OAuthRefusal, remoteAddress: string): Promise<void> {
    const requestId = newId();
    const command: OAuthRequestCommand = { type: 'RefuseOAuthRequest', requestId, ...refusal, remoteAddress };
    await this.run(streamId(OAUTH_CATEGORIES.request, requestId), command, `address:${remoteAddress}`);
  }

  /**
   * Runs a command, then drops the stream's actor: flows and grants are touched a few times
   * in their life, so they are loaded from the log when needed instead of staying in memory.
   * Only the last command in flight on a stream drops it: an actor another queued command is
   * still using must not be stopped under it.
   */
  async run(stream: string, command: { type: string }, actor: string): Promise<CommandResult> {
    this.inFlight.set(stream, (this.inFlight.get(stream) ?? 0) + 1);
    try {
      return await this.runtime.execute(stream, command, { actor });
    } finally {
      const left = this.inFlight.get(stream)! - 1;
      if (left === 0) {
        this.inFlight.delete(stream);
        this.runtime.release(stream);
      } else {
        this.inFlight.set(stream, left);
      }
    }
  }

  /** A stream's state without keeping its actor (unless a command on it is in flight). */
  peek(stream: string) {
    const snapshot = this.runtime.read(stream);
    if (!this.inFlight.has(stream)) this.runtime.release(stream);
    return snapshot;
  }
}
