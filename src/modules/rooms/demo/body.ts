/**
 * The demo page's markup (no script, no style: page.ts puts those around it). Every element
 * the script writes into starts empty or with a placeholder; the script writes text only.
 * A raw template string: it must contain no backtick and no dollar-brace sequence.
 */
export const DEMO_BODY = String.raw`
<header>
  <h1>Switchyard demo</h1>
  <span id="connection" class="pill" data-state="closed" title="the socket, as the SDK reports it">not connected</span>
  <span id="status" class="pill" data-state="disconnected">signed out</span>
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
        <button id="drop" type="button" title="Closes this page's socket. A close the page asks for ends the session on the gateway, so the SDK reconnects with a new one (restarted); a lost network (sleep, a Wi-Fi switch) resumes instead.">Drop socket</button>
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
