import type { HttpResponse, HttpRoute } from '../protocol/index.js';

/**
 * `GET /`: what a person who opens the gateway's address in a browser sees (issue 16 point
 * 10): what runs here and where to go next. `POST /` on the same path is the JSON-RPC room
 * API and stays a separate route. The page is static and built once.
 */

export interface ServedUrls {
  /** Native WebSocket (JSON or MessagePack frames). */
  webSocket: string;
  socketIo: string;
  /** HTTP root: the landing page, and POST for the JSON-RPC room API. */
  http: string;
  demo: string;
  metrics: string;
  health: string;
  ready: string;
}

/**
 * The addresses the gateway serves, for the "gateway ready" line. A wildcard listen address
 * (0.0.0.0, ::) is written as localhost: the URL must be one a client can open.
 */
export function servedUrls(host: string, port: number, tls: boolean): ServedUrls {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const name = wildcard ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const http = `${tls ? 'https' : 'http'}://${name}:${port}`;
  const ws = `${tls ? 'wss' : 'ws'}://${name}:${port}`;
  return {
    webSocket: `${ws}/ws`,
    socketIo: `${http}/socket.io/`,
    http: `${http}/`,
    demo: `${http}/demo`,
    metrics: `${http}/metrics`,
    health: `${http}/healthz`,
    ready: `${http}/readyz`,
  };
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  code { background: #f3f3f3; padding: 0 .25em; border-radius: 3px; }
  li { margin: .25rem 0; }
</style>
</head>
<body>
<h1>Switchyard</h1>
<p>A real-time gateway for live events and calls: WebSocket and HTTP in, every state change
in an event log, WebRTC signalling relayed between room members.</p>
<h2>What runs here</h2>
<ul>
  <li><code>/ws</code>: native WebSocket, JSON text or MessagePack binary frames
    (subprotocols <code>switchyard.v1.json</code>, <code>switchyard.v1.msgpack</code>)</li>
  <li><code>/socket.io/</code>: the same topics over Socket.IO</li>
  <li><code>POST /</code> and <code>POST /rpc</code>: the JSON-RPC room API (ODIN bearer tokens)</li>
  <li><code>POST /internal</code>: the SFU grid API, when an internal token is configured</li>
</ul>
<h2>Links</h2>
<ul>
  <li><a href="/demo">/demo</a>: two browsers, one call, through this gateway</li>
  <li><a href="/metrics">/metrics</a>: Prometheus metrics</li>
  <li><a href="/healthz">/healthz</a>: the process is up</li>
  <li><a href="/readyz">/readyz</a>: the gateway accepts connections</li>
</ul>
<p>The wire contract is <code>docs/protocol.md</code> in the Switchyard repository.</p>
</body>
</html>
`;

export function landingPageRoute(): HttpRoute {
  const response: HttpResponse = {
    status: 200,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' },
    body: PAGE,
  };
  return { method: 'get', path: '/', handler: () => response };
}
