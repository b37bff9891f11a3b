// The "load balancer" of bench/ws/reconnect.mjs: a plain TCP proxy (node:net) between the
// clients and the gateway, in the load process, that can cut every connection through it at
// once while the gateway keeps running, as a network or load-balancer failure does.
//
// A cut resets both halves of every pair (`resetAndDestroy`: RST, no FIN, no close frame), so
// the client's WebSocket reports 1006 and the gateway sees its socket lost without a close
// frame: the case the gateway keeps a session for (docs/protocol.md section 11). RST also
// leaves no TIME_WAIT behind on either side, so a storm of reconnects does not queue behind
// thousands of closing sockets for their ephemeral ports.
//
// The proxy keeps listening through a cut and through a gateway restart: while nothing listens
// upstream, each new connection is accepted and dropped at once (the upstream's ECONNREFUSED),
// which a client sees as a failed attempt, as behind a load balancer with no healthy backend.
// `retarget(port)` points new connections at a restarted gateway (which listens on a new port:
// uWS cannot listen again on the old one while the sockets it closed are in TIME_WAIT), as a
// load balancer's health check would once the backend answers.

import { createServer, connect } from 'node:net';

/** SYNs queued per listener: the default 511 would drop part of a 10,000-client storm (the kernel caps it at somaxconn). */
const BACKLOG = 65_535;

/** Starts the proxy on 127.0.0.1, port 0, towards `upstreamPort`; resolves once it listens. */
export async function startCutProxy(initialUpstreamPort) {
  let upstreamPort = initialUpstreamPort;
  const pairs = new Set();
  let accepted = 0;
  let refused = 0;
  /** Why pairs ended on an error, by side and code: a storm's failures beside the clients' own view. */
  let errors = {};
  const server = createServer({ noDelay: true, pauseOnConnect: true }, (client) => {
    accepted += 1;
    const upstream = connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
    const pair = { client, upstream, open: false };
    pairs.add(pair);
    upstream.once('connect', () => {
      pair.open = true;
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    // Either side's error ends the pair at once (an error means no orderly end will follow).
    const drop = (side) => (error) => {
      if (!pairs.delete(pair)) return;
      if (!pair.open && error?.code === 'ECONNREFUSED') refused += 1;
      const key = `${side} ${pair.open ? 'after' : 'before'} connect: ${error?.code ?? error?.message}`;
      errors[key] = (errors[key] ?? 0) + 1;
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop('client'));
    upstream.on('error', drop('upstream'));
    // An orderly end (the gateway's close frame then FIN, on shutdown) is passed on: once one
    // half is closed, the other is flushed and destroyed. Not end() alone: pipe() leaves the
    // other half paused once its destination is gone, so the FIN that follows is never read and
    // its descriptor would stay open for good (500 leaked per graceful restart of 500 clients).
    const closed = () => client.destroyed && upstream.destroyed && pairs.delete(pair);
    client.on('close', () => (upstream.destroySoon(), closed()));
    upstream.on('close', () => (client.destroySoon(), closed()));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: BACKLOG }, resolve);
  });
  return {
    port: server.address().port,
    /** Connections through the proxy right now. */
    get size() {
      return pairs.size;
    },
    /** Accepted connections since the last reset, those dropped because nothing listened upstream, and errors by kind. */
    counts: () => ({ accepted, refused, errors }),
    resetCounts() {
      accepted = 0;
      refused = 0;
      errors = {};
    },
    retarget(port) {
      upstreamPort = port;
    },
    /** Resets every connection through the proxy in one synchronous sweep; returns how many. */
    cut() {
      const cut = pairs.size;
      for (const pair of pairs) {
        for (const socket of [pair.client, pair.upstream]) {
          try {
            socket.resetAndDestroy();
          } catch {
            socket.destroy(); // not a TCP handle any more (already closing): nothing left to reset
          }
        }
      }
      pairs.clear();
      return cut;
    },
  };
}
