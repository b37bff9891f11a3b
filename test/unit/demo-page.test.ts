import { createHash } from 'node:crypto';
import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DEMO_PAGE_CSP, DEMO_PAGE_HTML, DEMO_PAGE_SCRIPT, demoPageRoute } from '../../src/modules/rooms/demo-page.js';

// The browser side runs in test/e2e/demo.test.ts when Chromium is installed; these checks
// run everywhere and catch the page's usual breakages without a browser.
describe('the /demo page', () => {
  it('has an inline script that compiles (no template-literal accident in the raw string)', () => {
    expect(() => new Script(DEMO_PAGE_SCRIPT, { filename: 'demo-page.js' })).not.toThrow();
    expect(DEMO_PAGE_SCRIPT.toLowerCase()).not.toContain('</script');
  });

  it('never writes HTML from data: no innerHTML, outerHTML, insertAdjacentHTML or document.write', () => {
    expect(DEMO_PAGE_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it('fetches nothing: no external script, style, image or font', () => {
    expect(DEMO_PAGE_HTML).not.toMatch(/<script[^>]*\ssrc=|<link[^>]*stylesheet|https?:\/\//i);
  });

  it('allows exactly its own inline script by hash in the CSP', async () => {
    const hash = createHash('sha256').update(DEMO_PAGE_SCRIPT, 'utf8').digest('base64');
    expect(DEMO_PAGE_CSP).toContain(`script-src 'sha256-${hash}'`);
    expect(DEMO_PAGE_HTML).toContain(`<script>${DEMO_PAGE_SCRIPT}</script>`);
    const response = await demoPageRoute().handler({ method: 'GET', path: '/demo', query: '', headers: {}, body: Buffer.alloc(0), remoteAddress: '' });
    expect(response.status).toBe(200);
    expect(response.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'content-security-policy': DEMO_PAGE_CSP, 'referrer-policy': 'no-referrer' });
  });
});
