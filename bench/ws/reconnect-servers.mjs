// The baseline server of bench/ws/reconnect.mjs, run as its own pinned child:
//
//   node bench/ws/reconnect-servers.mjs socketio
//
// Socket.IO 4.8 (websocket transport, no permessage-deflate) with `connectionStateRecovery`
// on (a window of 120 s, as the gateway's `resumeWindowSeconds`; middlewares skipped on a
// recovery, the library's default): its in-memory adapter keeps each disconnected socket's id,
// rooms and data, and every broadcast packet with an offset, so a client that comes back with
// its pid and last offset gets its rooms and the missed packets back (`socket.recovered`).
// The pair's room mirrors the gateway's: `join` {room} (acked) puts a socket in it, and once
// both members are in, `room-user-join` is broadcast to the room (as the gateway pushes on an
// accepted join): the packet whose offset a recovery needs. `relay` {room, ice_candidate} goes to
// the other members as `ice-candidate`.
//
// The gateway itself is not started from here: bench/ws/reconnect.mjs runs `dist/main.js start`,
// the real process, so that it can be stopped with SIGTERM and started again on its data dir.
//
// Listens on 127.0.0.1, port 0; prints one JSON line {"port", "pid"} once it accepts
// connections; GET /stats answers {recovered, fresh}: connections by `socket.recovered`.
// Exits on SIGTERM.

import { createServer } from 'node:http';

const kind = process.argv[2];
if (kind !== 'socketio') {
  console.error('usage: node bench/ws/reconnect-servers.mjs socketio');
  process.exit(2);
}

const { Server } = await import('socket.io');
const stats = { recovered: 0, fresh: 0 };
const httpServer = createServer((request, response) => {
  if (request.url !== '/stats') return void response.writeHead(404).end();
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
});
const io = new Server(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true },
});
io.on('connection', (socket) => {
  // A recovered socket comes through here again, with its rooms already restored.
  stats[socket.recovered ? 'recovered' : 'fresh'] += 1;
  socket.on('join', (room, ack) => {
    const name = String(room);
    socket.join(name);
    if (typeof ack === 'function') ack({ status: 200 });
    if (io.sockets.adapter.rooms.get(name)?.size === 2) io.to(name).emit('room-user-join', { room: name, peer_id: socket.id });
  });
  socket.on('relay', (data) => {
    const room = String(data?.room);
    if (socket.rooms.has(room)) socket.to(room).emit('ice-candidate', { room, peer_id: socket.id, ice_candidate: data.ice_candidate });
  });
});
httpServer.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: httpServer.address().port, pid: process.pid })}\n`));
process.once('SIGTERM', () => process.exit(0));
