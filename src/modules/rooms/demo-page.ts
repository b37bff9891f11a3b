import { createHash } from 'node:crypto';
import type { HttpRoute } from '../../edge/index.js';

/**
 * `GET /demo` (PROTOCOL.md section 1): one self-contained page on which two browsers set up
 * a WebRTC call through the gateway, speaking the native protocol of sections 2, 4 and 5
 * over `/ws` (JSON).
 *
 * The page authenticates with a token pasted in or taken from `?token=`: an app token
 * (JWT `typ` `switchyard-app+jwt`) goes through Chat Signal's `auth-request`, any other
 * token through `authorize` (user access tokens). It creates or joins a room; the owner
 * sees join requests and approves or rejects them (or auto-approves). The joiner offers to
 * every peer listed in `room-join-accept`, members only answer, so offers never cross
 * (no glare handling needed). Each call carries a data channel and, when the browser grants
 * them, camera and microphone; without them the data channel still works.
 *
 * Invariants of the page script:
 * - Nothing received is ever parsed as HTML: the script writes the DOM only through
 *   `textContent` and `createElement`, never `innerHTML`, so peer ids, room names,
 *   messages and error texts are always shown as text.
 * - Everything inline, nothing fetched: the CSP below allows exactly this script and this
 *   style (by hash) and sockets to the page's own origin.
 * - Per peer, SDP and ICE are handled strictly in arrival order (one promise chain per
 *   peer), so a candidate is never added before the description it belongs to.
 *
 * The script and style are raw template strings: they must contain no backtick and no
 * dollar-brace sequence (test/unit/demo-page.test.ts compiles the script to check).
 */

const STYLE = String.raw`
:root { color-scheme: light dark; --fg: #1d2330; --muted: #667085; --line: #d0d5dd; --bg: #f6f7f9; --card: #fff; --accent: #2b59c3; --ok: #16794c; --bad: #b42318; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8ee; --muted: #98a2b3; --line: #344054; --bg: #101828; --card: #1d2939; --accent: #7aa2ff; --ok: #4ade80; --bad: #f97066; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 12px; padding: 10px 16px; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { font-size: 16px; margin: 0; }
main { display: grid; grid-template-columns: minmax(260px, 340px) 1fr; gap: 12px; padding: 12px; }
@media (max-width: 760px) { main { grid-template-columns: 1fr; } }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; margin-bottom: 12px; }
section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 8px; }
label { display: block; margin: 6px 0 2px; color: var(--muted); font-size: 12px; }
label.inline { display: inline-flex; align-items: center; gap: 4px; margin-right: 10px; color: var(--fg); font-size: 13px; }
input[type=text], input[type=password], textarea, select { width: 100%; padding: 5px 7px; border: 1px solid var(--line); border-radius: 5px; background: transparent; color: inherit; font: inherit; }
textarea { font-family: ui-monospace, monospace; font-size: 12px; resize: vertical; }
button { padding: 5px 10px; border: 1px solid var(--line); border-radius: 5px; background: var(--card); color: inherit; font: inherit; cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button:disabled { opacity: .5; cursor: default; }
.row { display: flex; gap: 6px; align-items: center; margin-top: 8px; flex-wrap: wrap; }
.row > input[type=text] { flex: 1; width: auto; }
.pill { padding: 2px 8px; border-radius: 999px; border: 1px solid var(--line); font-size: 12px; }
.pill[data-state=authenticated], .pill[data-state=owner], .pill[data-state=member] { border-color: var(--ok); color: var(--ok); }
.pill[data-state=failed], .pill[data-state=rejected] { border-color: var(--bad); color: var(--bad); }
.muted { color: var(--muted); }
code, .mono { font-family: ui-monospace, monospace; font-size: 12px; }
ul { list-style: none; margin: 0; padding: 0; }
#requests:empty::before { content: 'none pending'; color: var(--muted); font-size: 12px; }
#requests li { display: flex; gap: 6px; align-items: center; padding: 4px 0; border-top: 1px solid var(--line); }
#requests li span { flex: 1; overflow: hidden; text-overflow: ellipsis; }
#tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 8px; }
.tile { border: 1px solid var(--line); border-radius: 6px; overflow: hidden; }
.tile video { display: block; width: 100%; aspect-ratio: 4 / 3; background: #000; object-fit: cover; }
.tile .caption { padding: 4px 6px; font-size: 12px; display: flex; justify-content: space-between; gap: 6px; }
.tile[data-channel=open] .dc { color: var(--ok); }
.log { height: 160px; overflow-y: auto; border: 1px solid var(--line); border-radius: 5px; padding: 4px 6px; font-size: 13px; }
.log li { padding: 1px 0; word-break: break-word; }
.log li .who { color: var(--muted); margin-right: 6px; font-family: ui-monospace, monospace; font-size: 12px; }
.log li.sent .who { color: var(--accent); }
#notices { height: 140px; font-size: 12px; }
`;

