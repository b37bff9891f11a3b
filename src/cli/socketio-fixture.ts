#!/usr/bin/env node
/**
 * `npm run fixture:socketio -- [--port 3000] [--host 127.0.0.1]`
 *
 * Serves the gateway's own Engine.IO and Socket.IO layers (engineio-socket.ts,
 * socketio-socket.ts) configured like the reference servers of the official test suites
 * (the READMEs of socketio/engine.io-protocol and socketio/socket.io-protocol), so those
 * suites, and test/integration/socketio-compliance.test.ts, can run against them:
 *
 * - `/socket.io/`: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6, connectTimeout
 *   1000 ms, namespaces `/` and `/custom`; on every namespace CONNECT it emits `auth` with
 *   the CONNECT payload; `message` is echoed as `message-back`, `message-with-ack` is
 *   answered by its ack, both with binary attachments as they came.
 * - `/engine.io/`: the bare Engine.IO layer, echoing every message.
 *
 * No event log, no identity: only the protocol layers. A bad packet closes the connection
 * at once (bad-frame limit 1), as the suites expect. Only WebSocket is served, so the
 * suites' HTTP long-polling and upgrade cases fail here by design.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { systemClock } from '../core/clock.js';
import { CloseCode } from '../core/errors.js';
import { startEdge, uwsIsNative } from '../server/app.js';
import type { ClientConnection } from '../server/connection.js';
import { engineIoEchoRoute, engineIoHttpRoutes, type EngineIoOptions } from '../server/engineio-socket.js';
import { EventHandlers } from '../server/handlers.js';
import { json } from '../server/http.js';
import { GatewayMetrics } from '../server/metrics.js';
import { SocketIoArguments, acknowledge, socketIoDetails, socketIoRoute } from '../server/socketio-socket.js';

export const FIXTURE_ENGINE_OPTIONS: EngineIoOptions = { pingIntervalMs: 300, pingTimeoutMs: 200, maxPayloadBytes: 1_000_000 };
export const FIXTURE_CONNECT_TIMEOUT_MS = 1000;

export interface SocketIoFixture {
  port: number;
  /** Stops listening and closes every open socket. */
  close(): void;
}

export interface FixtureOptions {
  host?: string;
  port?: number;
  engine?: Partial<EngineIoOptions>;
  connectTimeoutMs?: number;
}

export async function startSocketIoFixture(options: FixtureOptions = {}): Promise<SocketIoFixture> {
  const engine = { ...FIXTURE_ENGINE_OPTIONS, ...options.engine };
  const clock = systemClock;
  const metrics = new GatewayMetrics();
  // The suites expect an invalid packet to end the connection: one bad packet is the limit.
  const limits = { maxBackpressureBytes: 16 * 1024 * 1024, badFrameLimit: 1, badFrameWindowMs: 10_000 };
  const open = new Set<ClientConnection>();

  const handlers = new EventHandlers();
  handlers.on('message', ({ connection, frame }) => {
    const details = socketIoDetails(frame);
    connection.send({ event: 'message-back', data: new SocketIoArguments(details?.args ?? [frame.data], details?.namespace) });
  });
  handlers.on('message-with-ack', ({ connection, frame }) => {
    acknowledge(connection, frame, socketIoDetails(frame)?.args ?? [frame.data]);
  });

  const socketIo = socketIoRoute({
    handlers,
    metrics,
    clock,
    limits: { ...limits, maxFrameDepth: 32 },
    options: { ...engine, connectTimeoutMs: options.connectTimeoutMs ?? FIXTURE_CONNECT_TIMEOUT_MS, namespaces: ['/', '/custom'] },
    allowedOrigins: ['*'],
    accepting: () => true,
    opened: (connection) => open.add(connection),
    closed: (connection) => open.delete(connection),
    onHandlerError: (_connection, event, error) => console.error(`handler for ${event} failed:`, error),
    authenticateOnConnect: false,
    namespaceConnected: (connection, namespace, auth) => {
      connection.send({ event: 'auth', data: new SocketIoArguments([auth], namespace) });
    },
  });
  const bareEngine = engineIoEchoRoute({
    path: '/engine.io/',
    options: engine,
    clock,
    limits,
    metrics,
    allowedOrigins: ['*'],
    accepting: () => true,
    opened: (connection) => open.add(connection),
    closed: (connection) => open.delete(connection),
  });
  const edge = await startEdge({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 3000,
    maxFrameBytes: 64 * 1024,
    maxBackpressureBytes: limits.maxBackpressureBytes,
    idleTimeoutSeconds: 120,
    http: [
      ...engineIoHttpRoutes('/socket.io/'),
      ...engineIoHttpRoutes('/engine.io/'),
      { method: 'any', path: '/*', handler: (request) => json(404, { error: { code: 'NOT_FOUND', message: `no route for ${request.method} ${request.path}` } }) },
    ],
    webSockets: [socketIo, bareEngine],
    onUncaught: (where, error) => console.error(`uncaught error in ${where}:`, error),
  });
  return {
    port: edge.port,
    close() {
      edge.stopListening();
      for (const connection of [...open]) connection.close(CloseCode.GOING_AWAY, 'fixture stopping');
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string' } } });
  const port = values.port === undefined ? 3000 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0-65535, not "${values.port}"`);
  if (!uwsIsNative()) console.error('warning: uWebSockets.js runs on its slow JavaScript fallback (native binary not loaded)');
  const fixture = await startSocketIoFixture({ port, ...(values.host ? { host: values.host } : {}) });
  console.log(JSON.stringify({ msg: 'socket.io fixture ready', port: fixture.port, socketIo: '/socket.io/', engineIo: '/engine.io/' }));
  const stop = () => {
    fixture.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
