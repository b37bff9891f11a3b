import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { APP_PASSWORD, appToken } from '../helpers/rooms.js';

/**
 * The demo page in Debian's Chromium: two pages (two browser contexts, as two people would
 * be) set up a WebRTC call through a real gateway and talk over the data channel.
 *
 * Chromium is a system package (`.ci/run` installs it). Without it the browser test is
 * skipped with the reason printed, except in CI (`CI=true`), where it fails: a CI run that
 * silently skipped the only browser test would prove nothing about the page.
 *
 * Set DEMO_SCREENSHOTS=<dir> to save screenshots of both pages mid-call, CHROMIUM_PATH to use
 * another Chromium build.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';
const screenshotDir = process.env.DEMO_SCREENSHOTS;
const missing = `${CHROMIUM} is missing: install Debian's chromium package (apt-get update && apt-get install -y chromium)`;
if (!haveChromium && !inCi) console.warn(`[demo e2e] skipping the browser test: ${missing}`);

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

  beforeAll(async () => {
    server = await startTestGateway({ appPassword: APP_PASSWORD });
    token = await appToken(server);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('serves the page as HTML with a strict CSP', async () => {
    const response = await fetch(server.url('/demo'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'.*script-src 'sha256-/);
    expect(await response.text()).toContain('<title>Switchyard demo</title>');
  });

  it.skipIf(!haveChromium && !inCi)(
    'two pages create and join a room, the owner approves, and the data channel carries text both ways',
    async () => {
      if (!haveChromium) throw new Error(`CI=true but the browser test cannot run: ${missing}. .ci/run should have installed it.`);
      const problems: string[] = [];
      const chromiumBrowser = await launch();
      const demoUrl = server.url(`/demo?token=${encodeURIComponent(token)}`);
      const [a, b] = await Promise.all([openDemo(chromiumBrowser, demoUrl, 'A', problems), openDemo(chromiumBrowser, demoUrl, 'B', problems)]);
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
        mkdirSync(screenshotDir, { recursive: true });
        await a.screenshot({ path: join(screenshotDir, 'demo-a-owner.png') });
        await b.screenshot({ path: join(screenshotDir, 'demo-b-joiner.png') });
      }

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
    'signs in with a user access token through authorize',
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
