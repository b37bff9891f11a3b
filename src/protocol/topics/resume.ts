import { z } from 'zod';

/**
 * Reconnect and resume (PROTOCOL.md section 11): the topic a reconnecting client sends as its
 * new socket's first frame, and the answers. Imports only zod: the client SDK imports this.
 */

export const RESUME_TOPICS = {
  resume: 'resume',
} as const;

export const RESUME_ANSWERS = {
  /** Every socket's first frame: `{peer_id, codec, protocol, resume?, resumeWindowSeconds?}`. */
  welcome: 'welcome',
  /** `{missed, peer_id, resume, resumeWindowSeconds}`, after the replayed pushes. */
  resumed: 'resumed',
  /** `{reason, message}`; the socket goes on as the fresh connection its `welcome` named. */
  resumeFailed: 'resume-failed',
} as const;

/**
 * Why a resume failed. `unknown`: no session of this gateway has that token (forged, garbage,
 * another node's, ended, or already resumed: a token serves one resume). `restarted`: the
 * token is from this gateway before it restarted (sessions do not survive one). `expired`: the
 * session's window ended. `gap`: pushes after `since` are no longer kept (the session is then
 * ended). `future`: `since` is past every seq that session was sent. `forbidden`: this socket
 * already sent other frames, or speaks another codec or transport than the session.
 * `rate-limited`: too many failed resumes from this address.
 */
export const RESUME_FAILURES = ['unknown', 'restarted', 'expired', 'gap', 'future', 'forbidden', 'rate-limited'] as const;
export type ResumeFailure = (typeof RESUME_FAILURES)[number];

/** The longest token accepted; the gateway's are about 60 characters. */
export const MAX_RESUME_TOKEN_LENGTH = 256;

/** `resume {session, since}`: `session` is `welcome.data.resume` (or the last `resumed.data.resume`), `since` the last seq seen (0: none). */
export const resumeData = z
  .object({
    session: z.string().min(1).max(MAX_RESUME_TOKEN_LENGTH),
    since: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  })
  .strip();

export type ResumeData = z.output<typeof resumeData>;

export interface WelcomeData {
  peer_id: string;
  codec: 'json' | 'msgpack';
  protocol: 1;
  /** The resume token of this connection; absent when resume is off. */
  resume?: string;
  resumeWindowSeconds?: number;
}

export interface ResumedData {
  /** How many pushes were replayed before this answer. */
  missed: number;
  /** The resumed connection's id: the peer_id from before. */
  peer_id: string;
  /** The token for the next resume: the one just used no longer works. */
  resume: string;
  resumeWindowSeconds: number;
}

export interface ResumeFailedData {
  reason: ResumeFailure;
  message: string;
}
