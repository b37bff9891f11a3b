import { isAppError } from '../../core/errors.js';
import { json } from '../../edge/http.js';
import { httpErrorResponse } from '../../edge/replies.js';
import type { ModuleSocketRoute } from '../../runtime/index.js';
import { baseUrlOf } from './routes.js';
import { PAGE_CLOSE, type SyncPage, type SyncSessions } from './sessions.js';

const PATH = /^\/v2\/sync\/init\/([A-Za-z0-9_-]{1,128})\/([A-Za-z0-9_-]{1,128})$/;

interface Accepted {
  syncId: string;
  sessionId: string;
  baseUrl: string;
}

/**
 * `/v2/sync/init/<userId>/<sessionId>`: the page's socket (PROTOCOL.md 7.2). Its URL came
 * from the authenticated GET and names an unguessable id; one page per session. It only
 * listens: whatever the page sends is ignored, so nothing on this socket can pause or ack.
 */
export function syncPageSocket(sessions: SyncSessions, ssl: boolean): ModuleSocketRoute {
  return {
    path: '/v2/sync/init/*',
    maxFrameBytes: 1024,
    upgrade(request) {
      const match = PATH.exec(request.url);
      if (!match) return { refuse: json(404, { error: { code: 'NOT_FOUND', message: 'sync socket URLs are /v2/sync/init/<userId>/<sessionId>' } }) };
      const [, userId, sessionId] = match;
      try {
        const syncId = sessions.pageMayConnect(userId!, sessionId!);
        const accepted: Accepted = { syncId, sessionId: sessionId!, baseUrl: baseUrlOf(request.headers, ssl) };
        return { accept: { codec: 'json', protocol: null, data: accepted } };
      } catch (error) {
        if (!isAppError(error)) throw error;
        return { refuse: httpErrorResponse(error) };
      }
    },
    open(sink, data) {
      const accepted = data as Accepted;
      const page: SyncPage = { syncId: accepted.syncId, sink, baseUrl: accepted.baseUrl, closed: false };
      if (!sessions.pageOpened(page, accepted.sessionId)) {
        page.closed = true;
        sink.end(PAGE_CLOSE.taken.code, PAGE_CLOSE.taken.reason);
      }
      return page;
    },
    message() {
      // The page has nothing to say: pause and ack come only from the device's requests.
    },
    close(connection) {
      sessions.pageClosed(connection as SyncPage);
    },
  };
}
