/**
 * MessagePack frames for the tests of src/protocol/msgpack-scan.ts: a strict reference reader
 * (what the bytes say, independent of @msgpack/msgpack), a writer that picks among the
 * encodings a value allows, and random relay-shaped frames and damage from a seeded PRNG.
 */

export class Refused extends Error {}
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * What the bytes say, read independently of @msgpack/msgpack and strictly: invalid UTF-8, a
 * long string with a BOM, an extension, a non-string or `__proto__` key, a 64-bit integer
 * past 2^53 or a length past the end throw. Its `maxLevel` is the deepest container level below the top map (`data` = 1).
 */
export function strictRead(bytes: Uint8Array): { value: unknown; maxLevel: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  let maxLevel = 0;
  const need = (count: number) => {
    if (count < 0 || at + count > bytes.length) throw new Refused('past the end');
  };
  const uint = (size: number) => {
    need(size);
    let value = 0;
    for (let index = 0; index < size; index++) value = value * 256 + bytes[at + index]!;
    at += size;
    return value;
  };
  const string = (length: number) => {
    need(length);
    // The scanner's rule: @msgpack/msgpack's TextDecoder drops a BOM from strings over 200 bytes.
    if (length > 200 && bytes[at] === 0xef && bytes[at + 1] === 0xbb && bytes[at + 2] === 0xbf) throw new Refused('long string with a BOM');
    const text = strictUtf8.decode(bytes.subarray(at, at + length));
    at += length;
    return text;
  };
  const read = (level: number, isKey = false): unknown => {
    need(1);
    const head = bytes[at++]!;
    const strLength = head >= 0xa0 && head <= 0xbf ? head & 0x1f : head === 0xd9 ? uint(1) : head === 0xda ? uint(2) : head === 0xdb ? uint(4) : -1;
    if (strLength >= 0) return string(strLength);
    if (isKey) throw new Refused('key not a string');
    if (head < 0x80) return head;
    if (head >= 0xe0) return head - 0x100;
    const mapCount = head >= 0x80 && head <= 0x8f ? head & 0x0f : head === 0xde ? uint(2) : head === 0xdf ? uint(4) : -1;
    const arrayCount = head >= 0x90 && head <= 0x9f ? head & 0x0f : head === 0xdc ? uint(2) : head === 0xdd ? uint(4) : -1;
    if (mapCount >= 0 || arrayCount >= 0) {
      maxLevel = Math.max(maxLevel, level);
      if (mapCount >= 0) {
        const map: Record<string, unknown> = {};
        for (let index = 0; index < mapCount; index++) {
          const key = read(level + 1, true) as string;
          if (key === '__proto__') throw new Refused('__proto__');
          map[key] = read(level + 1);
        }
        return map;
      }
      const array: unknown[] = [];
      for (let index = 0; index < arrayCount; index++) array.push(read(level + 1));
      return array;
    }
    switch (head) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
      case 0xc5:
      case 0xc6: {
        const length = uint(head === 0xc4 ? 1 : head === 0xc5 ? 2 : 4);
        need(length);
        at += length;
        return bytes.slice(at - length, at);
      }
      case 0xca:
        need(4);
        at += 4;
        return view.getFloat32(at - 4);
      case 0xcb:
        need(8);
        at += 8;
        return view.getFloat64(at - 8);
      case 0xcc:
        return uint(1);
      case 0xcd:
        return uint(2);
      case 0xce:
        return uint(4);
      case 0xd0:
        need(1);
        return view.getInt8(at++);
      case 0xd1:
        need(2);
        at += 2;
        return view.getInt16(at - 2);
      case 0xd2:
        need(4);
        at += 4;
        return view.getInt32(at - 4);
      case 0xcf:
      case 0xd3: {
        need(8);
        const big = head === 0xcf ? view.getBigUint64(at) : view.getBigInt64(at);
        at += 8;
        // The scanner's rule: within 2^53 either way (the decoder rounds wider ones).
        if (big < -(2n ** 53n) || big >= 2n ** 53n) throw new Refused('64-bit integer past 2^53');
        return Number(big);
      }
      default:
        throw new Refused(`type 0x${head.toString(16)}`);
    }
  };
  const value = read(0);
  if (at !== bytes.length) throw new Refused('trailing bytes');
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) throw new Refused('not a map');
  return { value, maxLevel };
}

// ---------------------------------------------------------------- random frames, any encoding

