import uWS from 'uWebSockets.js';
import { DISCONNECT } from '../core/index.js';
import { AppError, isAppError } from '../core/index.js';
import type { Codec } from '../core/index.js';
import { negotiateSubprotocol } from '../protocol/index.js';
import type { SocketSink } from './connection.js';
import { CoalescingWriter, SendCoalescer } from './send-coalescing.js';
import { httpErrorResponse } from './replies.js';
import { checkTlsFiles, type TlsFiles } from './tls.js';
import { statusLine, type HttpAuthorization, type HttpRequestHead, type HttpResponse, type HttpRoute } from './http.js';

/**
 * The only file that imports uWebSockets.js (DESIGN.md rule 2). It turns uWS callbacks into
 * plain calls on the gateway and keeps the uWS rules in one place: copy buffers before any
 * await, set onAborted before async work, cork writes after an await (every WebSocket send
 * outside the socket's own callback is corked with the rest of its turn: send-coalescing.ts),
 * never touch a socket after its close event.
 */

/** The package falls back to a slow `ws` shim when its binary fails to load. */
export function uwsIsNative(): boolean {
  return /\[native code\]/.test(Function.prototype.toString.call(uWS.App));
}

export interface UpgradeRequest {
  url: string;
  query: string;
  headers: Readonly<Record<string, string>>;
  remoteAddress: string;
}

export interface WebSocketRoute {
  path: string;
  /** This route's largest message, when not the edge's `maxFrameBytes` (Socket.IO: its maxPayload). */
  maxFrameBytes?: number;
  /** Decides on the upgrade: an HTTP refusal, or what the socket's user data should hold. */
  upgrade(request: UpgradeRequest): { refuse: HttpResponse } | { accept: { codec: Codec; protocol: string | null; data: unknown } };
  open(sink: SocketSink, data: unknown): unknown;
  message(connection: unknown, message: ArrayBuffer, isBinary: boolean): void;
  drain?(connection: unknown): void;
  close(connection: unknown, code: number, reason: string): void;
}

export interface EdgeOptions {
  host: string;
  port: number;
  ssl?: TlsFiles | undefined;
  maxFrameBytes: number;
  maxBackpressureBytes: number;
  idleTimeoutSeconds: number;
  http: readonly HttpRoute[];
  webSockets: readonly WebSocketRoute[];
  /**
   * The last-resort guard: an exception thrown out of a uWS callback would end the process,
   * so every callback runs under this. The routes answer their own errors; what reaches this
   * is a bug, logged and counted while the gateway keeps serving.
   */
  onUncaught(where: string, error: unknown): void;
}

interface SocketData {
  connection: unknown;
  payload: unknown;
  /** The socket's sink, from its open to its close. */
  writer: CoalescingWriter | undefined;
}

export interface Edge {
  port: number;
  /** Stops accepting new connections; open sockets stay. */
  stopListening(): void;
}

const DEFAULT_BODY_LIMIT = 1024 * 1024;
/**
 * uWS drops a connection without a close frame when a message exceeds its limit. We let
 * uWS accept up to this multiple of our own limit so that the usual oversized frame gets a
 * proper 1009 close from us; only a frame beyond it is cut off by uWS itself.
 */
const HARD_FRAME_FACTOR = 4;

/**
 * The fallback shim (allowed only with SWITCHYARD_ALLOW_UWS_FALLBACK=1) throws "Not
 * implemented" from header iteration, remote addresses, case-sensitive methods and custom
 * upgrades. On it, HTTP works through the calls it has, and WebSocket upgrades are refused:
 * Switchyard's sockets need the native binary.
 */
const NATIVE = uwsIsNative();
const SHIM_HEADERS = [
  'host', 'origin', 'user-agent', 'authorization', 'content-type', 'content-length', 'cookie', 'accept',
  'sec-websocket-key', 'sec-websocket-protocol', 'sec-websocket-extensions', 'sec-websocket-version', 'x-forwarded-for',
];

