import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/child-gateway.js';
import { until } from '../helpers/conditions.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { APP_PASSWORD, appToken } from '../helpers/rooms.js';

/**
 * The demo page in Debian's Chromium: two pages (two browser contexts, as two people would
 * be) set up a WebRTC call through a real gateway and talk over the data channel, all of it
 * through the client SDK's browser bundle, which the gateway serves at
 * /demo/switchyard-client.js (built by `npm run build:sdk`, which `npm test` runs first). One
 * page's network is cut mid-call and it resumes; another drops its own socket and restarts.
 *
 * Chromium is a system package (`.ci/run` installs it). Without it the browser test is
 * skipped with the reason printed, except in CI (`CI=true`), where it fails: a CI run that
 * silently skipped the only browser test would prove nothing about the page.
 *
 * Set DEMO_SCREENSHOTS=<dir> to save screenshots of both pages mid-call, after the resume and
 * after the restart; CHROMIUM_PATH to use another Chromium build.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';
const screenshotDir = process.env.DEMO_SCREENSHOTS;
const missing = `${CHROMIUM} is missing: install Debian's chromium package (apt-get update && apt-get install -y chromium)`;
if (!haveChromium && !inCi) console.warn(`[demo e2e] skipping the browser test: ${missing}`);
if (screenshotDir) mkdirSync(screenshotDir, { recursive: true });
const BUNDLE = join(ROOT, 'packages', 'client', 'dist', 'switchyard-client.browser.js');

// Playwright's launch() already gives every run a fresh, empty profile (its own temporary
// user data dir) and adds --headless and --no-sandbox; the rest keep Chromium off the
// network (this machine refuses outside connections) and fake the camera and microphone.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
];

describe('GET /demo: a WebRTC call between two browsers through the gateway', () => {
  let server: TestGateway;
  let token: string;
  let browser: Browser | undefined;
  const launch = async (): Promise<Browser> => {
    browser ??= await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    return browser;
  };

  let network: CuttableNetwork | undefined;

  beforeAll(async () => {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "npm run build:sdk" first`);
    server = await startTestGateway({ appPassword: APP_PASSWORD });
    token = await appToken(server);
  });
  afterAll(async () => {
    await browser?.close();
    await network?.close();
    await server?.close();
  });

  it('serves the page as HTML with a strict CSP, and the SDK bundle it links, cacheable under its version', async () => {
    const response = await fetch(server.url('/demo'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'sha256-[^']+' 'self'; style-src 'sha256-/);
    const html = await response.text();
    expect(html).toContain('<title>Switchyard demo</title>');
    const sdkUrl = /<meta name="switchyard-sdk" id="sdk" content="([^"]+)" data-built="true">/.exec(html)?.[1];
    expect(sdkUrl).toMatch(/^\/demo\/switchyard-client\.js\?v=[0-9a-f]{16}$/);
    const bundle = await fetch(server.url(sdkUrl));
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(bundle.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(Buffer.from(await bundle.arrayBuffer()).equals(readFileSync(BUNDLE))).toBe(true);
    const revalidated = await fetch(server.url(sdkUrl), { headers: { 'if-none-match': bundle.headers.get('etag')! } });
    expect(revalidated.status).toBe(304);
  });

  it.skipIf(!haveChromium && !inCi)(
    'two pages create and join a room, the owner approves, the data channel carries text both ways, and a network cut under one page is resumed',
    async () => {
      if (!haveChromium) throw new Error(`CI=true but the browser test cannot run: ${missing}. .ci/run should have installed it.`);
      const problems: string[] = [];
      const chromiumBrowser = await launch();
      // B reaches the gateway through a network the test can cut; A directly.
      network = new CuttableNetwork(server.port);
      const bOrigin = `http://127.0.0.1:${await network.listen()}`;
      const demoPath = `/demo?token=${encodeURIComponent(token)}`;
      const [a, b] = await Promise.all([openDemo(chromiumBrowser, server.url(demoPath), 'A', problems), openDemo(chromiumBrowser, `${bOrigin}${demoPath}`, 'B', problems)]);
      for (const page of [a, b]) expect(await page.locator('#connection').getAttribute('data-state')).toBe('connected');
      // The token was taken from the URL and removed from the address bar.
      expect(new URL(a.url()).searchParams.has('token')).toBe(false);
      const peerA = await a.locator('#peer-id').textContent();
      const peerB = await b.locator('#peer-id').textContent();
      expect(peerA).toMatch(/\S/);
      expect(peerB).not.toBe(peerA);

      await a.fill('#room', 'demo-e2e');
      await a.click('#create');
      await a.locator('#room-state[data-state="owner"]').waitFor();

      await b.fill('#room', 'demo-e2e');
      await b.click('#join');
      await b.locator('#room-state[data-state="waiting"]').waitFor();

      const request = a.locator(`#requests li[data-peer="${peerB}"]`);
      await request.waitFor();
      await request.locator('button.approve').click();
      await b.locator('#room-state[data-state="member"]').waitFor();

      // B offered to A (the joiner calls the peers it was given); both channels open.
      await a.locator(`.tile[data-peer="${peerB}"][data-channel="open"]`).waitFor();
      await b.locator(`.tile[data-peer="${peerA}"][data-channel="open"]`).waitFor();

      await a.fill('#message', 'hello from A <b>not bold</b>');
      await a.click('#send');
      await b.locator('#chat-log li.received', { hasText: 'hello from A <b>not bold</b>' }).waitFor();
      await b.fill('#message', 'hello from B');
      await b.press('#message', 'Enter');
      await a.locator('#chat-log li.received', { hasText: 'hello from B' }).waitFor();
      // Echoed as text, never as markup.
      expect(await b.locator('#chat-log b').count()).toBe(0);

      // The fake camera's frames arrive on both sides. (A string expression: this project
      // compiles without the DOM library, so browser-side code is not typed here.)
      for (const [page, remote] of [[a, peerB], [b, peerA]] as const) {
        const selector = JSON.stringify(`.tile[data-peer="${remote}"] video`);
        await page.waitForFunction(`(() => { const v = document.querySelector(${selector}); return !!v && v.videoWidth > 0 && v.currentTime > 0; })()`);
      }

      if (screenshotDir) {
        await a.screenshot({ path: join(screenshotDir, 'demo-a-owner.png') });
        await b.screenshot({ path: join(screenshotDir, 'demo-b-joiner.png') });
      }

      // B's network goes away mid-call. To the gateway B's socket is lost (no close frame),
      // so it keeps B's session for the resume window; B's page shows its SDK reconnecting.
      const beforeCut = problems.length;
      network.cut();
      await until(() => server.gateway.store.readAll({ type: 'ConnectionDetached' }).some((event) => (event.data as { connectionId: string }).connectionId === peerB), "the gateway kept B's session");
      await b.locator('#connection[data-state="reconnecting"]').waitFor();
      // Meanwhile the room changes: a push from the log that B misses while it is away.
      await server.gateway.rooms.update('demo-e2e', [1, 2, 3], 'test');
      await a.locator('#notices li', { hasText: 'room demo-e2e updated: [1,2,3]' }).waitFor();
      network.restore();
      await b.locator('#connection[data-state="resumed"]').waitFor();
      // Chromium logs each reconnect attempt refused while offline: expected, and only those.
      const duringCut = problems.splice(beforeCut);
      expect(duringCut.filter((problem) => !/^B console: WebSocket connection to '[^']+' failed: /.test(problem))).toEqual([]);
      // The missed count is the gateway's: the room update, and also B's join answer, which
      // carried a seq the SDK does not count as seen (it takes seqs from pushes only), so the
      // gateway replays it and the page ignores it (B is already a member).
      const missed = /^resumed \((\d+) missed push(?:es)?\)$/.exec((await b.locator('#connection').textContent()) ?? '');
      expect(Number(missed?.[1])).toBeGreaterThanOrEqual(1);
      await b.locator('#notices li', { hasText: 'room demo-e2e updated: [1,2,3]' }).waitFor();
      await b.locator('#notices li', { hasText: /connection lost: reconnect attempt 1 in \d+ ms/ }).waitFor();
      await b.locator('#notices li', { hasText: 'session resumed as peer' }).waitFor();
      // Resumed, not replaced: the same peer, still in the room, and the call carried on
      // (its media and data channel never went through the gateway).
      expect(await b.locator('#peer-id').textContent()).toBe(peerB);
      expect(await b.locator('#room-state').getAttribute('data-state')).toBe('member');
      expect(await a.locator('#notices li', { hasText: 'left the room' }).count()).toBe(0);
      await b.fill('#message', 'back from B');
      await b.press('#message', 'Enter');
      await a.locator('#chat-log li.received', { hasText: 'back from B' }).waitFor();
      if (screenshotDir) await b.screenshot({ path: join(screenshotDir, 'demo-b-resumed.png') });

      // B leaves: A hears of it and hangs up on B.
      await b.click('#leave');
      await a.locator('#notices li', { hasText: 'left the room' }).waitFor();
      await a.locator(`.tile[data-peer="${peerB}"]`).waitFor({ state: 'detached' });
      await b.locator('#room-state[data-state="none"]').waitFor();

      expect(problems).toEqual([]);
    },
    90_000,
  );

  it.skipIf(!haveChromium && !inCi)(
    'signs in with a user access token through authorize, and after dropping its socket comes back restarted and signed in again',
    async () => {
      if (!haveChromium) throw new Error(`CI=true but the browser test cannot run: ${missing}. .ci/run should have installed it.`);
      const { identity } = server.gateway;
      await identity.createOrganisation('demo-org', 'test');
      const userId = await identity.addUser({ organisation: 'demo-org', username: 'demo-user', password: 'demo-user-password', groups: [], by: 'test' });
      const { token: accessToken } = await identity.tokens.issue('access', { subject: userId, ttlSeconds: 300, now: Date.now() });
      const problems: string[] = [];
      const page = await openDemo(await launch(), server.url(`/demo?token=${encodeURIComponent(accessToken)}`), 'user', problems);
      expect(await page.locator('#status').textContent()).toBe(`authenticated as ${userId}`);
      // A signed-in user may create rooms like an app session.
      await page.fill('#room', 'demo-user-room');
      await page.click('#create');
      await page.locator('#room-state[data-state="owner"]').waitFor();
      const firstPeer = await page.locator('#peer-id').textContent();

      // The page drops its own socket: a close the client asks for ends the session on the
      // gateway, so the SDK cannot resume; it starts a new session, signs it in again with the
      // token the page signed in with, and the page says the room is lost.
      await page.click('#drop');
      await page.locator('#connection[data-state="restarted"]').waitFor();
      expect(await page.locator('#connection').textContent()).toBe('restarted (unknown)');
      await page.locator('#notices li', { hasText: 'rooms lost with the old session: demo-user-room. Create or join again.' }).waitFor();
      await page.locator('#notices li', { hasText: 'a new one started, signed in again by the SDK' }).waitFor();
      expect(await page.locator('#room-state').getAttribute('data-state')).toBe('none');
      expect(await page.locator('#status').textContent()).toBe(`authenticated as ${userId}`);
      expect(await page.locator('#peer-id').textContent()).not.toBe(firstPeer);
      if (screenshotDir) await page.screenshot({ path: join(screenshotDir, 'demo-user-restarted.png') });
      // Signed in again indeed: creating a room needs a session with a principal.
      await page.fill('#room', 'demo-user-room-2');
      await page.click('#create');
      await page.locator('#room-state[data-state="owner"]').waitFor();
      expect(problems).toEqual([]);
      await page.context().close();
    },
    60_000,
  );
});

/**
 * Opens the demo page in a fresh browser context (its own cookies and storage, like a
 * second browser) and waits until it has signed in. Script errors and console errors (CSP
 * violations show up there) are collected in `problems`: any of them means a broken page.
 */
