import { timingSafeEqual } from 'node:crypto';
import type { IdentityService } from './identity-service.js';
import type { Clock } from '../../core/index.js';
import { AppError } from '../../core/index.js';
import { json, type HttpRoute } from '../../edge/index.js';
import { httpErrorResponse } from '../../edge/index.js';
import type { IdentityConfig } from './config.js';
import { GuessLimiter } from './sign-in-limits.js';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * `GET /.well-known/jwks.json` and Chat Signal's `POST /app`. Wrong `/app` passwords are
 * limited per remote address: past the budget every guess, right or wrong, gets 429
 * RATE_LIMITED with `retry-after` before the password is compared.
 */
export function identityRoutes(
  identity: IdentityService,
  clock: Clock,
  config: Pick<IdentityConfig, 'appPassword' | 'appPasswordAttemptsPerMinutePerAddress'>,
): HttpRoute[] {
  const { appPassword } = config;
  const guesses = new GuessLimiter(config.appPasswordAttemptsPerMinutePerAddress);
  return [
    {
      method: 'get',
      path: '/.well-known/jwks.json',
      handler: async () => json(200, await identity.tokens.jwks(clock.now()), { 'cache-control': 'public, max-age=60' }),
    },
    {
      method: 'post',
      path: '/app',
      maxBodyBytes: 4096,
      handler: async (request) => {
        if (appPassword === undefined) {
          return json(404, {
            status: 404,
            error: 'POST /app is disabled: set SWITCHYARD_APP_PASSWORD (or appPassword in the config file) to enable app tokens',
            response: null,
          });
        }
        let body: unknown;
        try {
          body = JSON.parse(request.body.toString('utf8'));
        } catch {
          return json(400, { status: 400, error: 'body must be JSON {app, password}', response: null });
        }
        const { app, password } = (body ?? {}) as { app?: unknown; password?: unknown };
        if (typeof app !== 'string' || typeof password !== 'string') {
          return json(400, { status: 400, error: 'body must be JSON {app, password}', response: null });
        }
        const now = clock.now();
        const address = [request.remoteAddress];
        const wait = guesses.refusal(address, now);
        if (wait > 0) return httpErrorResponse(new AppError('RATE_LIMITED', 'too many wrong passwords; try again later'), { 'retry-after': String(wait) });
        if (!sameSecret(password, appPassword)) {
          guesses.wrong(address, now);
          return json(401, { status: 401, error: 'wrong password', response: null });
        }
        try {
          const token = await identity.issueAppToken(app);
          return json(200, { status: 200, error: null, response: { token } });
        } catch (error) {
          if (error instanceof AppError && error.code === 'BAD_REQUEST') return json(400, { status: 400, error: error.message, response: null });
          return httpErrorResponse(error);
        }
      },
    },
  ];
}
