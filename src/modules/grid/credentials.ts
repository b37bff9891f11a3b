import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { OdinTokenError, OdinTokenVerifier, type OdinKeyLookup, type TokenRefusal, type VerifiedOdinToken } from '../../auth/index.js';
import { AppError } from '../../core/index.js';
import type { GridMetrics } from './metrics.js';

/** The shape OdinTokenVerifier accepts (auth/odin.ts), checked here before any promise. */
const MAX_TOKEN_LENGTH = 4096;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

export interface CredentialOptions {
  odinTokenLeewaySeconds: number;
  internalToken?: string | undefined;
  internalUser: string;
}

/**
 * Who may call: customers' room API tokens (POST / and /rpc) and the internal secret of SFU
 * servers and operators (POST /internal). Both are checked from the Authorization header alone.
 */
export class GridCredentials {
  private readonly verifier: OdinTokenVerifier;
  private readonly internalSecret: { bearer: Buffer; user: string } | undefined;

  constructor(
    keys: OdinKeyLookup,
    options: CredentialOptions,
    private readonly metrics: GridMetrics,
    private readonly logger: Logger,
  ) {
    this.verifier = new OdinTokenVerifier(keys, { leewaySeconds: options.odinTokenLeewaySeconds });
    this.internalSecret = options.internalToken ? { bearer: sha256(options.internalToken), user: options.internalUser } : undefined;
  }

  get internalEnabled(): boolean {
    return this.internalSecret !== undefined;
  }

  /**
   * The verified room API token of an `Authorization: Bearer` header, or UNAUTHORIZED. A
   * header that cannot hold a token (missing, not `Bearer`, not three base64url segments
   * within the length limit) is refused by a synchronous throw, not a rejected promise:
   * the route checks it before the request body is read (issue 16 point 6). A token verified
   * before (and still valid) is answered synchronously, without a promise: the common Connect
   * is a client's repeat of a token, and its whole check is one map lookup (issue 15).
   */
  roomApiToken(header: string | undefined, now: number): VerifiedOdinToken | Promise<VerifiedOdinToken> {
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    // A cached token had the shape below when it was verified.
    const cached = token === undefined ? undefined : this.verifier.cached(token, now);
    if (cached) return cached;
    if (token === undefined || token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) {
      this.refused(token === undefined ? 'missing' : 'malformed');
      throw new OdinTokenError('malformed');
    }
    return this.verifier.verify(token, now).catch((error: unknown) => {
      const reason = OdinTokenVerifier.refusal(error);
      if (reason) this.refused(reason);
      throw error;
    });
  }

  private refused(reason: TokenRefusal | 'missing'): void {
    this.metrics.tokenRefusals.inc({ reason });
    this.logger.debug({ reason }, 'room API token refused');
  }

  /** Checks /internal credentials: `Bearer <token>` or Basic `<internalUser>:<token>`. */
  checkInternal(header: string | undefined): void {
    const secret = this.internalSecret;
    if (!secret) throw new AppError('NOT_FOUND', 'POST /internal is disabled: set SWITCHYARD_INTERNAL_TOKEN to enable it');
    const refuse = () => new AppError('UNAUTHORIZED', 'invalid or missing credentials');
    if (!header) throw refuse();
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space).toLowerCase();
    const credentials = header.slice(space + 1).trim();
    let presented: string | undefined;
    if (scheme === 'bearer') {
      presented = credentials;
    } else if (scheme === 'basic') {
      const decoded = Buffer.from(credentials, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon !== -1 && decoded.slice(0, colon) === secret.user) presented = decoded.slice(colon + 1);
    }
    // Compared as hashes: equal length for timingSafeEqual, and no length leak of the secret.
    if (presented === undefined || !timingSafeEqual(sha256(presented), secret.bearer)) throw refuse();
  }
}
