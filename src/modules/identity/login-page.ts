import { MFA_PROMPT } from './topics.js';

/**
 * The OAuth2 login page: plain HTML, no script, no external asset, one inline style sheet.
 * Everything that reaches the page from outside (client name, username, messages, tokens) goes
 * through `escapeHtml`; the response headers (see oauth-routes.ts) forbid framing and scripts.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => ESCAPES[character]!);
}

const STYLE = `
  body { font-family: system-ui, sans-serif; background: #f4f5f7; color: #1d2330; margin: 0; }
  main { max-width: 22rem; margin: 10vh auto; background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px #0002; }
  h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
  p.client { color: #5a6270; margin: 0 0 1.2rem; }
  label { display: block; margin: .8rem 0 .3rem; font-weight: 600; }
  input[type=text], input[type=password] { width: 100%; box-sizing: border-box; padding: .55rem; border: 1px solid #b8bec9; border-radius: 4px; font-size: 1rem; }
  .actions { display: flex; gap: .6rem; margin-top: 1.4rem; }
  button { padding: .55rem 1.1rem; border: 0; border-radius: 4px; font-size: 1rem; cursor: pointer; }
  button.primary { background: #2451c4; color: #fff; }
  button.secondary { background: #e3e6eb; color: #1d2330; }
  .error { background: #fde8e8; color: #8a1c1c; padding: .6rem .8rem; border-radius: 4px; }
  small { display: block; color: #5a6270; margin-top: .4rem; }
`;

/**
 * A page in the login page's look: the shell and the sheet, with `extraStyle` appended (the
 * invitations module's guest landing page shares it). `title` is escaped here.
 */
export function page(title: string, body: string, extraStyle = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}${extraStyle}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

const errorBlock = (message: string | undefined): string =>
  message === undefined ? '' : `<p class="error" role="alert">${escapeHtml(message)}</p>\n`;

const hidden = (name: string, value: string): string => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;

export interface LoginPageOptions {
  /** Where the form posts (the authorize endpoint's path). */
  action: string;
  clientName: string;
  /**
   * The signed token binding the authorization request and the browser to this form, with
   * the client's state beside it (oauth-authorization.ts): opaque here, escaped like the rest.
   */
  formToken: string;
  username?: string | undefined;
  error?: string | undefined;
}

/** The password step. The first submit button is the default one (Enter signs in). */
export function loginPage(options: LoginPageOptions): string {
  return page(
    'Sign in',
    `<h1>Sign in</h1>
<p class="client">to continue to <strong>${escapeHtml(options.clientName)}</strong></p>
${errorBlock(options.error)}<form method="post" action="${escapeHtml(options.action)}">
${hidden('request', options.formToken)}
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="64" required autofocus value="${escapeHtml(options.username ?? '')}">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" maxlength="1024" required>
<div class="actions">
<button type="submit" class="primary" name="step" value="password">Sign in</button>
<button type="submit" class="secondary" name="step" value="cancel" formnovalidate>Cancel</button>
</div>
</form>`,
  );
}

export interface MfaPageOptions {
  action: string;
  clientName: string;
  formToken: string;
  /** The short-lived `mfa` token naming the user whose password was right. */
  mfaToken: string;
  error?: string | undefined;
}

/** The TOTP step, with the texts the socket's `mfa` event sends (PROTOCOL.md section 4). */
export function mfaPage(options: MfaPageOptions): string {
  return page(
    MFA_PROMPT.mfaSubject,
    `<h1>${escapeHtml(MFA_PROMPT.mfaSubject)}</h1>
<p class="client">to continue to <strong>${escapeHtml(options.clientName)}</strong></p>
${errorBlock(options.error)}<form method="post" action="${escapeHtml(options.action)}">
${hidden('request', options.formToken)}
${hidden('mfa', options.mfaToken)}
<label for="code">${escapeHtml(MFA_PROMPT.mfaBody)}</label>
<input type="text" id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required autofocus>
<small>${escapeHtml(MFA_PROMPT.mfaTooltip)}</small>
<div class="actions">
<button type="submit" class="primary" name="step" value="mfa">Verify</button>
<button type="submit" class="secondary" name="step" value="cancel" formnovalidate>Cancel</button>
</div>
</form>`,
  );
}

/** A refusal that cannot go back to the application (unknown client, unregistered redirect URI, stale form). */
export function errorPage(message: string): string {
  return page('Sign-in error', `<h1>Sign-in error</h1>\n${errorBlock(message)}`);
}
