/**
 * HTTP requests and responses as routes see them, transport-free: the uWS edge
 * (edge/uws.ts) turns its callbacks into these, and modules declare their routes with them.
 */

/** An HTTP request as route handlers see it: copied out of uWS, safe to use after awaits. */
export interface HttpRequest {
  method: string;
  path: string;
  query: string;
  headers: Readonly<Record<string, string>>;
  body: Buffer;
  remoteAddress: string;
  /**
   * Aborted when the client goes away before the answer (uWS onAborted): a handler holding
   * its answer (a long-poll) lets go of it. Absent where requests are built by hand.
   */
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export type HttpHandler = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

/** A request before its body is read: what a credential check may look at. */
export type HttpRequestHead = Omit<HttpRequest, 'body'>;

/**
 * What a route's `authorize` decides from the request head alone:
 * - an HttpResponse: refused. The body is not read (or what was read is dropped) and the
 *   connection is closed after the answer, so an anonymous upload stops where it is.
 * - an HttpHandler: allowed; this handler, bound to what the check learnt (a verified token),
 *   answers instead of the route's own, so nothing is verified twice.
 * - undefined: allowed; the route's handler answers.
 */
export type HttpAuthorization = HttpResponse | HttpHandler | undefined;

export interface HttpRoute {
  method: 'get' | 'post' | 'options' | 'any';
  path: string;
  handler: HttpHandler;
  /** Largest body read for this route; larger requests get 413 without reaching the handler. */
  maxBodyBytes?: number;
  /**
   * The route's credential check, run by the edge before a byte of the body is buffered
   * (issue 16 point 6: anonymous uploads must cost nothing). Synchronous answers refuse
   * before the body is read at all. A promise (a signature check) cannot hold the body
   * back: uWS must be given its data handler at once, so the edge reads the body (bounded
   * by maxBodyBytes) while the promise runs and drops it the moment the promise refuses.
   * Checks that can refuse synchronously (a missing or malformed header) should do so
   * before going async. A throw or a rejection is answered as the error it carries.
   */
  authorize?: (request: HttpRequestHead) => HttpAuthorization | Promise<HttpAuthorization>;
}
