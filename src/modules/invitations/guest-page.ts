import { escapeHtml, loginLookPage as page } from '../identity/index.js';

/**
 * The guest landing page (`GET /guest?ticket=...`), in the OAuth login page's look. The ticket
 * is never written into the page: the script reads it from the address bar. Every value shown
 * goes through escapeHtml; the script is a separate file (`/guest/guest.js`) so the page's CSP
 * allows no inline script at all.
 */

export const GUEST_PAGE_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

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
