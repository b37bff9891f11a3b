import { AppError, isAppError, newId, type Clock, type Principal } from '../core/index.js';
import type { HttpRequest, HttpResponse, HttpRoute, OutboundFrame } from '../protocol/index.js';
import { runTopic, type AnyTopic, type TopicClient } from '../runtime/index.js';
import { json } from './http.js';
import { extreamErrorData, HTTP_STATUS } from './replies.js';

export interface CommandRouteDependencies {
  /** The command topic of that name (an Extream command), or undefined. */
  commandTopic(name: string): AnyTopic | undefined;
  /** Who the Authorization header speaks for; throws UNAUTHORIZED for a header with no valid token. */
  principalOf(authorization: string | undefined, now: number): Promise<Principal>;
  clock: Clock;
  maxBodyBytes: number;
  /** A command failed with something that is not an AppError: a bug, logged with its topic. */
  onInternalError(topic: string, error: unknown): void;
}

const PREFIX = '/v1/commands/';
const TOPIC_NAME = /^[a-z]+_[a-z]+(?:_[a-z]+)+$/;

/**
 * The socket's stand-in for one HTTP command: it collects what the topic answers. It is
 * `closed` from the start, so nothing outlives the request (a consumer command that joins
 * an event's audience skips closed connections, and pushes skip them too).
 */
class HttpCommandClient implements TopicClient {
  readonly id = `http:${newId(9)}`;
  readonly closed = true;
  readonly answers: OutboundFrame[] = [];

  constructor(public principal: Principal) {}

  send(frame: OutboundFrame): void {
    this.answers.push(frame);
  }
}

/**
 * `POST /v1/commands/<topic>` (PROTOCOL.md section 1): any command of section 8 over HTTP,
 * `Authorization: Bearer`, the JSON body as the command's data. The answer is the result
 * body, with its `status` as the HTTP status; the receipt is not sent (the result follows
 * the commit, so it already says the change is in the log).
 */
export function commandRoute(deps: CommandRouteDependencies): HttpRoute {
  const handler = async (request: HttpRequest): Promise<HttpResponse> => {
    const name = request.path.slice(PREFIX.length);
    const topic = TOPIC_NAME.test(name) ? deps.commandTopic(name) : undefined;
    if (!topic) return json(404, extreamErrorData(new AppError('UNKNOWN_EVENT', `unknown command "${name.slice(0, 100)}"`)));
    let data: unknown;
    try {
      data = request.body.length === 0 ? {} : JSON.parse(request.body.toString('utf8'));
    } catch {
      return json(400, extreamErrorData(new AppError('BAD_REQUEST', 'body must be JSON')));
    }
    const now = deps.clock.now();
    try {
      const client = new HttpCommandClient(await deps.principalOf(request.headers.authorization, now));
      await runTopic(topic, client, { event: name, data, id: undefined }, now);
      const result = client.answers.at(-1)?.data as { status?: number } | undefined;
      return json(typeof result?.status === 'number' ? result.status : 200, result ?? null);
    } catch (error) {
      if (!isAppError(error)) deps.onInternalError(name, error);
      const body = extreamErrorData(error);
      const headers: Record<string, string> = body.status === HTTP_STATUS.UNAUTHORIZED ? { 'www-authenticate': 'Bearer' } : {};
      return json(typeof body.status === 'number' ? body.status : 500, body, headers);
    }
  };
  return { method: 'post', path: `${PREFIX}*`, handler, maxBodyBytes: deps.maxBodyBytes };
}
