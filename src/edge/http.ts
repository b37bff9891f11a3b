import { AppError, HTTP_STATUS, toPublicError } from '../core/errors.js';

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

export function json(status: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

/** The HTTP form of an error, the one place errors become statuses (DESIGN.md rule 4). */
export function errorResponse(error: unknown): HttpResponse {
  const { code, message } = toPublicError(error);
  return json(HTTP_STATUS[code], { error: { code, message } });
}

export const notFound = (path: string): AppError => new AppError('NOT_FOUND', `no route for ${path}`);

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  302: 'Found',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export const statusLine = (status: number): string => `${status} ${STATUS_TEXT[status] ?? 'Status'}`;
