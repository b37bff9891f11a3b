import { createHash } from 'node:crypto';
import { DEMO_BODY } from './body.js';
import { DEMO_SCRIPT } from './script.js';
import { DEMO_STYLE } from './style.js';

/**
 * `GET /demo` (PROTOCOL.md section 1): a page on which two browsers set up a WebRTC call
 * through the gateway, over the client SDK (packages/client), which the gateway serves at
 * SDK_BUNDLE_PATH (routes.ts). The page authenticates with a token pasted in or taken from
 * `?token=`: an app token (JWT `typ` `switchyard-app+jwt`) through Chat Signal's
 * `auth-request`, any other token through `authorize` (user access tokens). It creates or
 * joins a room; the owner sees join requests and approves or rejects them (or auto-approves).
 * Each call carries a data channel and, when the browser grants them, camera and microphone;
 * without them the data channel still works. The connection's state is always shown, with a
 * line per reconnect, resume or restart.
 */

export const SDK_BUNDLE_PATH = '/demo/switchyard-client.js';

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * Only this page's own script and style run, and the SDK bundle; sockets and fetches go only
 * to the page's origin (CSP 3 `'self'` covers ws:/wss: of the same host). `media-src` is not
 * needed: `srcObject` streams are not fetched.
 *
 * The inline script and style are allowed by their hashes. The bundle is allowed by `'self'`,
 * not by its hash: the script reaches it through `import()`, and an import carries no
 * integrity metadata (only import maps' `integrity`, too recent to count on), so a hash-only
 * policy would refuse it in browsers that check the policy before their module map (the
 * hash + `integrity` pairing works for `<script src>` only, and that cannot hand the bundle's
 * exports to this script). `'self'` admits scripts of the gateway's own origin alone, which
 * serves no script but its own (this bundle, /guest/guest.js), never anything a user wrote; a
 * module script needs a JavaScript content type besides, and this page writes no markup that
 * could add a `<script>`.
 */
export const DEMO_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(DEMO_SCRIPT)} 'self'`,
  `style-src ${sha256(DEMO_STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Where the page finds the SDK: the bundle's URL, versioned by its content when it exists. */
export interface SdkLink {
  /** A path of this gateway (never anything from a request): written into the page as is. */
  url: string;
  built: boolean;
}

/**
 * The page. The script reads the bundle's URL from `<meta id="sdk">`, so the script (and with
 * it the CSP's hash) stays the same whatever the bundle's version; `modulepreload` fetches the
 * bundle while the page is parsed.
 */
export function demoPageHtml(sdk: SdkLink): string {
  const preload = sdk.built ? `\n<link rel="modulepreload" href="${sdk.url}">` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard demo</title>
<link rel="icon" href="data:,">
<meta name="switchyard-sdk" id="sdk" content="${sdk.url}" data-built="${sdk.built}">${preload}
<style>${DEMO_STYLE}</style>
</head>
<body>${DEMO_BODY}<script>${DEMO_SCRIPT}</script>
</body>
</html>
`;
}