function readHeaders(req: uWS.HttpRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!NATIVE) {
    for (const name of SHIM_HEADERS) {
      const value = req.getHeader(name);
      if (value) headers[name] = value;
    }
    return headers;
  }
  req.forEach((key, value) => {
    headers[key] = value;
  });
  return headers;
}

function remoteAddressOf(res: uWS.HttpResponse): string {
  return NATIVE ? Buffer.from(res.getRemoteAddressAsText()).toString() : '';
}

function queryOf(req: uWS.HttpRequest): string {
  try {
    return req.getQuery() ?? '';
  } catch {
    return '';
  }
}

/**
 * `closeConnection` ends the TCP connection after the answer: uWS then closes the socket
 * instead of reading on, so a client still sending a body it was refused stops there.
 */
function writeResponse(res: uWS.HttpResponse, response: HttpResponse, closeConnection = false): void {
  res.cork(() => {
    res.writeStatus(statusLine(response.status));
    for (const [key, value] of Object.entries(response.headers ?? {})) res.writeHeader(key, value);
    res.end(response.body ?? '', closeConnection);
  });
}

/**
 * One request's body as it arrives. `discard()` (a refusal, the request is answered) stops
 * the buffering and lets go of what was read; chunks that still arrive are dropped.
 */
class BodyReader {
  readonly body: Promise<Buffer>;
  private chunks: Buffer[] = [];
  private size = 0;
  private done = false;

