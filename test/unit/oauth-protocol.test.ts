import { describe, expect, it } from 'vitest';
import {
  checkAuthorizationRequest,
  parseBasicCredentials,
  parseScope,
  pkceMatches,
  redirectWith,
  s256,
  scopeWithin,
  singleParameters,
  type RegisteredClient,
} from '../../src/modules/identity/oauth-protocol.js';
import { escapeHtml, errorPage, loginPage, mfaPage } from '../../src/modules/identity/login-page.js';

const spa: RegisteredClient = { clientId: 'spa', organisationId: 'o1', name: 'SPA', public: true, redirectUris: ['https://app.example/cb', 'https://app.example/cb?tenant=a'] };
const backend: RegisteredClient = { clientId: 'backend', organisationId: 'o1', name: 'Backend', public: false, redirectUris: ['https://api.example/cb'] };
const lookup = (clientId: string) => [spa, backend].find((client) => client.clientId === clientId);

// RFC 7636 appendix B.
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

const request = (params: Record<string, string>) => checkAuthorizationRequest(new URLSearchParams(params), lookup);
const valid = { response_type: 'code', client_id: 'spa', redirect_uri: 'https://app.example/cb', state: 's1', code_challenge: CHALLENGE, code_challenge_method: 'S256' };

describe('PKCE', () => {
  it('matches the RFC 7636 example and nothing else', () => {
    expect(s256(VERIFIER)).toBe(CHALLENGE);
    expect(pkceMatches(VERIFIER, CHALLENGE)).toBe(true);
    expect(pkceMatches(`${VERIFIER}x`, CHALLENGE)).toBe(false);
    expect(pkceMatches('short', s256('short'))).toBe(false);
  });
});

describe('authorization request checks', () => {
  it('accepts a complete S256 request', () => {
    expect(request(valid)).toEqual({
      ok: { clientId: 'spa', redirectUri: 'https://app.example/cb', state: 's1', scope: '', codeChallenge: CHALLENGE },
      client: spa,
    });
  });

  it('keeps client and redirect URI errors on the page', () => {
    for (const params of [
      { ...valid, client_id: 'nobody' },
      { ...valid, redirect_uri: 'https://evil.example/cb' },
      { ...valid, redirect_uri: 'https://app.example/cb/' },
      { ...valid, redirect_uri: 'https://APP.example/cb' },
      { ...valid, client_id: '' },
    ]) {
      expect(request(params)).toHaveProperty('page');
    }
    const twice = new URLSearchParams(valid);
    twice.append('redirect_uri', 'https://evil.example/cb');
    expect(checkAuthorizationRequest(twice, lookup)).toMatchObject({ reason: 'duplicate_redirect_uri' });
  });

  it('redirects the other errors back with the state', () => {
    const back = (params: Record<string, string>) => {
      const check = request(params);
      if (!('redirect' in check)) throw new Error(`expected a redirect, got ${JSON.stringify(check)}`);
      return new URL(check.redirect);
    };
    expect(back({ ...valid, response_type: 'token' }).searchParams.get('error')).toBe('unsupported_response_type');
    const noPkce = back({ ...valid, code_challenge: '', code_challenge_method: '' });
    expect(noPkce.searchParams.get('error')).toBe('invalid_request');
    expect(noPkce.searchParams.get('state')).toBe('s1');
    expect(back({ ...valid, code_challenge_method: 'plain' }).searchParams.get('error')).toBe('invalid_request');
    expect(back({ ...valid, code_challenge_method: '' }).searchParams.get('error')).toBe('invalid_request');
    expect(back({ ...valid, code_challenge: 'too-short' }).searchParams.get('error')).toBe('invalid_request');
    expect(back({ ...valid, scope: 'a "quoted" scope' }).searchParams.get('error')).toBe('invalid_scope');
    const longState = back({ ...valid, state: 'x'.repeat(2000) });
    expect(longState.searchParams.get('error')).toBe('invalid_request');
    expect(longState.searchParams.has('state')).toBe(false);
  });

  it('lets a confidential client leave PKCE out, but not send plain', () => {
    const params = { response_type: 'code', client_id: 'backend', redirect_uri: 'https://api.example/cb' };
    expect(request(params)).toHaveProperty('ok.codeChallenge', null);
    expect(request({ ...params, code_challenge: CHALLENGE, code_challenge_method: 'plain' })).toHaveProperty('error', 'invalid_request');
  });

  it('keeps the registered redirect URI byte for byte, its query included', () => {
    expect(redirectWith('https://app.example/cb?tenant=a', { code: 'c', state: 'a b', skipped: null })).toBe('https://app.example/cb?tenant=a&code=c&state=a+b');
    expect(redirectWith('https://app.example/cb', { code: 'c' })).toBe('https://app.example/cb?code=c');
  });
});

describe('client credentials and parameters', () => {
  it('decodes Basic credentials form-encoded first (RFC 6749 section 2.3.1)', () => {
    const header = `Basic ${Buffer.from('my%3Aclient:s%C3%A9cret+x').toString('base64')}`;
    expect(parseBasicCredentials(header)).toEqual({ clientId: 'my:client', secret: 'sécret x' });
    expect(parseBasicCredentials(undefined)).toBe('absent');
    expect(parseBasicCredentials('Bearer abc')).toBe('absent');
    expect(parseBasicCredentials('Basic !!!')).toBe('malformed');
    expect(parseBasicCredentials(`Basic ${Buffer.from('no-colon').toString('base64')}`)).toBe('malformed');
  });

  it('finds repeated parameters and drops empty ones', () => {
    const { values, duplicate } = singleParameters(new URLSearchParams('a=1&b=&a=2'));
    expect(duplicate).toBe('a');
    expect(values.has('b')).toBe(false);
  });

  it('parses scopes and checks narrowing', () => {
    expect(parseScope('rooms chat rooms')).toBe('rooms chat');
    expect(parseScope(undefined)).toBe('');
    expect(parseScope('two  spaces')).toBeUndefined();
    expect(scopeWithin('rooms', 'rooms chat')).toBe(true);
    expect(scopeWithin('admin', 'rooms chat')).toBe(false);
    expect(scopeWithin('', 'rooms')).toBe(true);
  });
});

describe('login page', () => {
  it('escapes everything it echoes and carries no script', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const html = loginPage({ action: '/auth/oauth2/authorize', clientName: '<script>alert(1)</script>', formToken: 'a"b', username: '"><img src=x>', error: '<b>' });
    expect(html).not.toMatch(/<script|<img|<b>/);
    expect(html).toContain('value="a&quot;b"');
    const mfa = mfaPage({ action: '/auth/oauth2/authorize', clientName: 'x', formToken: 't', mfaToken: 'm' });
    expect(mfa).toContain('name="mfa" value="m"');
    expect(mfa).toContain('autocomplete="one-time-code"');
    expect(errorPage('<i>')).toContain('&lt;i&gt;');
  });
});
