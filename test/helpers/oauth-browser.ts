import * as oauth from 'oauth4webapi';
import { generate } from 'otplib';
import { expect } from 'vitest';

/** oauth4webapi refuses plain http unless told: the test gateway listens on http://127.0.0.1. */
export const insecure = { [oauth.allowInsecureRequests]: true } as const;

export function authorizationServer(baseUrl: (path: string) => string): oauth.AuthorizationServer {
  return {
    issuer: 'switchyard',
    authorization_endpoint: baseUrl('/auth/oauth2/authorize'),
    token_endpoint: baseUrl('/auth/oauth2/token'),
  };
}

export interface HtmlForm {
  action: string;
  fields: Record<string, string>;
}

const unescape = (value: string): string =>
  value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The page's form as a browser would submit it: its action and hidden fields. */
export function parseForm(html: string): HtmlForm {
  const action = /<form method="post" action="([^"]*)">/.exec(html)?.[1];
  if (action === undefined) throw new Error(`no form on the page:\n${html}`);
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) fields[unescape(match[1]!)] = unescape(match[2]!);
  return { action: unescape(action), fields };
}

export interface AuthorizationStart {
  url: URL;
  verifier: string;
  state: string;
}

/** An authorization request URL with PKCE S256, as a client application builds it. */
export async function authorizationRequest(
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  redirectUri: string,
  extra: Record<string, string> = {},
): Promise<AuthorizationStart> {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint!);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', client.client_id);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('state', state);
  url.searchParams.set('scope', 'rooms chat');
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  for (const [key, value] of Object.entries(extra)) url.searchParams.set(key, value);
  return { url, verifier, state };
}

/**
 * A browser on the login page: GET the page (keeping its cookie), POST the form with the
 * credentials, answer the TOTP step when the page asks for it, and return the redirect.
 */
export async function signIn(
  start: AuthorizationStart,
  credentials: { username: string; password: string; totpSecret?: string },
): Promise<{ location: URL; cookie: string }> {
  const page = await fetch(start.url, { redirect: 'manual' });
  expect(page.status).toBe(200);
  const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0]!;
  expect(cookie).toMatch(/^switchyard_oauth_browser=/);
  let form = parseForm(await page.text());
  let answer = await post(new URL(form.action, start.url), { ...form.fields, step: 'password', username: credentials.username, password: credentials.password }, cookie);
  if (credentials.totpSecret !== undefined) {
    expect(answer.status).toBe(200);
    const mfaHtml = await answer.text();
    expect(mfaHtml).toContain('Two-factor authentication');
    form = parseForm(mfaHtml);
    const code = await generate({ secret: credentials.totpSecret, epoch: Math.floor(Date.now() / 1000) });
    answer = await post(new URL(form.action, start.url), { ...form.fields, step: 'mfa', code }, cookie);
  }
  if (answer.status !== 302) throw new Error(`expected a redirect, got ${answer.status}: ${await answer.text()}`);
  return { location: new URL(answer.headers.get('location')!), cookie };
}

export function post(url: URL, fields: Record<string, string>, cookie: string): Promise<Response> {
  return fetch(url, { method: 'POST', body: new URLSearchParams(fields), headers: { cookie }, redirect: 'manual' });
}