  constructor(res: uWS.HttpResponse, limit: number, aborted: { value: boolean }) {
    this.body = new Promise((resolve, reject) => {
      res.onData((chunk, isLast) => {
        if (aborted.value || this.done) return;
        this.size += chunk.byteLength;
        if (this.size > limit) {
          this.discard();
          reject(new AppError('PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`));
          return;
        }
        // uWS reuses the chunk's memory after this callback returns: copy it now.
        this.chunks.push(Buffer.from(chunk.slice(0)));
        if (isLast) {
          this.done = true;
          resolve(Buffer.concat(this.chunks));
          this.chunks = [];
        }
      });
    });
    // A body that is discarded is never awaited: its rejection is no unhandled one.
    this.body.catch(() => undefined);
  }

  discard(): void {
    this.done = true;
    this.chunks = [];
  }
}

const EMPTY_BODY = Promise.resolve(Buffer.alloc(0));
const isPromise = <T>(value: T | Promise<T>): value is Promise<T> => value instanceof Promise;

/**
 * The typings list the listen options only for listen(port, options, cb); the native
 * binary (and the shim) take them after a host as well, and export the constant.
 */
declare module 'uWebSockets.js' {
  export const LIBUS_LISTEN_EXCLUSIVE_PORT: ListenOptions;
  interface TemplatedApp {
    listen(host: RecognizedString, port: number, options: ListenOptions, cb: (listenSocket: us_listen_socket | false) => void | Promise<void>): TemplatedApp;
  }
}

/** SSLApp over files checked first: its own error names neither file nor the problem. */
function sslApp(files: TlsFiles): uWS.TemplatedApp {
  checkTlsFiles(files);
  try {
    return uWS.SSLApp({ cert_file_name: files.certificate, key_file_name: files.privateKey });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`TLS with certificate ${files.certificate} and private key ${files.privateKey} failed: ${why}`);
  }
}

export function startEdge(options: EdgeOptions): Promise<Edge> {
  const guarded = (where: string, work: () => void, recover?: () => void): void => {
    try {
      work();
    } catch (error) {
      options.onUncaught(where, error);
      try {
        recover?.();
      } catch {
        // The socket or request is already gone.
      }
    }
  };
  const app = options.ssl ? sslApp(options.ssl) : uWS.App();
  const coalescer = new SendCoalescer((error) => options.onUncaught('corked send', error));

  // The shim cannot run custom upgrade handlers (it throws from inside its own listener), and
  // without them the Origin check and subprotocol negotiation would be skipped: on the shim
  // no WebSocket route is registered and upgrades are refused.
  for (const route of NATIVE ? options.webSockets : []) {
    const maxFrameBytes = route.maxFrameBytes ?? options.maxFrameBytes;
    // We enforce our own cap (close 4008) in ClientConnection; uWS only must not drop first.
    const maxBackpressure = options.maxBackpressureBytes + maxFrameBytes * HARD_FRAME_FACTOR;
    const messageLabel = `${route.path} message`;
    app.ws<SocketData>(route.path, {
      compression: uWS.DISABLED,
      maxPayloadLength: maxFrameBytes * HARD_FRAME_FACTOR,
      maxBackpressure,
      closeOnBackpressureLimit: 0,
      idleTimeout: options.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => guarded(`${route.path} upgrade`, () => {
        const headers = readHeaders(req);
        const request: UpgradeRequest = {
          url: req.getUrl(),
          query: queryOf(req),
          headers,
          remoteAddress: remoteAddressOf(res),
        };
        const decision = route.upgrade(request);
        if ('refuse' in decision) {
          writeResponse(res, decision.refuse);
          return;
        }
        res.upgrade<SocketData>(
          { connection: undefined, payload: decision.accept.data, writer: undefined },
          headers['sec-websocket-key'] ?? '',
          decision.accept.protocol ?? '',
          headers['sec-websocket-extensions'] ?? '',
          context,
        );
      }, () => {
        // The request is answered once: a refusal written before the throw stays as it is.
        writeResponse(res, httpErrorResponse(new Error('internal')));
      }),
      open: (ws) => guarded(`${route.path} open`, () => {
        const data = ws.getUserData();
        data.writer = new CoalescingWriter(ws, coalescer, maxBackpressure);
        data.connection = route.open(data.writer, data.payload);
      }, () => {
        const { writer } = ws.getUserData();
        if (writer) writer.end(DISCONNECT.internal.code, DISCONNECT.internal.reason);
        else ws.end(DISCONNECT.internal.code, DISCONNECT.internal.reason);
      }),
      // `guarded` inlined: every frame passes here, and its closure and label were an
      // allocation and a string per frame (bench/ws/ping.mjs --profile).
      message: (ws, message, isBinary) => {
        try {
          const { connection, writer } = ws.getUserData();
          if (message.byteLength > maxFrameBytes) {
            writer!.end(DISCONNECT.frameTooLarge.code, `frame exceeds ${maxFrameBytes} bytes`);
            return;
          }
          // uWS corks this socket for the callback: its own sends go straight into the cork.
          const outer = coalescer.enter(writer!);
          try {
            route.message(connection, message, isBinary);
          } finally {
            coalescer.leave(outer);
          }
        } catch (error) {
          options.onUncaught(messageLabel, error);
        }
      },
      drain: (ws) => guarded(`${route.path} drain`, () => {
        const { connection, writer } = ws.getUserData();
        writer?.drained();
        route.drain?.(connection);
      }),
      close: (ws, code, message) => guarded(`${route.path} close`, () => {
        const { connection, writer } = ws.getUserData();
        writer?.socketClosed();
        route.close(connection, code, Buffer.from(message).toString());
      }),
    });
  }

  for (const route of options.http) {
    const where = `${route.method.toUpperCase()} ${route.path}`;
    app[route.method](route.path, (res, req) => guarded(where, () => {
      const aborted = { value: false };
      // Made only for a handler that reads `signal` (Socket.IO polling's long wait): an
      // AbortController per request was 6-8 % of a room API Connect (bench/http/connect.mjs).
      let abort: AbortController | undefined;
      res.onAborted(() => {
        aborted.value = true;
        abort?.abort();
      });
      const headers = readHeaders(req);
      const request: HttpRequestHead = {
        method: NATIVE ? req.getCaseSensitiveMethod() : req.getMethod().toUpperCase(),
        path: req.getUrl(),
        query: queryOf(req),
        headers,
        remoteAddress: remoteAddressOf(res),
      };
      const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
      // A refusal of a request with a body closes the connection: the body is not read, and
      // keeping the connection would mean reading (and dropping) all of it anyway.
      // uWS closes a `Connection: close` request's connection after the answer but does not say
      // so in it; a keep-alive client (Node's agent under node-fetch) would then send its next
      // request into the closed socket. The answer says it (RFC 9112 9.6).
      const closeAsked = /(^|,)\s*close\s*(,|$)/i.test(headers.connection ?? '');
      const answer = (response: HttpResponse, refused = false): void => {
        if (aborted.value) return;
        writeResponse(res, closeAsked ? { ...response, headers: { ...response.headers, connection: 'close' } } : response, refused && hasBody);
      };
      const fail = (error: unknown): void => {
        try {
          answer(httpErrorResponse(error), true);
        } catch (unexpected) {
          options.onUncaught(where, unexpected);
        }
      };
      // Synchronously first: a refusal here is answered before uWS is given a data handler,
      // so not a byte of the body is buffered.
      let authorization: HttpAuthorization | Promise<HttpAuthorization>;
      try {
        authorization = route.authorize ? route.authorize(request) : undefined;
      } catch (error) {
        fail(error);
        return;
      }
      if (authorization !== undefined && !isPromise(authorization) && typeof authorization !== 'function') {
        answer(authorization, true);
        return;
      }
      // uWS wants onData now, in this callback: an async check runs while the body arrives.
      const reader = hasBody ? new BodyReader(res, route.maxBodyBytes ?? DEFAULT_BODY_LIMIT, aborted) : undefined;
      const body = reader?.body ?? EMPTY_BODY;
      const handle = (granted: HttpAuthorization): Promise<HttpResponse> | undefined => {
        if (granted !== undefined && typeof granted !== 'function') {
          reader?.discard();
          answer(granted, true);
          return undefined;
        }
        const handler = granted ?? route.handler;
        return body.then((bytes) =>
          handler({
            ...request,
            body: bytes,
            get signal() {
              abort ??= new AbortController();
              if (aborted.value) abort.abort();
              return abort.signal;
            },
          }),
        );
      };
      void Promise.resolve(authorization)
        .then(handle, (error: unknown) => {
          reader?.discard();
          fail(error);
          return undefined;
        })
        .then(
          (response) => {
            if (response) answer(response);
          },
          // The handler's errors, and a body over its limit (413, the rest of it unread).
          (error: unknown) => answer(httpErrorResponse(error), isAppError(error) && error.code === 'PAYLOAD_TOO_LARGE'),
        )
        .catch((error: unknown) => options.onUncaught(where, error));
    }, () => writeResponse(res, httpErrorResponse(new Error('internal')))));
  }

  return new Promise((resolve, reject) => {
    const listening = (listenSocket: uWS.us_listen_socket | false): void => {
      if (!listenSocket) {
        reject(
          new AppError(
            'UNAVAILABLE',
            `cannot listen on ${options.host}:${options.port}: the address is in use (another gateway or program?) or not available on this machine`,
          ),
        );
        return;
      }
      resolve({
        port: uWS.us_socket_local_port(listenSocket),
        stopListening: () => uWS.us_listen_socket_close(listenSocket),
      });
    };
    // Exclusive: uWS's default (SO_REUSEPORT) lets a second gateway bind the same port and
    // silently take half the connections. Without it a port in use is a failed start. The
    // shim has no such constant; its Node server listens exclusively anyway.
    if (NATIVE) app.listen(options.host, options.port, uWS.LIBUS_LISTEN_EXCLUSIVE_PORT, listening);
    else app.listen(options.host, options.port, listening);
  });
}
