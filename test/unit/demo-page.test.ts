import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import type { HttpRequest, HttpResponse, HttpRoute } from '../../src/edge/index.js';
import { DEMO_PAGE_CSP, DEMO_SCRIPT, DEMO_STYLE, defaultSdkBundlePath, demoRoutes, packageRootOf, SDK_BUNDLE_PATH } from '../../src/modules/rooms/demo/index.js';
import { tempDir } from '../helpers/temp-dir.js';

// The browser side runs in test/e2e/demo.test.ts when Chromium is installed; these checks
// run everywhere and catch the page's usual breakages without a browser.

const request = (path: string, query = '', headers: Record<string, string> = {}): HttpRequest => ({
  method: 'GET',
  path,
  query,
  headers,
  body: Buffer.alloc(0),
  remoteAddress: '127.0.0.1',
});

const routeOf = (routes: HttpRoute[], path: string): HttpRoute => {
  const route = routes.find((candidate) => candidate.path === path && candidate.method === 'get');
  if (!route) throw new Error(`no GET ${path} among ${routes.map((candidate) => candidate.path).join(', ')}`);
  return route;
};

const get = async (routes: HttpRoute[], path: string, query = '', headers: Record<string, string> = {}): Promise<HttpResponse & { text: string }> => {
  const response = await routeOf(routes, path).handler(request(path, query, headers));
  return { ...response, text: response.body === undefined ? '' : response.body.toString() };
};

const base64Sha256 = (text: string | Buffer): string => createHash('sha256').update(text).digest('base64');

const files = tempDir('switchyard-demo-');
afterAll(() => files.remove());

/** A stand-in bundle: the route serves any file's bytes as they are. */
function fakeBundle(name: string, content: string): string {
  const path = join(files.path, name);
  writeFileSync(path, content);
  return path;
}

