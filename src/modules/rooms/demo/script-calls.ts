/**
 * The demo page script's calls: camera and microphone, one RTCPeerConnection and data channel
 * per peer, and the SDP/ICE they exchange through the gateway's relay. A piece of the one
 * script function that script.ts assembles (it uses that function's `$`, `el`, `notice`,
 * `relay`, `room`, `peers`...): it does not compile alone.
 *
 * Per peer, SDP and ICE are handled strictly in arrival order (one promise chain per peer,
 * `enqueue`), so a candidate is never added before the description it belongs to.
 */
export const DEMO_SCRIPT_CALLS = String.raw`
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

  // SDP and ICE go out with client.send: no id, no answer awaited (the gateway answers a relay
  // only to refuse it, with an error push). Without a usable session they are dropped, never
  // queued: the SDK sends nothing while it reconnects, and the gateway does not replay relays.
  function relay(event, data) {
    if (client && client.send(event, data)) return;
    notice('not connected: ' + event + ' to ' + short(data.to) + ' dropped');
  }

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
        relay('relay-ice-candidate', { room: target, to: peer.id, ice_candidate: event.candidate.toJSON() });
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
      if (room === target && peer.pc === pc) relay('relay-session-description', { room: target, to: peer.id, session_description: pc.localDescription.toJSON() });
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
        if (room === data.room && peer.pc === pc) relay('relay-session-description', { room: data.room, to: peer.id, session_description: pc.localDescription.toJSON() });
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
`;