async function openDemo(browser: Browser, url: string, name: string, problems: string[]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await context.newPage();
  // Generous: two Chromium renderers with fake camera encoding share two cores with the gateway.
  page.setDefaultTimeout(30_000);
  page.on('pageerror', (error) => problems.push(`${name}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`${name} console: ${message.text()}`);
  });
  await page.goto(url);
  await page.locator('#status[data-state="authenticated"]').waitFor();
  return page;
}

/**
 * Page B's network: a TCP proxy in front of the gateway (the page is loaded through it, so its
 * socket goes through it too; the gateway admits the page's origin as its own Host). `cut()`
 * resets every connection through it, so neither side gets a WebSocket close frame: to the
 * gateway the socket is lost (1006), as after a network cut, and its session is kept for the
 * resume window. New connections are refused until `restore()`, as while offline.
 */
class CuttableNetwork {
  private readonly server = createServer((inbound) => this.carry(inbound));
  private readonly sockets = new Set<Socket>();
  private online = true;

  constructor(private readonly gatewayPort: number) {}

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  cut(): void {
    this.online = false;
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  restore(): void {
    this.online = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private carry(inbound: Socket): void {
    if (!this.online) {
      inbound.resetAndDestroy();
      return;
    }
    const outbound = connect(this.gatewayPort, '127.0.0.1');
    for (const [socket, other] of [[inbound, outbound], [outbound, inbound]] as const) {
      this.sockets.add(socket);
      socket.pipe(other);
      // A reset or error on one side ends the other: nothing is left half open.
      socket.on('error', () => other.destroy());
      socket.on('close', () => {
        this.sockets.delete(socket);
        other.destroy();
      });
    }
  }
}