/** mulberry32: a small deterministic PRNG, so every run tests the same frames. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes MessagePack by hand, choosing among the encodings a value allows (not only the shortest). */
export class Writer {
  private readonly parts: number[] = [];
  constructor(private readonly random: () => number) {}
  bytes(): Buffer {
    return Buffer.from(this.parts);
  }
  private pick<T>(options: readonly T[]): T {
    return options[Math.floor(this.random() * options.length)]!;
  }
  private be(value: number, size: number): void {
    for (let index = size - 1; index >= 0; index--) this.parts.push(Math.floor(value / 256 ** index) % 256);
  }
  header(kind: 'str' | 'bin' | 'map' | 'array', length: number): void {
    const fix = { str: [0xa0, 32], map: [0x80, 16], array: [0x90, 16], bin: [-1, 0] }[kind];
    const wide = { str: [0xd9, 0xda, 0xdb], bin: [0xc4, 0xc5, 0xc6], map: [-1, 0xde, 0xdf], array: [-1, 0xdc, 0xdd] }[kind];
    const choices: (() => void)[] = [];
    if (length < fix[1]!) choices.push(() => this.parts.push(fix[0]! | length));
    [1, 2, 4].forEach((size, index) => {
      if (wide[index]! >= 0 && length < 256 ** size) choices.push(() => (this.parts.push(wide[index]!), this.be(length, size)));
    });
    this.pick(choices)();
  }
  raw(bytes: Uint8Array): void {
    for (const byte of bytes) this.parts.push(byte);
  }
  string(text: string | Uint8Array): void {
    const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    this.header('str', bytes.length);
    this.raw(bytes);
  }
  integer(value: number): void {
    const choices: (() => void)[] = [];
    if (value >= 0 && value < 128) choices.push(() => this.parts.push(value));
    if (value < 0 && value >= -32) choices.push(() => this.parts.push(value & 0xff));
    if (value >= 0) {
      [[0xcc, 1], [0xcd, 2], [0xce, 4], [0xcf, 8]].forEach(([head, size]) => {
        if (value < 256 ** size!) choices.push(() => (this.parts.push(head!), this.be(value, size!)));
      });
    } else {
      [[0xd0, 1], [0xd1, 2], [0xd2, 4]].forEach(([head, size]) => {
        if (value >= -(2 ** (8 * size! - 1))) choices.push(() => (this.parts.push(head!), this.be(value + 256 ** size!, size!)));
      });
      choices.push(() => {
        this.parts.push(0xd3);
        const big = BigInt.asUintN(64, BigInt(value));
        for (let index = 7; index >= 0; index--) this.parts.push(Number((big >> BigInt(8 * index)) & 0xffn));
      });
    }
    this.pick(choices)();
  }
  float(value: number, single: boolean): void {
    const view = new DataView(new ArrayBuffer(single ? 4 : 8));
    if (single) view.setFloat32(0, value);
    else view.setFloat64(0, value);
    this.parts.push(single ? 0xca : 0xcb);
    this.raw(new Uint8Array(view.buffer));
  }
}

const WORDS = ['a', 'room', 'to', 'payload', 'candidate', 'sdpMid', 'ÄÖ€', '😀x', 'x'.repeat(40), 'y'.repeat(300), 'event', 'data', 'id'];

/** A random value at container level `level`, containers down to `maxLevel`. */
function writeValue(writer: Writer, random: () => number, level: number, maxLevel: number): void {
  const roll = random();
  if (level < maxLevel && roll < 0.25) {
    const count = Math.floor(random() * 4);
    const isMap = random() < 0.5;
    writer.header(isMap ? 'map' : 'array', count);
    for (let index = 0; index < count; index++) {
      if (isMap) writeKey(writer, random);
      writeValue(writer, random, level + 1, maxLevel);
    }
    return;
  }
  // One leaf in twelve is awkward (kinds 6 and up).
  const kind = random() < 11 / 12 ? Math.floor(random() * 6) : 6 + Math.floor(random() * 8);
  switch (kind) {
    case 0:
      return writer.string(WORDS[Math.floor(random() * WORDS.length)]!);
    case 1:
      return writer.integer(Math.floor(random() * 70000) - 35000);
    case 2:
      return writer.integer(Math.floor(random() * 2 ** 53));
    case 3:
      return writer.float(random() * 1000 - 500, random() < 0.5);
    case 4:
      return writer.raw(Uint8Array.of(0xc0 + [0, 2, 3][Math.floor(random() * 3)]!));
    case 5: {
      const bytes = Uint8Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256));
      writer.header('bin', bytes.length);
      return writer.raw(bytes);
    }
    // The awkward ones: the decoder refuses them or reads them unlike their bytes.
    case 6:
      return writer.raw(Uint8Array.of(0xd4, 0x01, 0x02)); // fixext 1
    case 7:
      return writer.raw(Uint8Array.of(0xd6, 0xff, 0, 0, 0, 1)); // timestamp 32: a Date
    case 8:
      return writer.string(Uint8Array.of(0x61, 0xc3)); // truncated UTF-8
    case 9:
      return writer.string(Uint8Array.of(0xed, 0xa0, 0x80)); // a UTF-16 surrogate in UTF-8
    case 10:
      return writer.string(Buffer.from(`\uFEFF${'b'.repeat(250)}`)); // long, with a BOM
    case 11:
      return writer.string(Buffer.from(`\uFEFFshort`)); // short, with a BOM: read the same everywhere
    case 12:
      return writer.raw(Uint8Array.of(0xcf, 0x00, 0x40, 0, 0, 0, 0, 0, 1)); // 2^54 + 1
    default:
      return writer.raw(Uint8Array.of(0xc1));
  }
}

