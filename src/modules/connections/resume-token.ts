import { createHash, timingSafeEqual } from 'node:crypto';
import { newId } from '../../core/index.js';

/**
 * Resume tokens (PROTOCOL.md section 11): `r1.<node>.<connection>.<secret>`, opaque to
 * clients. `node` names the gateway process that issued it (a random id per start: a token of
 * an earlier process is from before a restart), `connection` the connection it resumes (its
 * public peer_id), `secret` 128 random bits kept with the connection and replaced by each
 * resume, so a token serves one resume. The secret is what makes the token: knowing a peer_id
 * (every room member does) gives nothing.
 *
 * Compared as the stored string against the presented one with `timingSafeEqual`: both are
 * 22 base64url characters (the length is checked first and is no secret), so no hash is
 * needed to get equal lengths, and the compare takes the same time wherever they differ.
 */

const VERSION = 'r1';
const PART = /^[A-Za-z0-9_-]+$/;
/** newId(16) and newId(8) in base64url. */
const SECRET_LENGTH = 22;
const CONNECTION_ID_LENGTH = 22;
const NODE_LENGTH = 11;

export interface ResumeToken {
  node: string;
  connectionId: string;
  secret: string;
}

/** A process's node id: a new one at each start. */
export const newNodeId = (): string => newId(8);

export const newResumeSecret = (): string => newId(16);

export function formatResumeToken(token: ResumeToken): string {
  return `${VERSION}.${token.node}.${token.connectionId}.${token.secret}`;
}

/** The token's parts, or undefined for anything that is not one of ours (of any process). */
export function parseResumeToken(text: string): ResumeToken | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) return undefined;
  const [, node, connectionId, secret] = parts as [string, string, string, string];
  if (node.length !== NODE_LENGTH || connectionId.length !== CONNECTION_ID_LENGTH || secret.length !== SECRET_LENGTH) return undefined;
  if (!PART.test(node) || !PART.test(connectionId) || !PART.test(secret)) return undefined;
  return { node, connectionId, secret };
}

/** Constant-time equality of a stored secret and a presented one (see above). */
export function secretsEqual(stored: string | undefined, presented: string): boolean {
  if (stored === undefined || stored.length !== presented.length) return false;
  return timingSafeEqual(Buffer.from(stored, 'latin1'), Buffer.from(presented, 'latin1'));
}

/**
 * What the log keeps of a secret in a cluster (ConnectionOpened, ConnectionResumed): its
 * SHA-256, so another node can check a token after a node loss. 128 random bits cannot be
 * found from their hash, so a reader of the log learns nothing it could resume with.
 */
export function resumeDigest(secret: string): string {
  return createHash('sha256').update(secret, 'latin1').digest('base64url');
}

/** Constant-time check of a presented secret against the digest the log keeps. */
export function secretMatchesDigest(digest: string | undefined, presented: string): boolean {
  if (digest === undefined) return false;
  const expected = Buffer.from(digest, 'latin1');
  const actual = Buffer.from(resumeDigest(presented), 'latin1');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
