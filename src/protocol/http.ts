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
}

export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export type HttpHandler = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

export interface HttpRoute {
  method: 'get' | 'post' | 'options' | 'any';
  path: string;
  handler: HttpHandler;
  /** Largest body read for this route; larger requests get 413 without reaching the handler. */
  maxBodyBytes?: number;
}
