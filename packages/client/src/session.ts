import type { AuthOptions } from './options.js';
import type { Answer } from './topics.js';

/**
 * What the SDK knows of its server-side session between sockets: the peer id, the resume
 * token and window from `welcome` (PROTOCOL.md section 11), the rooms it is in, and the
 * token to sign a fresh session in with.
 */

export type SignInMethod = NonNullable<AuthOptions['method']>;

export interface Credentials {
  method: SignInMethod;
  token: string;
}

export interface Welcome {
  peerId: string | undefined;
  /** The opaque resume token; absent when the server does not offer resume. */
  resume: string | undefined;
  resumeWindowSeconds: number | undefined;
}

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);
const stringField = (value: unknown, key: string): string | undefined => (isRecord(value) && typeof value[key] === 'string' ? value[key] : undefined);

export function readWelcome(data: unknown): Welcome {
  const window = isRecord(data) && typeof data.resumeWindowSeconds === 'number' ? data.resumeWindowSeconds : undefined;
  return { peerId: stringField(data, 'peer_id'), resume: stringField(data, 'resume'), resumeWindowSeconds: window };
}

/** `resume-failed.reason`, or what the SDK calls an answer without one. */
export const resumeFailure = (data: unknown): string => stringField(data, 'reason') ?? 'unknown';

/** The `since` and missed count of `resumed`. */
export const missedOf = (data: unknown): number => (isRecord(data) && typeof data.missed === 'number' ? data.missed : 0);

/** The frame a fresh session signs in with. */
export function signInFrame(credentials: Credentials): { event: SignInMethod; data: unknown } {
  const { method, token } = credentials;
  return { event: method, data: method === 'auth-request' ? { token } : { method: 'oauth2', token } };
}

/**
 * The credentials a successful sign-in leaves to sign in with again: `login`/`mfa` hand out an
 * access token (`authorized.token`) to `authorize` with; `authorize`, `authenticate` and
 * `auth-request` succeed with the token they sent. `logout` leaves none (null); anything
 * else changes nothing (undefined).
 */
export function credentialsAfter(event: string, data: unknown, answer: Answer): Credentials | null | undefined {
  switch (event) {
    case 'logout':
      return null;
    case 'login':
    case 'mfa': {
      const token = answer.event === 'authorized' ? stringField(answer.data, 'token') : undefined;
      return token === undefined ? undefined : { method: 'authorize', token };
    }
    case 'authorize':
    case 'authenticate': {
      const token = stringField(data, 'token');
      return token === undefined ? undefined : { method: event, token };
    }
    case 'auth-request': {
      const token = typeof data === 'string' ? data : stringField(data, 'token');
      return token === undefined ? undefined : { method: 'auth-request', token };
    }
    default:
      return undefined;
  }
}

/**
 * The rooms this session is in, by its own answers and pushes: created, joined (accepted),
 * left, closed or banned from. Reported in `restarted`, never rejoined by the SDK (a join
 * needs an owner's approval, a create may now collide: the app decides).
 */
export class RoomBook {
  private readonly rooms = new Set<string>();

  get all(): ReadonlySet<string> {
    return this.rooms;
  }

  /** A direct answer to this client's own request. */
  answered(requestEvent: string, requestData: unknown, answer: Answer): void {
    const room = stringField(answer.data, 'room');
    if (room === undefined) return;
    if (answer.event === 'room-create-accept' || (requestEvent === 'room-join-request' && answer.event === 'room-join-accept')) this.rooms.add(room);
    if (requestEvent === 'room-leave' && stringField(requestData, 'room') === room) this.rooms.delete(room);
  }

  pushed(event: string, data: unknown, peerId: string | undefined): void {
    const room = stringField(data, 'room');
    if (room === undefined) return;
    if (event === 'room-closed' || event === 'room-banned') this.rooms.delete(room);
    // A join accepted after its request timed out here arrives as a push.
    if (event === 'room-join-accept' && peerId !== undefined && stringField(data, 'peer_id') === peerId) this.rooms.add(room);
  }

  /** The rooms a lost session was in; the new one is in none. */
  takeAll(): string[] {
    const rooms = [...this.rooms];
    this.rooms.clear();
    return rooms;
  }
}
