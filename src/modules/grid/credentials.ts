import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { OdinTokenVerifier, type OdinKeyLookup, type VerifiedOdinToken } from '../../auth/odin.js';
import { AppError } from '../../core/errors.js';
import type { GridMetrics } from './metrics.js';

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

  /** The verified room API token of an `Authorization: Bearer` header, or UNAUTHORIZED. */
  async roomApiToken(header: string | undefined, now: number): Promise<VerifiedOdinToken> {
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    try {
      return await this.verifier.verify(token, now);
    } catch (error) {
      const reason = OdinTokenVerifier.refusal(error);
      if (reason) {
        this.metrics.tokenRefusals.inc({ reason: token === undefined ? 'missing' : reason });
        this.logger.debug({ reason: token === undefined ? 'missing' : reason }, 'room API token refused');
      }
      throw error;
    }
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
