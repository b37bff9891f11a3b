import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { authorizationRequest, authorizationServer, insecure, parseForm, post, signIn } from '../helpers/oauth-browser.js';

/**
 * Issue 16 point 10: a long non-ASCII `state` made an unsubmittable login form. The state
 * rode inside the form's signed token, as UTF-8 JSON in base64url: 1,024 CJK characters
 * (the longest state the authorize endpoint takes) are 3 KiB of UTF-8 and 4 KiB of base64,
 * past the longest token the verifier reads, so every submit said "page expired". Every
 * state the endpoint accepts now comes back to the client unchanged, through the password
 * step, the MFA step and a cancel.
 */

const REDIRECT = 'https://spa.example/callback';
const PASSWORD = 'correct horse battery staple';

const STATES: [name: string, state: string][] = [
  ['1,024 CJK characters', '状'.repeat(1024)],
  ['512 emoji (1,024 UTF-16 units, 2 KiB of UTF-8)', '😀'.repeat(512)],
  ['mixed scripts, spaces, quotes, markup and newlines', 'état «x» <b>"ü"</b> & \'ß\'\r\n\tﬁ 𝄞 '.repeat(30).slice(0, 1024)],
];

describe('OAuth2 state of any length the endpoint accepts, in any script', () => {
  let server: TestGateway;
  let as: oauth.AuthorizationServer;
  let client: oauth.Client;
  let mfaSecret: string;

  beforeAll(async () => {
    server = await startTestGateway();
    const { identity } = server.gateway;
    const organisationId = await identity.createOrganisation('acme', 'test');
    await identity.addUser({ organisation: organisationId, username: 'alice', password: PASSWORD, groups: [], by: 'test' });
    await identity.addUser({ organisation: organisationId, username: 'bob', password: PASSWORD, groups: [], by: 'test' });
    mfaSecret = (await identity.enrollMfa('bob', 'test')).secret;
    const registered = await identity.registerClient({ organisation: organisationId, name: 'SPA', redirectUris: [REDIRECT], public: true, by: 'test' });
    client = { client_id: registered.clientId, token_endpoint_auth_method: 'none' };
    as = authorizationServer(server.url);
  });

  afterAll(async () => {
    await server.close();
  });

  for (const [name, state] of STATES) {
    it(`round-trips ${name} through sign-in, and the code redeems`, async () => {
      const start = await authorizationRequest(as, client, REDIRECT, { state });
      const { location } = await signIn({ ...start, state }, { username: 'alice', password: PASSWORD });
      expect(location.searchParams.get('state')).toBe(state);
      const params = oauth.validateAuthResponse(as, client, location, state);
      const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT, start.verifier, insecure);
      expect((await oauth.processAuthorizationCodeResponse(as, client, response)).token_type).toBe('bearer');
    });
  }

  it('round-trips it through the MFA step and through a cancel', async () => {
    const state = STATES[0]![1];
    const mfa = await signIn({ ...(await authorizationRequest(as, client, REDIRECT, { state })), state }, { username: 'bob', password: PASSWORD, totpSecret: mfaSecret });
    expect(mfa.location.searchParams.get('state')).toBe(state);

    const start = await authorizationRequest(as, client, REDIRECT, { state });
    const page = await fetch(start.url, { redirect: 'manual' });
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0]!;
    const form = parseForm(await page.text());
    const cancelled = await post(new URL(form.action, start.url), { ...form.fields, step: 'cancel' }, cookie);
    expect(cancelled.status).toBe(302);
    const back = new URL(cancelled.headers.get('location')!);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe(state);
  });

  it('refuses a form whose state was changed in the page', async () => {
    const state = STATES[0]![1];
    const start = await authorizationRequest(as, client, REDIRECT, { state });
    const page = await fetch(start.url, { redirect: 'manual' });
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0]!;
    const form = parseForm(await page.text());
    const tampered = form.fields.request!.replace(/.$/, (last) => (last === 'A' ? 'B' : 'A'));
    const answer = await post(new URL(form.action, start.url), { ...form.fields, request: tampered, step: 'password', username: 'alice', password: PASSWORD }, cookie);
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('This sign-in page has expired');
  });
});
