/**
 * The demo page script's connection, through the client SDK (packages/client): loading the
 * bundle, one SwitchyardClient per Connect, its sign-in, and every lifecycle event shown
 * (connecting, connected, reconnecting with attempt and delay, resumed with the missed count,
 * restarted with its reason). A piece of the one script function that script.ts assembles:
 * it does not compile alone.
 *
 * Reconnects are the SDK's (PROTOCOL.md section 11): after a cut it resumes the session (same
 * peer id, rooms kept, missed pushes delivered before `resumed`); when it cannot, it starts a
 * new session, signs it in again with the token this page signed in with (the SDK remembers
 * it), and says `restarted {reason, rooms}`. The page then tells the user the rooms were lost
 * rather than rejoining: a join needs an owner's approval again and a created room's name may
 * have been taken meanwhile, so only the user can decide.
 */
export const DEMO_SCRIPT_SESSION = String.raw`
  // ---- the SDK ----

  var SDK_URL = new URL($('sdk').content, location.href).href;
  var sdkLoading = null;
  var signInFailed = false;        // the SDK's own sign-in of this attempt's new session was refused

  // A dynamic import, so that this classic script can say why the bundle did not load (a
  // module script importing it statically would just not run). A failed module import stays
  // failed for the document, hence the "reload".
  function loadSdk() {
    sdkLoading = sdkLoading || import(SDK_URL).catch(function (error) {
      // The import's error hides the HTTP answer; the route's text names the build command.
      return fetch(SDK_URL, { cache: 'no-store' }).then(function (response) {
        return response.ok ? describe(error) : response.text();
      }, function () { return describe(error); }).then(function (why) {
        throw new Error('the SDK bundle did not load: ' + why.trim() + ' Then reload this page.');
      });
    });
    return sdkLoading;
  }

  // The browser's WebSocket, handed to the SDK through this factory so Drop socket can reach
  // the current one (the SDK keeps its socket to itself).
  function TrackedWebSocket(url, protocols) {
    socket = new WebSocket(url, protocols);
    return socket;
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
    var kind = tokenKind(token);
    setConnection('connecting', 'loading the SDK');
    loadSdk().then(function (sdk) { start(sdk.SwitchyardClient, token, kind); }, function (error) {
      setConnection('closed', 'not connected', error.message);
    });
  }

  function start(SwitchyardClient, token, kind) {
    var current = new SwitchyardClient({
      url: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws',
      WebSocket: TrackedWebSocket,
      // The SDK's defaults but a shorter longest wait: on a demo a reconnect should be seen soon.
      reconnect: { baseMs: 500, maxMs: 10000 },
      onError: function (error) {
        console.error(error);
        notice('page error: ' + describe(error));
      }
    });
    client = current;
    watch(current);
    current.connect().then(function () {
      if (client === current) signIn(current, token, kind);
    }, function (error) {
      if (client === current) notice('could not connect: ' + describe(error));
    });
  }

  // The first session's sign-in is the page's own request, so it can show who signed in; the
  // SDK remembers the token it sent and signs every later new session in with it.
  function signIn(current, token, kind) {
    var asked = kind === 'app'
      ? current.request('auth-request', { token: token })
      : current.request('authorize', { method: 'oauth2', token: token });
    asked.then(function (answer) {
      if (client !== current) return;
      signedIn = true;
      setStatus('authenticated', answer.event === 'authorized' ? 'authenticated as ' + answer.data.userId : 'authenticated (app session)');
    }, function (error) {
      if (client !== current) return;
      // A refused token is not tried again: close, so that Connect can try another one.
      disconnect();
      setStatus('failed', (kind === 'app' ? 'auth rejected: ' : 'unauthorized: ') + error.message);
    });
  }

  function disconnect() {
    var current = client;
    if (!current) return;
    client = null;
    socket = null;
    signedIn = false;
    endCall();
    setRole('none');
    current.close();
    if ($('status').dataset.state === 'authenticated') setStatus('disconnected', 'signed out');
    setConnection('closed', 'not connected', 'disconnected');
  }

  // A close the page asks for (code 4000: "may reconnect") ends the session on the gateway,
  // which keeps only sessions whose socket was lost: the SDK then comes back restarted.
  function dropSocket() {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    notice('dropping the socket: the gateway ends a session its client closes, so the SDK will start a new one');
    socket.close(4000, 'dropped on the demo page');
  }

  // ---- the SDK's lifecycle events, one transition each ----

  function watch(current) {
    function on(name, handler) {
      current.on(name, function (data) { if (client === current) handler(data); });
    }
    on('connecting', function (data) {
      signInFailed = false;
      if (data.attempt === 0) setConnection('connecting', 'connecting', 'connecting to ' + location.host);
      else setConnection('reconnecting', 'reconnecting: attempt ' + data.attempt, 'reconnect attempt ' + data.attempt + ': opening a socket');
    });
    on('open', function (data) {
      $('peer-id').textContent = data.peerId || '-';
      // After resumed or restarted the pill keeps saying which it was: open follows both.
      if (connection === 'connecting') setConnection('connected', 'connected', 'connected as peer ' + data.peerId);
    });
    on('closed', function (data) {
      var why = data.code + (data.reason ? ' ' + data.reason : '');
      if (data.willReconnect) { notice('socket closed (' + why + ')'); return; }   // reconnecting follows
      client = null;
      socket = null;
      signedIn = false;
      endCall();
      setRole('none');
      if ($('status').dataset.state === 'authenticated') setStatus('disconnected', 'signed out');
      setConnection('closed', 'disconnected (' + why + ')', 'disconnected (' + why + '): the SDK will not reconnect');
    });
    on('reconnecting', function (data) {
      var wait = Math.round(data.delayMs) + ' ms';
      setConnection('reconnecting', 'reconnecting: attempt ' + data.attempt + ' in ' + wait, 'connection lost: reconnect attempt ' + data.attempt + ' in ' + wait);
    });
    on('resumed', function (data) {
      var missed = plural(data.missed, 'missed push', 'missed pushes');
      setConnection('resumed', 'resumed (' + missed + ')', 'session resumed as peer ' + short(data.peerId) + ': ' + missed + ' delivered, rooms kept; SDP/ICE relayed meanwhile were dropped');
    });
    on('restarted', function (data) {
      setConnection('restarted', 'restarted (' + data.reason + ')', 'the session could not be resumed (' + data.reason + '): a new one started' + (signInFailed ? '' : ', signed in again by the SDK'));
      if (data.rooms.length) notice('rooms lost with the old session: ' + data.rooms.join(', ') + '. Create or join again.');
      else if (role === 'waiting') notice('the join request for ' + room + ' was lost with the old session. Join again.');
      if (room) $('room').value = room;
      endCall();
      setRole('none');
    });
    on('auth-failed', function (data) {
      signInFailed = true;
      signedIn = false;
      setStatus('failed', 'signed out: ' + data.message);
      notice('the new session could not sign in (' + data.code + ': ' + data.message + ')');
    });
    Object.keys(pushes).forEach(function (name) { on(name, pushes[name]); });
  }

  // ---- wiring ----

  $('connect').onclick = function () { if (client) disconnect(); else connect(); };
  $('drop').onclick = dropSocket;
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
  if ($('sdk').dataset.built === 'false') notice('this gateway has no SDK bundle yet: run npm run build:sdk, then reload');
  var fromUrl = params.get('token');
  if (fromUrl) {
    $('token').value = fromUrl;
    // The token is a bearer credential: keep it out of the address bar and history.
    params.delete('token');
    var rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
    connect();
  }
`;
