import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/auth/keys.js';
import { TOKEN_KINDS, TokenService, type TokenKind } from '../../src/auth/tokens.js';
import { AppError } from '../../src/core/errors.js';
import { b64u, split } from '../helpers/jws.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Random mutations of genuine tokens (characters flipped, inserted, deleted; segments
 * swapped, dropped, repeated; header or payload re-encoded with random claim changes): no
 * mutant is accepted, as any kind, unless it is byte-identical to the original. Random
 * single flips rarely hit the one character that matters for encoding malleability, so the
 * signature is also mutated exhaustively: that test caught the four spellings of every
 * signature that lenient base64url decoding used to accept.
 */

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const KINDS = Object.keys(TOKEN_KINDS) as TokenKind[];

const dir = tempDir('switchyard-token-property-');
afterAll(() => dir.remove());
const ring = new KeyRing(dir.path);
ring.loadOrCreate(NOW - 60_000);
const options = { issuer: 'switchyard', clockToleranceSeconds: 30 };
/** Has every original verified (cached); mutants must not ride on that. */
const warm = new TokenService(ring, options);

const originals: { kind: TokenKind; token: string }[] = [];
for (const kind of KINDS) {
  const { token } = await warm.issue(kind, { subject: `user-${kind}`, ttlSeconds: kind === 'app' ? null : 3600, claims: { org: 'org-1', sid: 'c-1' }, now: NOW });
  await warm.verify(kind, token, NOW);
  originals.push({ kind, token });
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const character = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...ALPHABET) },
  { weight: 1, arbitrary: fc.constantFrom('.', '=', '+', '/', ' ', '\n', '\0', '%', 'é', '\u202e') },
);

const jsonValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
);
const claimName = fc.oneof(
  fc.constantFrom('sub', 'jti', 'iss', 'aud', 'iat', 'exp', 'nbf', 'org', 'sid', 'cid', 'scope', 'alg', 'kid', 'typ', 'crit', 'b64', 'jwk', '__proto__'),
  fc.string({ maxLength: 6 }),
);
/** A change to a decoded JSON object: set a claim, delete one, or nudge a number by a little. */
const claimChange = fc.oneof(
  fc.record({ op: fc.constant('set' as const), name: claimName, value: jsonValue }),
  fc.record({ op: fc.constant('delete' as const), name: claimName }),
  fc.record({ op: fc.constant('nudge' as const), name: fc.constantFrom('iat', 'exp', 'nbf'), by: fc.integer({ min: -100_000, max: 100_000 }) }),
);

type ClaimChange = { op: string; name: string; value?: unknown; by?: number };
type Mutation =
  | { op: 'flip' | 'insert'; at: number; char: string }
  | { op: 'delete'; at: number }
  | { op: 'swap'; a: number; b: number }
  | { op: 'drop' | 'repeat'; segment: number }
  | { op: 'reencode'; segment: 0 | 1; changes: ClaimChange[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), char: character }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), char: character }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('swap' as const), a: fc.nat(2), b: fc.nat(2) }),
  fc.record({ op: fc.constantFrom('drop' as const, 'repeat' as const), segment: fc.nat(2) }),
  fc.record({ op: fc.constant('reencode' as const), segment: fc.constantFrom(0 as const, 1 as const), changes: fc.array(claimChange, { minLength: 0, maxLength: 3 }) }),
);

function reencode(segment: string, changes: ClaimChange[]): string {
  let decoded: Record<string, unknown>;
  try {
    decoded = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return segment;
  }
  if (decoded === null || typeof decoded !== 'object') return segment;
  for (const change of changes) {
    if (change.op === 'set') Object.defineProperty(decoded, change.name, { value: change.value, enumerable: true, configurable: true, writable: true });
    else if (change.op === 'delete') delete decoded[change.name];
    else if (typeof decoded[change.name] === 'number') decoded[change.name] = (decoded[change.name] as number) + change.by!;
  }
  return b64u(JSON.stringify(decoded));
}

function apply(token: string, mutations: Mutation[]): string {
  let text = token;
  for (const m of mutations) {
    const segments = text.split('.');
    switch (m.op) {
      case 'flip': {
        if (text.length === 0) break;
        const at = m.at % text.length;
        text = text.slice(0, at) + m.char + text.slice(at + 1);
        break;
      }
      case 'insert': {
        const at = m.at % (text.length + 1);
        text = text.slice(0, at) + m.char + text.slice(at);
        break;
      }
      case 'delete': {
        if (text.length === 0) break;
        const at = m.at % text.length;
        text = text.slice(0, at) + text.slice(at + 1);
        break;
      }
      case 'swap': {
        if (m.a >= segments.length || m.b >= segments.length) break;
        [segments[m.a], segments[m.b]] = [segments[m.b]!, segments[m.a]!];
        text = segments.join('.');
        break;
      }
      case 'drop':
        if (m.segment < segments.length) segments.splice(m.segment, 1);
        text = segments.join('.');
        break;
      case 'repeat':
        if (m.segment < segments.length) segments.splice(m.segment, 0, segments[m.segment]!);
        text = segments.join('.');
        break;
      case 'reencode':
        if (m.segment < segments.length) segments[m.segment] = reencode(segments[m.segment]!, m.changes);
        text = segments.join('.');
        break;
    }
  }
  return text;
}

async function accepted(service: TokenService, kind: TokenKind, token: string): Promise<boolean> {
  try {
    await service.verify(kind, token, NOW);
    return true;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('UNAUTHORIZED');
    expect((error as AppError).message).toBe('Token is not valid');
    return false;
  }
}

describe('mutated tokens', () => {
  it('none is accepted, as any kind, unless byte-identical to the original', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(originals.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), async (which, mutations) => {
        const { kind, token } = originals[which]!;
        const mutant = apply(token, mutations);
        const cold = new TokenService(ring, options);
        for (const candidate of KINDS) {
          const shouldAccept = mutant === token && candidate === kind;
          expect(await accepted(warm, candidate, mutant)).toBe(shouldAccept);
          expect(await accepted(cold, candidate, mutant)).toBe(shouldAccept);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('every single-character change of the signature is refused (no second spelling of a signature)', async () => {
    // Two kinds (with and without exp) keep this exhaustive walk to ~11 000 verifications.
    for (const { kind, token } of originals.filter((original) => original.kind === 'access' || original.kind === 'app')) {
      const { header, payload, signature } = split(token);
      for (let at = 0; at < signature.length; at++) {
        for (const char of ALPHABET) {
          if (char === signature[at]) continue;
          const mutant = `${header}.${payload}.${signature.slice(0, at)}${char}${signature.slice(at + 1)}`;
          if (await accepted(warm, kind, mutant)) throw new Error(`accepted a ${kind} token with signature character ${at} changed to ${char}`);
        }
      }
    }
  });

  it('payloads re-encoded with random claim changes are refused under the original signature', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(originals.length - 1), fc.array(claimChange, { minLength: 1, maxLength: 4 }), async (which, changes) => {
        const { kind, token } = originals[which]!;
        const { header, payload, signature } = split(token);
        const mutant = `${header}.${reencode(payload, changes)}.${signature}`;
        expect(await accepted(warm, kind, mutant)).toBe(mutant === token);
      }),
      { numRuns: 1000 },
    );
  });
});
