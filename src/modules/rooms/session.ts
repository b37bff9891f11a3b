import { isAppError } from '../../core/index.js';
import type { ClientConnection } from '../../edge/index.js';
import { IDENTITY_ANSWERS } from '../../protocol/topics/identity.js';
import { requireSession } from '../identity/index.js';

/**
 * Every room event needs a session (PROTOCOL.md section 4): without one the client hears
 * `unauthorized {message:"Token is not valid", code:"UNAUTHORIZED"}`, which Chat Signal
 * clients wait for, and then the topic's own reject (`room-join-reject`, ...), which carries
 * the frame's id and which clients of the named events wait for. The `unauthorized` push
 * carries no id, so an id-keyed waiter still gets the reject as its answer. Off the relay's
 * fast path: it runs only when the check fails.
 */
export function requireRoomSession(client: ClientConnection, data: unknown): void {
  try {
    requireSession(client, data);
  } catch (error) {
    if (isAppError(error) && error.code === 'UNAUTHORIZED') {
      client.send({ event: IDENTITY_ANSWERS.unauthorized, data: { message: error.message, code: error.code } });
    }
    throw error;
  }
}
