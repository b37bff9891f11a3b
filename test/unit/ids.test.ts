import { describe, expect, it } from 'vitest';
import { categoryOf, newId, streamId } from '../../src/core/ids.js';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

describe('newId', () => {
  it('is base64url of the asked number of random bytes', () => {
    for (const [bytes, length] of [[16, 22], [8, 11], [32, 43], [1, 2]] as const) {
      const id = newId(bytes);
      expect(id).toMatch(BASE64URL);
      expect(id).toHaveLength(length);
      expect(Buffer.from(id, 'base64url')).toHaveLength(bytes);
    }
  });

  it('never repeats, across many refills of its block of random bytes', () => {
    // 20,000 ids of 16 bytes span 78 blocks of 4 KiB; a block handed out twice would repeat ids.
    const ids = new Set(Array.from({ length: 20_000 }, () => newId()));
    expect(ids.size).toBe(20_000);
    // Mixed sizes across a block boundary: no two ids share their bytes.
    const mixed = Array.from({ length: 2_000 }, (_, index) => newId(index % 2 === 0 ? 8 : 16));
    expect(new Set(mixed).size).toBe(mixed.length);
  });

  it('takes more bytes than one block holds from the CSPRNG directly', () => {
    const big = newId(5000);
    expect(Buffer.from(big, 'base64url')).toHaveLength(5000);
    expect(newId(5000)).not.toBe(big);
  });

  it('starts with a letter or digit, never - or _ (a command line takes -... for an option)', () => {
    const firsts = new Map<string, number>();
    for (let index = 0; index < 64_000; index += 1) {
      const id = newId(index % 3 === 0 ? 9 : 16);
      firsts.set(id[0]!, (firsts.get(id[0]!) ?? 0) + 1);
    }
    for (let index = 0; index < 50; index += 1) expect(newId(5000)[0]).toMatch(/[A-Za-z0-9]/);
    expect(firsts.has('-')).toBe(false);
    expect(firsts.has('_')).toBe(false);
    // The other 62 characters all come, about 1,032 times each: the redraw does not skew them.
    expect(firsts.size).toBe(62);
    expect(Math.min(...firsts.values())).toBeGreaterThan(800);
    expect(Math.max(...firsts.values())).toBeLessThan(1300);
  });

  it('looks random: no byte value dominates', () => {
    const bytes = Buffer.concat(Array.from({ length: 4_000 }, () => Buffer.from(newId(), 'base64url')));
    const counts = new Array<number>(256).fill(0);
    for (const byte of bytes) counts[byte]! += 1;
    // 64,000 bytes: 250 expected per value; a stuck or zeroed pool would put thousands on one.
    expect(Math.max(...counts)).toBeLessThan(400);
    expect(Math.min(...counts)).toBeGreaterThan(120);
  });
});

describe('stream ids', () => {
  it('are category-id, and the category is what precedes the first dash', () => {
    expect(streamId('connection', 'ab-c')).toBe('connection-ab-c');
    expect(categoryOf('connection-ab-c')).toBe('connection');
    expect(categoryOf('nodash')).toBe('nodash');
  });
});
