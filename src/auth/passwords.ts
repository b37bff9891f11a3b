import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { AppError } from '../core/index.js';

/** scrypt parameters of new hashes (N=2^17, r=8, p=1: ~128 MiB and ~0.3 s per hash). */
export const SCRYPT = { N: 2 ** 17, r: 8, p: 1, keyLength: 32 } as const;

function scryptAsync(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

const memoryFor = (N: number, r: number): number => 128 * N * r * 2;

/**
 * Password hashing with scrypt. At most `maxConcurrent` hashes run at once: each takes
 * 128 MiB and a libuv thread, and an unbounded login flood would take the whole process.
 * The excess is refused with RATE_LIMITED instead of queueing.
 */
export class PasswordHasher {
  private running = 0;
  /** A hash of a random password, verified against for unknown users so they cost the same. */
  private decoy: Promise<string> | undefined;

  constructor(
    private readonly maxConcurrent = 4,
    private readonly params: { N: number; r: number; p: number; keyLength: number } = SCRYPT,
  ) {}

  async hash(password: string): Promise<string> {
    return this.limited(async () => {
      const salt = randomBytes(16);
      const { N, r, p, keyLength } = this.params;
      const key = await scryptAsync(password, salt, keyLength, { N, r, p, maxmem: memoryFor(N, r) });
      return ['scrypt', N, r, p, salt.toString('base64'), key.toString('base64')].join('$');
    });
  }

  /** True when `password` matches `stored`; an unknown user passes `undefined` and pays the same. */
  async verify(password: string, stored: string | undefined): Promise<boolean> {
    if (stored === undefined) {
      // A decoy refused (RATE_LIMITED while the hasher was full) must not be kept: every later
      // unknown user would answer RATE_LIMITED where a known one answers UNAUTHORIZED.
      this.decoy ??= this.hash(randomBytes(16).toString('hex')).catch((error: unknown) => {
        this.decoy = undefined;
        throw error;
      });
      await this.verifyAgainst(password, await this.decoy);
      return false;
    }
    return this.verifyAgainst(password, stored);
  }

  private async verifyAgainst(password: string, stored: string): Promise<boolean> {
    const [scheme, N, r, p, salt, hash] = stored.split('$');
    if (scheme !== 'scrypt' || !N || !r || !p || !salt || !hash) return false;
    const expected = Buffer.from(hash, 'base64');
    const n = Number(N);
    const actual = await this.limited(() =>
      scryptAsync(password, Buffer.from(salt, 'base64'), expected.length, { N: n, r: Number(r), p: Number(p), maxmem: memoryFor(n, Number(r)) }),
    );
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxConcurrent) throw new AppError('RATE_LIMITED', 'too many password checks at once; retry shortly');
    this.running += 1;
    try {
      return await work();
    } finally {
      this.running -= 1;
    }
  }
}