describe('the /demo page script', () => {
  it('compiles (no template-literal accident in the raw strings it is assembled from)', () => {
    expect(() => new Script(DEMO_SCRIPT, { filename: 'demo-page.js' })).not.toThrow();
    expect(DEMO_SCRIPT.toLowerCase()).not.toContain('</script');
    expect(DEMO_STYLE.toLowerCase()).not.toContain('</style');
  });

  it('never writes HTML from data: no innerHTML, outerHTML, insertAdjacentHTML or document.write', () => {
    expect(DEMO_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it('speaks only through the SDK: no socket, no frame of its own', () => {
    expect(DEMO_SCRIPT).toContain('import(SDK_URL)');
    // The one `new WebSocket` is the factory the SDK is handed (for the Drop socket button).
    expect(DEMO_SCRIPT.match(/new WebSocket\(/g)).toHaveLength(1);
    expect(DEMO_SCRIPT).toMatch(/WebSocket: TrackedWebSocket/);
    expect(DEMO_SCRIPT).not.toMatch(/JSON\.stringify\(\{ event:/);
    expect(DEMO_SCRIPT).toMatch(/client\.send\(event, data\)/);
  });
});

describe('GET /demo', () => {
  const bundlePath = fakeBundle('page-bundle.js', 'export const SwitchyardClient = class {};\n');
  const routes = demoRoutes({ bundlePath });

  it('serves the page with a CSP whose hashes are those of the inline script and style it serves', async () => {
    const page = await get(routes, '/demo');
    expect(page.status).toBe(200);
    expect(page.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': DEMO_PAGE_CSP,
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    const scripts = [...page.text.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) => match[1]!);
    const styles = [...page.text.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((match) => match[1]!);
    expect(scripts).toEqual([DEMO_SCRIPT]);
    expect(styles).toEqual([DEMO_STYLE]);
    const directives = new Map(DEMO_PAGE_CSP.split('; ').map((directive) => [directive.split(' ')[0], directive.split(' ').slice(1)]));
    expect(directives.get('script-src')).toEqual([`'sha256-${base64Sha256(scripts[0]!)}'`, "'self'"]);
    expect(directives.get('style-src')).toEqual([`'sha256-${base64Sha256(styles[0]!)}'`]);
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
  });

  it('loads nothing from elsewhere: no script element with src, no stylesheet, no absolute URL', async () => {
    const page = await get(routes, '/demo');
    expect(page.text).not.toMatch(/<script[^>]*\ssrc=|<link[^>]*stylesheet|https?:\/\//i);
  });

  it('links the bundle under its content version, preloaded', async () => {
    const page = await get(routes, '/demo');
    const version = createHash('sha256').update(readFileSync(bundlePath)).digest('hex').slice(0, 16);
    const url = `${SDK_BUNDLE_PATH}?v=${version}`;
    expect(page.text).toContain(`<meta name="switchyard-sdk" id="sdk" content="${url}" data-built="true">`);
    expect(page.text).toContain(`<link rel="modulepreload" href="${url}">`);
  });
});

describe('GET /demo/switchyard-client.js', () => {
  const content = 'export const SwitchyardClient = class {}; // a stand-in\n';
  const bundlePath = fakeBundle('bundle.js', content);
  const routes = demoRoutes({ bundlePath });
  const etag = `"sha256-${createHash('sha256').update(content).digest('hex')}"`;
  const version = createHash('sha256').update(content).digest('hex').slice(0, 16);

  it("serves the file as JavaScript with a content ETag; under the page's ?v= it may be cached for good", async () => {
    const versioned = await get(routes, SDK_BUNDLE_PATH, `v=${version}`);
    expect(versioned.status).toBe(200);
    expect(versioned.text).toBe(content);
    expect(versioned.headers).toEqual({
      'content-type': 'text/javascript; charset=utf-8',
      etag,
      'cache-control': 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
    });
  });

  it('without the current ?v= (none, or a page from before a deploy) it must be revalidated', async () => {
    for (const query of ['', 'v=0123456789abcdef']) {
      const response = await get(routes, SDK_BUNDLE_PATH, query);
      expect(response.status).toBe(200);
      expect(response.headers).toMatchObject({ etag, 'cache-control': 'no-cache' });
    }
  });

  it('answers a revalidation with its ETag (strong, weak, in a list, or *) by 304 without a body', async () => {
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const response = await get(routes, SDK_BUNDLE_PATH, '', { 'if-none-match': ifNoneMatch });
      expect(response.status, ifNoneMatch).toBe(304);
      expect(response.text).toBe('');
      expect(response.headers).toMatchObject({ etag, 'cache-control': 'no-cache' });
    }
    const changed = await get(routes, SDK_BUNDLE_PATH, '', { 'if-none-match': '"sha256-old"' });
    expect(changed.status).toBe(200);
    expect(changed.text).toBe(content);
  });

  it('reads the file once: a file changed under a running gateway is not picked up (it changes with a deploy)', async () => {
    const path = fakeBundle('read-once.js', 'export const first = 1;\n');
    const once = demoRoutes({ bundlePath: path });
    expect((await get(once, SDK_BUNDLE_PATH)).text).toBe('export const first = 1;\n');
    writeFileSync(path, 'export const second = 2;\n');
    expect((await get(once, SDK_BUNDLE_PATH)).text).toBe('export const first = 1;\n');
  });
});

describe('the bundle not built', () => {
  const path = join(files.path, 'not-built', 'switchyard-client.browser.js');
  const routes = demoRoutes({ bundlePath: path });

  it('answers 404 in plain text that names the command that builds it, and is not cached', async () => {
    const response = await get(routes, SDK_BUNDLE_PATH);
    expect(response.status).toBe(404);
    expect(response.headers).toMatchObject({ 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    expect(response.text).toContain('has not been built: run "npm run build:sdk"');
    expect(response.text).toContain('packages/client/dist/switchyard-client.browser.js');
    // The server's own path is not shown: the text names the file relative to the package.
    expect(response.text).not.toContain(files.path);
  });

  it('still serves the page, which says so itself (data-built="false", nothing preloaded)', async () => {
    const page = await get(routes, '/demo');
    expect(page.status).toBe(200);
    expect(page.text).toContain(`<meta name="switchyard-sdk" id="sdk" content="${SDK_BUNDLE_PATH}" data-built="false">`);
    expect(page.text).not.toContain('modulepreload');
  });

  it('serves the bundle once it has been built, without a restart', async () => {
    mkdirSync(join(files.path, 'not-built'), { recursive: true });
    writeFileSync(path, 'export const late = true;\n');
    const response = await get(routes, SDK_BUNDLE_PATH);
    expect(response.status).toBe(200);
    expect(response.text).toBe('export const late = true;\n');
    expect((await get(routes, '/demo')).text).toContain('data-built="true"');
  });

  it('answers 503 when the path cannot be read (a directory)', async () => {
    const response = await get(demoRoutes({ bundlePath: files.path }), SDK_BUNDLE_PATH);
    expect(response.status).toBe(503);
    expect(response.text).toContain('cannot be read (EISDIR)');
    expect(response.text).toContain('npm run build:sdk');
  });
});

describe('where the gateway looks for the bundle', () => {
  it("is the SDK build output in the gateway's own package, found from the source file upwards", () => {
    const root = packageRootOf(join(import.meta.dirname, '..', '..', 'src', 'modules', 'rooms', 'demo'));
    expect(root).toBeDefined();
    expect(JSON.parse(readFileSync(join(root!, 'package.json'), 'utf8'))).toMatchObject({ name: 'switchyard' });
    expect(defaultSdkBundlePath()).toBe(join(root!, 'packages', 'client', 'dist', 'switchyard-client.browser.js'));
  });

  it('walks up to the nearest package.json, and gives up at the file system root', () => {
    const nested = join(files.path, 'app', 'dist', 'modules', 'rooms', 'demo');
    mkdirSync(nested, { recursive: true });
    writeFileSync(join(files.path, 'app', 'package.json'), '{}');
    expect(packageRootOf(nested)).toBe(join(files.path, 'app'));
    expect(packageRootOf('/')).toBeUndefined();
  });
});
