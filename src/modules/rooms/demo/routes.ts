import type { HttpResponse, HttpRoute } from '../../../edge/index.js';
import { DEMO_PAGE_CSP, demoPageHtml, SDK_BUNDLE_PATH } from './page.js';
import { isSdkBundle, SDK_BUILD_COMMAND, SDK_BUNDLE_RELATIVE_PATH, SdkBundleFile, type SdkBundleMissing } from './sdk-bundle.js';

export interface DemoRoutesOptions {
  /** The SDK bundle file; default: where `npm run build:sdk` writes it in this gateway's package (tests point it elsewhere). */
  bundlePath?: string;
}

const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': DEMO_PAGE_CSP,
  'x-content-type-options': 'nosniff',
  // `?token=` carries a bearer token: never send it on as a Referer, never keep the page.
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/**
 * The bundle changes only with a deploy. The page links it as `?v=<content hash>`: under that
 * URL the bytes never change, so browsers keep it for good. Under any other (no `v`, or the `v`
 * of a page from before a deploy) it must be revalidated, which the ETag makes a 304.
 */
const CACHE_VERSIONED = 'public, max-age=31536000, immutable';
const CACHE_REVALIDATE = 'no-cache';

/** `If-None-Match` (RFC 9110 13.1.2): `*` or a list of tags, compared weakly. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag.replace(/^W\//, '') === etag;
  });
}

/** Plain text the demo page shows as is (its script fetches it when the import fails). */
function bundleMissing(missing: SdkBundleMissing): HttpResponse {
  const headers = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
  if (missing.reason === 'not-built') {
    return {
      status: 404,
      headers,
      body: `The client SDK bundle has not been built: run "${SDK_BUILD_COMMAND}" in the gateway's folder (it writes ${SDK_BUNDLE_RELATIVE_PATH}); it is served from the next request on, without a restart.\n`,
    };
  }
  return {
    status: 503,
    headers,
    body: `The client SDK bundle cannot be read (${missing.code}): check ${SDK_BUNDLE_RELATIVE_PATH}, or build it again with "${SDK_BUILD_COMMAND}".\n`,
  };
}

/** `GET /demo` and the SDK bundle it loads, `GET /demo/switchyard-client.js`. */
export function demoRoutes(options: DemoRoutesOptions = {}): HttpRoute[] {
  const bundle = new SdkBundleFile(options.bundlePath);
  // The page differs only by the bundle's version: one rendering per version seen.
  let page: { version: string | undefined; body: Buffer } | undefined;

  const pageRoute: HttpRoute = {
    method: 'get',
    path: '/demo',
    handler: async () => {
      const loaded = await bundle.load();
      const version = isSdkBundle(loaded) ? loaded.version : undefined;
      if (!page || page.version !== version) {
        const url = version === undefined ? SDK_BUNDLE_PATH : `${SDK_BUNDLE_PATH}?v=${version}`;
        page = { version, body: Buffer.from(demoPageHtml({ url, built: version !== undefined }), 'utf8') };
      }
      return { status: 200, headers: { ...PAGE_HEADERS }, body: page.body };
    },
  };

  const bundleRoute: HttpRoute = {
    method: 'get',
    path: SDK_BUNDLE_PATH,
    handler: async (request) => {
      const loaded = await bundle.load();
      if (!isSdkBundle(loaded)) return bundleMissing(loaded);
      const versioned = new URLSearchParams(request.query).get('v') === loaded.version;
      const headers = {
        'content-type': 'text/javascript; charset=utf-8',
        etag: loaded.etag,
        'cache-control': versioned ? CACHE_VERSIONED : CACHE_REVALIDATE,
        'x-content-type-options': 'nosniff',
      };
      if (matchesEtag(request.headers['if-none-match'], loaded.etag)) return { status: 304, headers };
      return { status: 200, headers, body: loaded.body };
    },
  };

  return [pageRoute, bundleRoute];
}
