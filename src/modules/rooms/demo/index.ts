/**
 * The demo page (`GET /demo`) and the SDK bundle it loads (`GET /demo/switchyard-client.js`):
 * page.ts (markup, CSP), script*.ts (the page script), sdk-bundle.ts (the bundle file),
 * routes.ts (both routes).
 */
export { demoRoutes, type DemoRoutesOptions } from './routes.js';
export { DEMO_PAGE_CSP, demoPageHtml, SDK_BUNDLE_PATH } from './page.js';
export { DEMO_SCRIPT } from './script.js';
export { DEMO_STYLE } from './style.js';
export { defaultSdkBundlePath, packageRootOf, SDK_BUILD_COMMAND } from './sdk-bundle.js';