const SCRIPT = String.raw`
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };

  var ws = null;
  var myId = null;
  var authenticated = false;
  var nextFrameId = 1;
  var sentEvents = new Map();      // frame id -> event name, to say which request an error answers
  var room = null;                 // the room this page is in (or waiting to join)
  var role = 'none';               // none | waiting | member | owner
  var peers = new Map();           // peer id -> { id, pc, channel, tile, queue, candidates }
  var mediaPromise = null;
  var MEDIA_WAIT_MS = 15000;       // an unanswered permission prompt must not hold the data channel forever

  // ---- DOM helpers: text only, never HTML ----

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function appendLog(list, node) {
    list.appendChild(node);
    while (list.childNodes.length > 300) list.removeChild(list.firstChild);
    list.scrollTop = list.scrollHeight;
  }

  function notice(text) {
    var item = el('li', null);
    item.appendChild(el('span', 'who', new Date().toLocaleTimeString()));
    item.appendChild(document.createTextNode(String(text)));
    appendLog($('notices'), item);
  }

  function chat(who, text, kind) {
    var item = el('li', kind);
    item.appendChild(el('span', 'who', who));
    item.appendChild(document.createTextNode(String(text)));
    appendLog($('chat-log'), item);
  }

  function short(id) { return String(id).slice(0, 8); }

  function setStatus(state, text) {
    var status = $('status');
    status.dataset.state = state;
    status.textContent = text || state;
    var connected = ws !== null;
    $('connect').textContent = connected ? 'Disconnect' : 'Connect';
    render();
  }

  function setRole(next) {
    role = next;
    render();
  }

  function render() {
    var roomState = $('room-state');
    roomState.dataset.state = role;
    roomState.textContent = role === 'none' ? 'not in a room' : role + (room ? ' of ' + room : '');
    $('create').disabled = !authenticated || role !== 'none';
    $('join').disabled = !authenticated || role !== 'none';
    $('leave').disabled = role === 'none';
    $('send').disabled = openChannels().length === 0;
    $('requests-section').hidden = role !== 'owner';
  }

  // ---- the socket ----

  function send(event, data) {
    if (!ws || ws.readyState !== WebSocket.OPEN) { notice('not connected: cannot send ' + event); return; }
    var id = nextFrameId++;
    sentEvents.set(id, event);
    if (sentEvents.size > 500) sentEvents.delete(sentEvents.keys().next().value);
    ws.send(JSON.stringify({ event: event, data: data, id: id }));
  }

  function tokenKind(token) {
    var mode = $('auth-mode').value;
    if (mode !== 'auto') return mode;
    try {
      var header = JSON.parse(atob(token.split('.')[0].replace(/-/g, '+').replace(/_/g, '/')));
      return header.typ === 'switchyard-app+jwt' ? 'app' : 'user';
    } catch (error) {
      return 'app';   // not a readable JWT: treat it as a Chat Signal app token
    }
  }

  function connect() {
    var token = $('token').value.trim();
    if (!token) { notice('paste a token first (POST /app gives app tokens)'); return; }
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
    var socket = new WebSocket(url, 'switchyard.v1.json');
    ws = socket;
    setStatus('connecting');
    socket.onopen = function () {
      setStatus('connected');
      if (tokenKind(token) === 'app') send('auth-request', { token: token });
      else send('authorize', { method: 'oauth2', token: token });
    };
    socket.onmessage = function (message) {
      var frame;
      try { frame = JSON.parse(message.data); } catch (error) { notice('undecodable frame from the server'); return; }
      var handler = handlers[frame.event];
      if (handler) handler(frame.data || {}, frame);
      else notice('unhandled event ' + frame.event);
    };
    socket.onclose = function (event) {
      if (ws !== socket) return;
      ws = null;
      authenticated = false;
      endCall();
      setRole('none');
      setStatus(event.code === 1000 ? 'disconnected' : 'failed', 'disconnected (' + event.code + (event.reason ? ' ' + event.reason : '') + ')');
    };
  }

  function disconnect() {
    var socket = ws;
    if (socket) socket.close(1000, 'bye');
  }

  // ---- media ----

  function tryMedia(constraints) {
    return navigator.mediaDevices.getUserMedia(constraints);
  }

  function startMedia() {
    if (mediaPromise) return mediaPromise;
    if (!$('use-media').checked) { mediaPromise = Promise.resolve(null); return mediaPromise; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      notice('no camera/microphone API here (needs https or localhost): data channel only');
      mediaPromise = Promise.resolve(null);
      return mediaPromise;
    }
    var asked = tryMedia({ audio: true, video: true })
      .catch(function () { return tryMedia({ audio: true }); })
      .catch(function () { return tryMedia({ video: true }); })
      .then(function (stream) {
        $('local-video').srcObject = stream;
        notice('camera/microphone on: ' + stream.getTracks().map(function (t) { return t.kind; }).join(' + '));
        return stream;
      }, function (error) {
        notice('no camera/microphone (' + (error && error.name ? error.name : 'error') + '): data channel only');
        return null;
      });
    var timer;
    var timeout = new Promise(function (resolve) {
      timer = setTimeout(function () { notice('camera/microphone not answered in time: calling without'); resolve(null); }, MEDIA_WAIT_MS);
    });
    mediaPromise = Promise.race([asked.then(function (stream) { clearTimeout(timer); return stream; }), timeout]);
    return mediaPromise;
  }

  function stopMedia() {
    var video = $('local-video');
    var stream = video.srcObject;
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    video.srcObject = null;
    mediaPromise = null;
  }

  function iceServers() {
    var text = $('ice-servers').value.trim();
    if (!text) return [];
    try {
      var servers = JSON.parse(text);
      if (Array.isArray(servers)) return servers;
    } catch (error) { /* reported below */ }
    notice('ICE servers must be a JSON array like [{"urls":"stun:host:3478"}]; using none');
    return [];
  }

  // ---- peers and calls ----

  function peerEntry(id) {
    var peer = peers.get(id);
    if (peer) return peer;
    var tile = el('div', 'tile');
    tile.dataset.peer = id;
    tile.dataset.channel = 'none';
    var video = el('video');
    video.autoplay = true;
    video.playsInline = true;
    var caption = el('div', 'caption');
    var name = el('span', 'mono', short(id));
    name.title = id;
    var state = el('span', 'state muted', 'waiting');
    var dc = el('span', 'dc muted', 'no channel');
    caption.appendChild(name);
    caption.appendChild(state);
    caption.appendChild(dc);
    tile.appendChild(video);
    tile.appendChild(caption);
    $('tiles').appendChild(tile);
    peer = { id: id, pc: null, channel: null, tile: tile, video: video, state: state, dc: dc, queue: Promise.resolve(), candidates: [] };
    peers.set(id, peer);
    return peer;
  }

  // Runs one signalling step for a peer after the previous ones (see the module comment).
  function enqueue(peer, step) {
    peer.queue = peer.queue.then(step).catch(function (error) {
      notice('call with ' + short(peer.id) + ': ' + (error && error.message ? error.message : error));
    });
  }

  function openChannels() {
    var open = [];
    peers.forEach(function (peer) { if (peer.channel && peer.channel.readyState === 'open') open.push(peer.channel); });
    return open;
  }

  function useChannel(peer, channel) {
    peer.channel = channel;
    var update = function () {
      peer.tile.dataset.channel = channel.readyState;
      peer.dc.textContent = 'chat ' + channel.readyState;
      render();
    };
    channel.onopen = function () { update(); notice('data channel with ' + short(peer.id) + ' open'); };
    channel.onclose = update;
    channel.onmessage = function (event) {
      chat(short(peer.id), typeof event.data === 'string' ? event.data : '[binary ' + (event.data.byteLength || event.data.size || 0) + ' bytes]', 'received');
    };
    update();
  }

  async function makeConnection(peer, offerer) {
    if (peer.pc) return peer.pc;
    var pc = new RTCPeerConnection({ iceServers: iceServers() });
    peer.pc = pc;
    var target = room;
    pc.onicecandidate = function (event) {
      if (event.candidate && room === target && peer.pc === pc) {
        send('relay-ice-candidate', { room: target, to: peer.id, ice_candidate: event.candidate.toJSON() });
      }
    };
    pc.onconnectionstatechange = function () {
      peer.state.textContent = pc.connectionState;
      peer.tile.dataset.connection = pc.connectionState;
    };
    pc.ontrack = function (event) {
      var stream = event.streams[0];
      if (!stream) {
        stream = peer.video.srcObject || new MediaStream();
        stream.addTrack(event.track);
      }
      if (peer.video.srcObject !== stream) peer.video.srcObject = stream;
      peer.video.play().catch(function () { /* autoplay refused: the controls let the user start it */ peer.video.controls = true; });
    };
    pc.ondatachannel = function (event) { useChannel(peer, event.channel); };
    var stream = await startMedia();
    if (peer.pc !== pc) return pc;   // the peer left while we waited for the camera
    if (stream) stream.getTracks().forEach(function (track) { pc.addTrack(track, stream); });
    if (offerer) {
      // Without own media, still offer to receive the other side's.
      if (!stream || stream.getAudioTracks().length === 0) pc.addTransceiver('audio', { direction: 'recvonly' });
      if (!stream || stream.getVideoTracks().length === 0) pc.addTransceiver('video', { direction: 'recvonly' });
      useChannel(peer, pc.createDataChannel('chat'));
    }
    return pc;
  }

  function call(peerId) {
    var peer = peerEntry(peerId);
    var target = room;
    enqueue(peer, async function () {
      var pc = await makeConnection(peer, true);
      await pc.setLocalDescription(await pc.createOffer());
      if (room === target && peer.pc === pc) send('relay-session-description', { room: target, to: peer.id, session_description: pc.localDescription.toJSON() });
    });
  }

  function parseDescription(value) {
    return typeof value === 'string' ? JSON.parse(value) : value;
  }

  function onDescription(data) {
    if (data.room !== room || !data.peer_id) return;
    var peer = peerEntry(data.peer_id);
    enqueue(peer, async function () {
      var description = parseDescription(data.session_description);
      var pc = await makeConnection(peer, false);
      await pc.setRemoteDescription(description);
      var waiting = peer.candidates;
      peer.candidates = [];
      for (var i = 0; i < waiting.length; i++) await pc.addIceCandidate(waiting[i]);
      if (description.type === 'offer') {
        await pc.setLocalDescription(await pc.createAnswer());
        if (room === data.room && peer.pc === pc) send('relay-session-description', { room: data.room, to: peer.id, session_description: pc.localDescription.toJSON() });
      }
    });
  }

  function onCandidate(data) {
    if (data.room !== room || !data.peer_id) return;
    var peer = peerEntry(data.peer_id);
    enqueue(peer, async function () {
      var candidate = parseDescription(data.ice_candidate);
      if (!peer.pc || !peer.pc.remoteDescription) peer.candidates.push(candidate);
      else await peer.pc.addIceCandidate(candidate);
    });
  }

  function hangUp(peerId) {
    var peer = peers.get(peerId);
    if (!peer) return;
    peers.delete(peerId);
    if (peer.channel) peer.channel.close();
    if (peer.pc) peer.pc.close();
    peer.pc = null;
    peer.video.srcObject = null;
    peer.tile.remove();
    render();
  }

  function endCall() {
    Array.from(peers.keys()).forEach(hangUp);
    $('requests').replaceChildren();
    stopMedia();
    room = null;
  }

  // ---- rooms ----

  function roomName() {
    var name = $('room').value.trim();
    if (name && !/^[A-Za-z0-9_.:@+{}=-]{1,128}$/.test(name)) {
      notice('room names are 1-128 characters of A-Z a-z 0-9 _ . : @ + { } = -');
      return null;
    }
    return name;
  }

  function createRoom() {
    var name = roomName();
    if (name === null) return;
    startMedia();
    send('room-create-request', name ? { room: name } : {});
  }

  function joinRoom() {
    var name = roomName();
    if (!name) { if (name === '') notice('type the name of the room to join'); return; }
    startMedia();
    room = name;
    setRole('waiting');
    send('room-join-request', { room: name });
  }

  function leaveRoom() {
    if (room) send('room-leave', { room: room });
    notice('you left ' + room);
    endCall();
    setRole('none');
  }

  function answerJoin(peerId, approve) {
    var item = $('requests').querySelector('li[data-peer="' + CSS.escape(peerId) + '"]');
    if (item) item.remove();
    if (!room) return;
    send(approve ? 'room-join-accept' : 'room-join-reject', { room: room, peer_id: peerId });
  }

  function showJoinRequest(data) {
    if ($('auto-approve').checked) {
      notice('auto-approving ' + short(data.peer_id));
      answerJoin(data.peer_id, true);
      return;
    }
    var item = el('li');
    item.dataset.peer = data.peer_id;
    var label = el('span', 'mono', data.peer_id + (data.payload ? ' ' + JSON.stringify(data.payload) : ''));
    var approve = el('button', 'approve primary', 'Approve');
    var reject = el('button', 'reject', 'Reject');
    approve.onclick = function () { answerJoin(data.peer_id, true); };
    reject.onclick = function () { answerJoin(data.peer_id, false); };
    item.appendChild(label);
    item.appendChild(approve);
    item.appendChild(reject);
    $('requests').appendChild(item);
    notice(short(data.peer_id) + ' asks to join ' + data.room);
  }

  // ---- server events (PROTOCOL.md sections 2, 4, 5) ----

  var handlers = {
    welcome: function (data) {
      myId = data.peer_id;
      $('peer-id').textContent = myId;
    },
    'auth-accept': function () {
      authenticated = true;
      setStatus('authenticated', 'authenticated (app session)');
    },
    authorized: function (data) {
      authenticated = true;
      setStatus('authenticated', 'authenticated as ' + data.userId);
    },
    'auth-reject': function (data) { setStatus('failed', 'auth rejected: ' + data.message); },
    unauthorized: function (data) {
      authenticated = false;
      setStatus('failed', 'unauthorized: ' + data.message);
    },
    'room-create-accept': function (data) {
      room = data.room;
      $('room').value = data.room;
      setRole('owner');
      notice('created room ' + data.room + '; waiting for others to join');
    },
    'room-create-reject': function (data) { notice('could not create the room: ' + data.message); },
    'room-join-request': function (data) {
      if (data.room === room && role === 'owner') showJoinRequest(data);
    },
    'room-join-accept': function (data) {
      room = data.room;
      setRole('member');
      var others = data.peers || [];
      notice('joined ' + data.room + (others.length ? '; calling ' + others.map(short).join(', ') : ''));
      others.forEach(call);
    },
    'room-join-reject': function (data) {
      notice('join refused: ' + data.message);
      if (role === 'waiting') { endCall(); setRole('none'); }
    },
    'room-user-join': function (data) {
      if (data.room !== room) return;
      peerEntry(data.peer_id);
      notice(short(data.peer_id) + ' joined; waiting for their offer');
    },
    'room-user-leave': function (data) {
      if (data.room !== room) return;
      var request = $('requests').querySelector('li[data-peer="' + CSS.escape(data.peer_id) + '"]');
      if (request) request.remove();
      if (peers.has(data.peer_id)) notice(short(data.peer_id) + ' left the room');
      hangUp(data.peer_id);
    },
    'room-owner-change': function (data) {
      if (data.room !== room) return;
      if (data.peer_id === myId) { setRole('owner'); notice('you are now the owner of ' + room); }
      else notice(short(data.peer_id) + ' is now the owner of ' + room);
    },
    'room-closed': function (data) {
      if (data.room !== room) return;
      notice('room ' + data.room + ' closed: ' + data.reason);
      endCall();
      setRole('none');
    },
    'room-banned': function (data) {
      notice('banned from ' + data.room + (data.until ? ' until ' + new Date(data.until).toLocaleString() : ''));
      if (data.room === room) { endCall(); setRole('none'); }
    },
    'room-message': function (data) { notice('message to ' + data.room + ': ' + JSON.stringify(data.message)); },
    'room-updated': function (data) { notice('room ' + data.room + ' updated: ' + JSON.stringify(data.user_data)); },
    'session-description': onDescription,
    'ice-candidate': onCandidate,
    result: function (data) {
      if (data.pending) notice('join request for ' + data.room + ' is still waiting for the owner');
    },
    pong: function () {},
    error: function (data, frame) {
      var about = frame.id !== undefined && sentEvents.has(frame.id) ? ' (answer to ' + sentEvents.get(frame.id) + ')' : '';
      notice('error ' + data.code + ': ' + data.message + about);
      if (about === ' (answer to room-join-request)' && role === 'waiting') { room = null; setRole('none'); }
    }
  };

  // ---- wiring ----

  $('connect').onclick = function () { if (ws) disconnect(); else connect(); };
  $('create').onclick = createRoom;
  $('join').onclick = joinRoom;
  $('leave').onclick = leaveRoom;
  $('chat-form').onsubmit = function (event) {
    event.preventDefault();
    var input = $('message');
    var text = input.value;
    if (!text) return;
    var channels = openChannels();
    if (channels.length === 0) { notice('no open data channel yet'); return; }
    channels.forEach(function (channel) { channel.send(text); });
    chat('me', text, 'sent');
    input.value = '';
  };

  var params = new URLSearchParams(location.search);
  if (params.get('room')) $('room').value = params.get('room');
  render();
  var fromUrl = params.get('token');
  if (fromUrl) {
    $('token').value = fromUrl;
    // The token is a bearer credential: keep it out of the address bar and history.
    params.delete('token');
    var rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
    connect();
  }
})();
`;

