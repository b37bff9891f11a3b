import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/child-gateway.js';
import { createUsers, startIdentityGateway, type IdentityGateway, type TestUser } from '../helpers/identity.js';

/**
 * The SDK's browser bundle (packages/client/dist/switchyard-client.browser.js, built by
 * `npm run build:sdk`, which `npm test` runs first) in Debian's Chromium: a page on the
 * web app's origin (a plain HTTP server of the test, on loopback: the gateway does not serve
 * the bundle yet) imports it as an ES module and talks to the gateway through the browser's
 * own WebSocket, in JSON and MessagePack; the gateway lets that origin in by `allowedOrigins`,
 * as a deployment would. Without Chromium
 * the test is skipped with the reason, except in CI, where it fails (as guest.test.ts does).
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';
if (!haveChromium && !inCi) console.warn(`[sdk e2e] skipping the browser test: ${CHROMIUM} is missing (apt-get install -y chromium)`);
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const BUNDLE = join(ROOT, 'packages', 'client', 'dist', 'switchyard-client.browser.js');

/** What the page's script reports back on `window.sdkResult` (the test's own types have no DOM). */
interface PageResult {
  error?: string;
  pong?: unknown;
  login?: { event: string; data: { userId: string } };
  receipts?: unknown[];
  created?: { status: number; response: { name: string } };
  refused?: { name: string; code: string; event: string };
  msgpack?: { pong: unknown; protocol: string | undefined };
  lifecycle?: string[];
}
declare const window: { sdkResult?: PageResult };

/** The page: a module script that imports the bundle and drives two clients. */
const page = (wsUrl: string, user: TestUser) => `<!doctype html>
<meta charset="utf-8"><title>SDK</title>
<script type="module">
  import { SwitchyardClient, SUBPROTOCOLS } from '/switchyard-client.browser.js';
  const result = { lifecycle: [] };
  try {
    const client = new SwitchyardClient({ url: ${JSON.stringify(wsUrl)} });
    for (const name of ['connecting', 'open', 'closed']) client.on(name, () => result.lifecycle.push(name));
    await client.connect();
    result.pong = await client.request('ping');
    result.login = await client.request('login', ${JSON.stringify({ username: user.username, password: user.password })}, { timeoutMs: 120000 });
    result.receipts = [];
    result.created = await client.command('admin_organisation_create', { data: { name: 'Browser Org' } }, { onReceipt: (receipt) => result.receipts.push(receipt) });
    try {
      await client.request('room-join-request', { room: 'nowhere' });
    } catch (error) {
      result.refused = { name: error.name, code: error.code, event: error.event };
    }
    const binary = new SwitchyardClient({ url: ${JSON.stringify(wsUrl)}, codec: 'msgpack' });
    await binary.connect();
    result.msgpack = { pong: await binary.request('ping'), protocol: SUBPROTOCOLS.msgpack };
    await binary.close();
    await client.close();
  } catch (error) {
    result.error = String(error && error.stack || error);
  }
  window.sdkResult = result;
</script>`;

describe.runIf(haveChromium || inCi)('the SDK browser bundle in Chromium', { timeout: 180_000 }, () => {
  let server: IdentityGateway;
  let users: Record<string, TestUser>;
  let browser: Browser | undefined;
  let app: Server;
  let appOrigin: string;

  beforeAll(async () => {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "npm run build:sdk" first`);
    // The app's server: the page and the bundle, as a site that ships the SDK would serve them.
    app = createServer((request, response) => {
      if (request.url === '/switchyard-client.browser.js') {
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(BUNDLE));
      } else if (request.url === '/') {
        response.writeHead(200, { 'content-type': 'text/html' }).end(page(server.wsUrl(), users.ada!));
      } else {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    server = await startIdentityGateway({ allowedOrigins: appOrigin });
    const seed = await server.gateway.identity.createOrganisation('Seed', 'test');
    users = await createUsers(server, seed, [{ username: 'ada' }]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await new Promise((resolve) => app?.close(resolve));
  });

  it('imports the bundle and does a request round trip, a login and a command with its receipt, in JSON and MessagePack', async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (error) => errors.push(String(error)));
    expect((await tab.goto(`${appOrigin}/`))?.status()).toBe(200);
    await tab.waitForFunction(() => window.sdkResult !== undefined, undefined, { timeout: 120_000 });
    const result = await tab.evaluate(() => window.sdkResult!);

    expect(errors).toEqual([]);
    expect(result.error).toBeUndefined();
    expect(result.pong).toEqual({ event: 'pong', data: { ts: expect.any(Number) } });
    expect(result.login).toMatchObject({ event: 'authorized', data: { userId: users.ada!.userId } });
    expect(result.receipts).toEqual([{ status: 202, topic: 'ex-manage', messageId: expect.any(Number) }]);
    expect(result.created).toMatchObject({ status: 201, response: { name: 'Browser Org' } });
    expect(result.refused).toEqual({ name: 'SwitchyardError', code: 'NOT_FOUND', event: 'room-join-reject' });
    expect(result.msgpack).toEqual({ pong: { event: 'pong', data: { ts: expect.any(Number) } }, protocol: 'switchyard.v1.msgpack' });
    expect(result.lifecycle).toEqual(['connecting', 'open', 'closed']);
    // Both page sockets were real sessions of the gateway, one per codec.
    const opened = server.events<{ codec: string }>('ConnectionOpened').map((event) => event.data.codec);
    expect(opened).toEqual(['json', 'msgpack']);
  });
});