function writeKey(writer: Writer, random: () => number): void {
  const roll = random();
  if (roll < 0.04) writer.integer(7); // a number key
  else if (roll < 0.06) writer.string('__proto__');
  else writer.string(WORDS[Math.floor(random() * WORDS.length)]!);
}

/** A relay-shaped frame: the envelope and data members in random order and encodings, duplicates, extras and awkward values now and then. */
export function randomFrame(random: () => number): Buffer {
  const writer = new Writer(random);
  const dataMembers: [string, () => void][] = [
    ['room', () => writer.string(random() < 0.9 ? 'call-1' : 'ÄÖ-call')],
    ['to', () => (random() < 0.9 ? writer.string('peer-2') : writeValue(writer, random, 2, 4))],
    ['ice_candidate', () => writeValue(writer, random, 2, random() < 0.1 ? 40 : 6)],
    ['payload', () => writeValue(writer, random, 2, 5)],
    ['auth', () => writer.string('token')],
    ['extra', () => writeValue(writer, random, 2, 5)],
  ];
  const chosen = dataMembers.filter(() => random() < 0.8);
  if (random() < 0.15 && chosen.length > 0) chosen.push(chosen[0]!); // a repeated key: the last wins
  const envelope: [string, () => void][] = [
    ['event', () => writer.string(random() < 0.9 ? 'relay-ice-candidate' : 'other')],
    [
      'data',
      () => {
        writer.header('map', chosen.length);
        for (const [key, write] of chosen) {
          writer.string(key);
          write();
        }
      },
    ],
    [
      'id',
      () => {
        const roll = random();
        if (roll < 0.3) writer.integer(1 + Math.floor(random() * 100));
        else if (roll < 0.45) writer.integer(-5);
        else if (roll < 0.6) writer.float(random() < 0.5 ? 7 : 7.5, random() < 0.5);
        else if (roll < 0.7) writer.raw(Uint8Array.of(0xc0));
        else writeValue(writer, random, 1, 3);
      },
    ],
    ['other', () => writeValue(writer, random, 1, 4)],
  ];
  const members = envelope.filter(() => random() < 0.85).sort(() => random() - 0.5);
  if (random() < 0.1 && members.length > 0) members.push(members[members.length - 1]!);
  writer.header('map', members.length);
  for (const [key, write] of members) {
    if (random() < 0.03) writeKey(writer, random);
    else writer.string(key);
    write();
  }
  return writer.bytes();
}

/** A random damage: cut short, a byte changed, a byte added or removed, a length made larger. */
export function mutate(bytes: Buffer, random: () => number): Buffer {
  const at = Math.floor(random() * bytes.length);
  switch (Math.floor(random() * 5)) {
    case 0:
      return bytes.subarray(0, at);
    case 1: {
      const copy = Buffer.from(bytes);
      copy[at] = Math.floor(random() * 256);
      return copy;
    }
    case 2:
      return Buffer.concat([bytes.subarray(0, at), Buffer.of(Math.floor(random() * 256)), bytes.subarray(at)]);
    case 3:
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
    default: {
      const copy = Buffer.from(bytes);
      copy[at] = (copy[at]! + 1 + Math.floor(random() * 3)) & 0xff;
      return copy;
    }
  }
}