const BODY = String.raw`
<header>
  <h1>Switchyard demo</h1>
  <span id="status" class="pill" data-state="disconnected">disconnected</span>
  <span class="muted">peer <code id="peer-id">-</code></span>
</header>
<main>
  <div>
    <section>
      <h2>Connection</h2>
      <label for="token">Token (app token from POST /app, or a user access token)</label>
      <input id="token" type="password" autocomplete="off" spellcheck="false" placeholder="eyJ...">
      <label for="auth-mode">Sign in with</label>
      <select id="auth-mode">
        <option value="auto">auto (by token type)</option>
        <option value="app">auth-request (app token)</option>
        <option value="user">authorize (user access token)</option>
      </select>
      <label for="ice-servers">ICE servers (JSON, optional; none needed on one machine)</label>
      <textarea id="ice-servers" rows="2" spellcheck="false" placeholder='[{"urls":"stun:stun.example.org:3478"}]'></textarea>
      <div class="row">
        <label class="inline"><input id="use-media" type="checkbox" checked> camera &amp; microphone</label>
        <button id="connect" class="primary" type="button">Connect</button>
      </div>
    </section>
    <section>
      <h2>Room</h2>
      <span id="room-state" class="pill" data-state="none">not in a room</span>
      <div class="row">
        <input id="room" type="text" maxlength="128" spellcheck="false" placeholder="room name (empty: a new one)">
      </div>
      <div class="row">
        <button id="create" type="button">Create</button>
        <button id="join" type="button">Join</button>
        <button id="leave" type="button">Leave</button>
        <label class="inline"><input id="auto-approve" type="checkbox"> auto-approve</label>
      </div>
    </section>
    <section id="requests-section" hidden>
      <h2>Join requests</h2>
      <ul id="requests"></ul>
    </section>
    <section>
      <h2>Notices</h2>
      <ul id="notices" class="log"></ul>
    </section>
  </div>
  <div>
    <section>
      <h2>Call</h2>
      <div id="tiles">
        <div class="tile" data-self="true">
          <video id="local-video" autoplay playsinline muted></video>
          <div class="caption"><span>you</span><span class="muted">local preview</span></div>
        </div>
      </div>
    </section>
    <section>
      <h2>Chat (data channel)</h2>
      <ul id="chat-log" class="log"></ul>
      <form id="chat-form" class="row">
        <input id="message" type="text" maxlength="4000" autocomplete="off" placeholder="message to everyone in the call">
        <button id="send" class="primary" type="submit">Send</button>
      </form>
    </section>
  </div>
</main>
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * Only this page's own script and style run; sockets go only to the page's origin
 * (CSP 3 `'self'` covers ws:/wss: of the same host). `media-src` is not needed:
 * `srcObject` streams are not fetched.
 */
export const DEMO_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const DEMO_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard demo</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;

/** For the unit test: the inline script exactly as served. */
export const DEMO_PAGE_SCRIPT = SCRIPT;

export function demoPageRoute(): HttpRoute {
  const body = Buffer.from(DEMO_PAGE_HTML, 'utf8');
  const headers = {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': DEMO_PAGE_CSP,
    'x-content-type-options': 'nosniff',
    // `?token=` carries a bearer token: never send it on as a Referer.
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
  return { method: 'get', path: '/demo', handler: () => ({ status: 200, headers, body }) };
}
