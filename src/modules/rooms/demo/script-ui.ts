/**
 * The demo page script's state and its display: the variables every part shares, text-only
 * DOM helpers, the two pills (the connection as the SDK reports it, and the sign-in) and the
 * buttons' enabled state. The first piece of the one script function that script.ts
 * assembles: it does not compile alone.
 */
export const DEMO_SCRIPT_UI = String.raw`
  var $ = function (id) { return document.getElementById(id); };

  var client = null;               // the SwitchyardClient from Connect to Disconnect, reconnects included
  var socket = null;               // the SDK's current socket: what Drop socket closes
  var connection = 'closed';       // the connection pill: connecting | connected | reconnecting | resumed | restarted | closed
  var signedIn = false;
  var room = null;                 // the room this page is in (or waiting to join)
  var role = 'none';               // none | waiting | member | owner
  var creating = false;            // a room-create-request is on its way
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

  // A SwitchyardError reads "CODE: message" (the server's stable code, or the SDK's own:
  // TIMEOUT, DISCONNECTED, QUEUE_FULL, CLOSED); anything else by its message.
  function describe(error) {
    if (error && error.code) return error.code + ': ' + error.message;
    return String(error && error.message ? error.message : error);
  }

  function plural(count, one, many) { return count + ' ' + (count === 1 ? one : many); }

  // ---- the pills and the buttons ----

  function setStatus(state, text) {
    var status = $('status');
    status.dataset.state = state;
    status.textContent = text || state;
    render();
  }

  // One transition of the connection: the pill says where it is, the notices keep a line each.
  function setConnection(state, text, line) {
    connection = state;
    var pill = $('connection');
    pill.dataset.state = state;
    pill.textContent = text;
    if (line) notice(line);
    render();
  }

  function socketUsable() {
    return connection === 'connected' || connection === 'resumed' || connection === 'restarted';
  }

  function setRole(next) {
    role = next;
    render();
  }

  function render() {
    var roomState = $('room-state');
    roomState.dataset.state = role;
    roomState.textContent = role === 'none' ? 'not in a room' : role + (room ? ' of ' + room : '');
    $('connect').textContent = client ? 'Disconnect' : 'Connect';
    $('connect').disabled = connection === 'connecting' && !client;   // the SDK bundle is loading
    $('drop').disabled = !client || !socketUsable();
    // Requests made while the SDK reconnects wait in its offline queue: no need to disable these then.
    $('create').disabled = !signedIn || role !== 'none' || creating;
    $('join').disabled = !signedIn || role !== 'none' || creating;
    $('leave').disabled = role === 'none';
    $('send').disabled = openChannels().length === 0;
    $('requests-section').hidden = role !== 'owner';
  }
`;
