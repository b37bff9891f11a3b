/**
 * The demo page script's rooms (PROTOCOL.md section 5) through the SDK: create, join (the
 * joiner offers to every peer it is given, members only answer, so offers never cross and no
 * glare handling is needed), the owner's approvals, leave; and the pushes, by `client.on`.
 * A piece of the one script function that script.ts assembles: it does not compile alone.
 */
export const DEMO_SCRIPT_ROOMS = String.raw`
  // ---- rooms ----

  // A join request is answered when a person decides: give them time. A request that times
  // out here is not refused there, and a late answer still arrives (as a push).
  var JOIN_WAIT_MS = 10 * 60 * 1000;

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
    var current = client;
    if (name === null || !current) return;
    startMedia();
    creating = true;
    render();
    current.request('room-create-request', name ? { room: name } : {}).then(function (answer) {
      if (client !== current) return;
      room = answer.data.room;
      $('room').value = room;
      setRole('owner');
      notice('created room ' + room + '; waiting for others to join');
    }, function (error) {
      if (client === current) notice('could not create the room: ' + describe(error));
    }).then(function () {
      creating = false;
      render();
    });
  }

  function joinRoom() {
    var name = roomName();
    var current = client;
    if (!current) return;
    if (!name) { if (name === '') notice('type the name of the room to join'); return; }
    startMedia();
    room = name;
    setRole('waiting');
    var stillWaiting = function () { return client === current && room === name && role === 'waiting'; };
    current.request('room-join-request', { room: name }, { timeoutMs: JOIN_WAIT_MS }).then(function (answer) {
      if (!stillWaiting()) return;
      if (answer.event === 'result') notice('join request for ' + name + ' is still waiting for the owner');
      else joined(answer.data);
    }, function (error) {
      if (!stillWaiting()) return;
      // Unanswered is not refused: after a timeout, or a cut the session resumes from, the
      // owner's answer still comes, as a room-join-accept or room-join-reject push.
      if (error.code === 'TIMEOUT' || error.code === 'DISCONNECTED') {
        notice('no answer to the join request yet (' + error.code + '); still waiting for the owner');
        return;
      }
      notice('join refused: ' + describe(error));
      endCall();
      setRole('none');
    });
  }

  function joined(data) {
    room = data.room;
    setRole('member');
    var others = data.peers || [];
    notice('joined ' + data.room + (others.length ? '; calling ' + others.map(short).join(', ') : ''));
    others.forEach(call);
  }

  function leaveRoom() {
    var left = room;
    if (left && client) {
      client.request('room-leave', { room: left }).catch(function (error) { notice('leaving ' + left + ': ' + describe(error)); });
    }
    notice('you left ' + left);
    endCall();
    setRole('none');
  }

  function answerJoin(peerId, approve) {
    var item = $('requests').querySelector('li[data-peer="' + CSS.escape(peerId) + '"]');
    if (item) item.remove();
    if (!room || !client) return;
    var event = approve ? 'room-join-accept' : 'room-join-reject';
    client.request(event, { room: room, peer_id: peerId }).catch(function (error) {
      notice(event + ' for ' + short(peerId) + ': ' + describe(error));
    });
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

  // ---- pushes (PROTOCOL.md sections 2 and 5), registered with client.on by watch() ----

  var pushes = {
    'room-join-request': function (data) {
      if (data.room === room && role === 'owner') showJoinRequest(data);
    },
    // An owner's answer that came after the join request gave up waiting here.
    'room-join-accept': function (data) {
      if (data.room === room && role === 'waiting') joined(data);
    },
    'room-join-reject': function (data) {
      if (data.room !== room || role !== 'waiting') return;
      notice('join refused: ' + data.message);
      endCall();
      setRole('none');
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
      if (data.peer_id === client.peerId) { setRole('owner'); notice('you are now the owner of ' + room); }
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
    // Sent before the refusal of a request that needs a signed-in session.
    unauthorized: function (data) {
      signedIn = false;
      setStatus('failed', 'unauthorized: ' + data.message);
    },
    // A refused frame without an id to answer on: a relay the gateway would not deliver.
    error: function (data) { notice('error ' + data.code + ': ' + data.message); }
  };
`;
