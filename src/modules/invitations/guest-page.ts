import { escapeHtml } from '../identity/login-page.js';

/**
 * The guest landing page (`GET /guest?ticket=...`), in the OAuth login page's look. The ticket
 * is never written into the page: the script reads it from the address bar. Every value shown
 * goes through escapeHtml; the script is a separate file (`/guest/guest.js`) so the page's CSP
 * allows no inline script at all.
 */

// The login page's sheet (identity/login-page.ts keeps its STYLE private), plus the status line.
const STYLE = `
  body { font-family: system-ui, sans-serif; background: #f4f5f7; color: #1d2330; margin: 0; }
  main { max-width: 22rem; margin: 10vh auto; background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px #0002; }
  h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
  p.client { color: #5a6270; margin: 0 0 1.2rem; }
  .actions { display: flex; gap: .6rem; margin-top: 1.4rem; }
  button { padding: .55rem 1.1rem; border: 0; border-radius: 4px; font-size: 1rem; cursor: pointer; }
  button.primary { background: #2451c4; color: #fff; }
  .error { background: #fde8e8; color: #8a1c1c; padding: .6rem .8rem; border-radius: 4px; }
  small { display: block; color: #5a6270; margin-top: .4rem; }
`;

export const GUEST_PAGE_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

export function guestLandingPage(item: { id: string; name: string; when: string; guestName: string | null }): string {
  return page(
    `Join ${item.name}`,
    `<h1 id="item-name">${escapeHtml(item.name)}</h1>
<p class="client" id="item-when">${escapeHtml(item.when)}</p>
${item.guestName === null ? '' : `<p>Invited: ${escapeHtml(item.guestName)}</p>`}
<div class="actions"><button class="primary" id="join" type="button" data-item="${escapeHtml(item.id)}">Join</button></div>
<p id="status" role="status"></p>
<script src="/guest/guest.js"></script>`,
  );
}

export function guestErrorPage(message: string): string {
  return page('Invitation', `<h1>Invitation</h1>\n<p class="error" role="alert">${escapeHtml(message)}</p>`);
}

/**
 * The Join button: exchange the ticket (once), open the native socket, `authorize` with the
 * guest token, then get the item and ask to join its room. Status text is set with
 * textContent, never as HTML.
 */
export const GUEST_SCRIPT = `'use strict';
(function () {
  var button = document.getElementById('join');
  var status = document.getElementById('status');
  var ticket = new URLSearchParams(location.search).get('ticket') || '';
  function say(text) { status.textContent = text; }
  button.addEventListener('click', function () {
    button.disabled = true;
    say('Joining...');
    fetch('/guest/exchange', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ticket: ticket }) })
      .then(function (response) { return response.json().then(function (body) { return { ok: response.ok, body: body }; }); })
      .then(function (answer) {
        if (!answer.ok) { say((answer.body.error && answer.body.error.message) || 'This link cannot be used.'); return; }
        var grant = answer.body;
        var socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
        var id = 0;
        function send(event, data) { id += 1; socket.send(JSON.stringify({ event: event, data: data, id: id })); }
        window.switchyardGuest = { socket: socket, item: grant.item, frames: [] };
        socket.addEventListener('open', function () { send('authorize', { token: grant.access_token }); });
        socket.addEventListener('message', function (message) {
          var frame;
          try { frame = JSON.parse(message.data); } catch (e) { return; }
          window.switchyardGuest.frames.push(frame);
          if (frame.event === 'authorize' || frame.event === 'authorized') {
            send('consumer_webrtc_get', { id: grant.item.id });
            send('room-join-request', { room: grant.item.room });
            say('Connected to ' + grant.item.name + '.');
          }
          if (frame.event === 'room-join-accept' || frame.event === 'room-joined') say('You are in the call.');
        });
        socket.addEventListener('close', function () { say('Disconnected.'); });
      })
      .catch(function () { say('The gateway could not be reached.'); button.disabled = false; });
  });
})();
`;
