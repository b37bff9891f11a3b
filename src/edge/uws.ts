import uWS from 'uWebSockets.js';
import { DISCONNECT } from '../core/disconnect.js';
import { AppError } from '../core/errors.js';
import type { Codec } from '../core/types.js';
import { negotiateSubprotocol } from '../protocol/index.js';
import type { SocketSink } from './connection.js';
import { httpErrorResponse } from './replies.js';
import { statusLine, type HttpRequest, type HttpResponse, type HttpRoute } from './http.js';

/**
 * The only file that imports uWebSockets.js (DESIGN.md rule 2). It turns uWS callbacks into
 * plain calls on the gateway and keeps the uWS rules in one place: copy buffers before any
 * await, set onAborted before async work, cork writes after an await, never touch a socket
 * after its close event.
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
  ssl?: { certificate: string; privateKey: string } | undefined;
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

function writeResponse(res: uWS.HttpResponse, response: HttpResponse): void {
  res.cork(() => {
    res.writeStatus(statusLine(response.status));
    for (const [key, value] of Object.entries(response.headers ?? {})) res.writeHeader(key, value);
    res.end(response.body ?? '');
  });
}

function readBody(res: uWS.HttpResponse, limit: number, aborted: { value: boolean }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (aborted.value) return;
      size += chunk.byteLength;
      if (size > limit) {
        reject(new AppError('PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`));
        return;
      }
      // uWS reuses the chunk's memory after this callback returns: copy it now.
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) resolve(Buffer.concat(chunks));
    });
  });
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
  const app = options.ssl
    ? uWS.SSLApp({ cert_file_name: options.ssl.certificate, key_file_name: options.ssl.privateKey })
    : uWS.App();

  // The shim cannot run custom upgrade handlers (it throws from inside its own listener), and
  // without them the Origin check and subprotocol negotiation would be skipped: on the shim
  // no WebSocket route is registered and upgrades are refused.
  for (const route of NATIVE ? options.webSockets : []) {
    const maxFrameBytes = route.maxFrameBytes ?? options.maxFrameBytes;
    app.ws<SocketData>(route.path, {
      compression: uWS.DISABLED,
      maxPayloadLength: maxFrameBytes * HARD_FRAME_FACTOR,
      // We enforce our own cap (close 4008) in ClientConnection; uWS only must not drop first.
      maxBackpressure: options.maxBackpressureBytes + maxFrameBytes * HARD_FRAME_FACTOR,
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
          { connection: undefined, payload: decision.accept.data },
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
        const sink: SocketSink = {
          send: (message, isBinary) => ws.send(message, isBinary),
          end: (code, reason) => ws.end(code, reason),
          bufferedAmount: () => ws.getBufferedAmount(),
        };
        data.connection = route.open(sink, data.payload);
      }, () => ws.end(DISCONNECT.internal.code, DISCONNECT.internal.reason)),
      message: (ws, message, isBinary) => guarded(`${route.path} message`, () => {
        const { connection } = ws.getUserData();
        if (message.byteLength > maxFrameBytes) {
          ws.end(DISCONNECT.frameTooLarge.code, `frame exceeds ${maxFrameBytes} bytes`);
          return;
        }
        route.message(connection, message, isBinary);
      }),
      drain: (ws) => guarded(`${route.path} drain`, () => route.drain?.(ws.getUserData().connection)),
      close: (ws, code, message) => guarded(`${route.path} close`, () => {
        route.close(ws.getUserData().connection, code, Buffer.from(message).toString());
      }),
    });
  }

  for (const route of options.http) {
    app[route.method](route.path, (res, req) => guarded(`${route.method.toUpperCase()} ${route.path}`, () => {
      const aborted = { value: false };
      res.onAborted(() => {
        aborted.value = true;
      });
      const headers = readHeaders(req);
      const request: Omit<HttpRequest, 'body'> = {
        method: NATIVE ? req.getCaseSensitiveMethod() : req.getMethod().toUpperCase(),
        path: req.getUrl(),
        query: queryOf(req),
        headers,
        remoteAddress: remoteAddressOf(res),
      };
      const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
      const body = hasBody
        ? readBody(res, route.maxBodyBytes ?? DEFAULT_BODY_LIMIT, aborted)
        : Promise.resolve(Buffer.alloc(0));
      void body
        .then((bytes) => route.handler({ ...request, body: bytes }))
        .catch((error: unknown) => httpErrorResponse(error))
        .then((response) => {
          if (!aborted.value) writeResponse(res, response);
        })
        .catch((error: unknown) => options.onUncaught(`${route.method.toUpperCase()} ${route.path}`, error));
    }, () => writeResponse(res, httpErrorResponse(new Error('internal')))));
  }

  return new Promise((resolve, reject) => {
    app.listen(options.host, options.port, (listenSocket) => {
      if (!listenSocket) {
        reject(new AppError('UNAVAILABLE', `cannot listen on ${options.host}:${options.port}`));
        return;
      }
      resolve({
        port: uWS.us_socket_local_port(listenSocket),
        stopListening: () => uWS.us_listen_socket_close(listenSocket),
      });
    });
  });
}
