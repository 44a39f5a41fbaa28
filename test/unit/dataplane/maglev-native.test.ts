/**
 * The native Maglev build (native/maglev.cc) against the TypeScript
 * reference: the same table, element by element, for random pools of every
 * shape, and errors (never a crash) on inconsistent input.
 */
import { describe, expect, it } from 'vitest';
import {
  MAGLEV_MAX_SIZE,
  type MaglevBackend,
  NO_BACKEND,
  buildMaglevTable,
  buildMaglevTableNative,
  buildMaglevTableReference,
  isPrime,
} from '../../../src/dataplane/maglev.js';
import { maglevNative } from '../../../src/dataplane/maglev-native.js';

const native = maglevNative();

/** xorshift32: a seeded generator, so a failure is reproducible from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** The first index where two tables differ, -1 when equal (expect(..).toEqual on 2^20 slots is slow to print). */
function firstDiff(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function expectSame(backends: readonly MaglevBackend[], size: number, what: string): void {
  const want = buildMaglevTableReference(backends, size);
  const got = buildMaglevTableNative(backends, size);
  const at = firstDiff(got, want);
  if (at !== -1) {
    throw new Error(
      `${what}: native and reference differ at slot ${at} (${got[at]} vs ${want[at]}), size ${size}, backends ${JSON.stringify(backends)}`,
    );
  }
}

const ASCII = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:-_/ |\u0000\u007f';
const WIDE = ['ä', 'é', 'ß', '€', '中', '文', '\u0080', '\u07ff', '\u0800', '\uffff', '😀', '𝄞', '\ud800', '\udfff'];

function randomKey(r: () => number, nonAscii: boolean): string {
  const len = Math.floor(r() * 24);
  let key = '';
  for (let i = 0; i < len; i++) {
    key += nonAscii && r() < 0.3 ? WIDE[Math.floor(r() * WIDE.length)] : ASCII[Math.floor(r() * ASCII.length)];
  }
  return key;
}

function randomWeights(r: () => number, n: number): number[] {
  switch (Math.floor(r() * 6)) {
    case 0: // the common pool
      return Array.from({ length: n }, () => 100);
    case 1: {
      const w = Math.floor(r() * 0xffffffff) + 1;
      return Array.from({ length: n }, () => w);
    }
    case 2: // small and uneven, some drained
      return Array.from({ length: n }, () => Math.floor(r() * 11));
    case 3: // huge ones next to tiny ones
      return Array.from({ length: n }, () => [0, 1, 2, 0xffffffff, 0xfffffffe, 0x80000000][Math.floor(r() * 6)]);
    case 4: // anything a u32 holds
      return Array.from({ length: n }, () => (r() < 0.1 ? 0 : Math.floor(r() * 2 ** 32)));
    default: // 100/200/300
      return Array.from({ length: n }, (_, i) => 100 * ((i % 3) + 1));
  }
}

function randomPrime(r: () => number, max: number): number {
  let n = 2 + Math.floor(r() * (max - 1));
  while (!isPrime(n)) n++;
  return n;
}

describe.skipIf(native === null)('native Maglev build (skipped: the addon is not built, run `npm run build`)', () => {
  it('is what buildMaglevTable() uses when the addon is built', () => {
    const b = [
      { key: 'a', weight: 1 },
      { key: 'b', weight: 2 },
    ];
    expect(buildMaglevTable(b, 251)).toEqual(buildMaglevTableNative(b, 251));
  });

  it('equals the reference for 600 random pools (ASCII and non-ASCII keys, equal and uneven weights, primes 2..65537)', () => {
    const seed = 0x5eed1234;
    const r = rng(seed);
    const sizes = [2, 3, 5, 7, 11, 13, 31, 251, 1021, 4093, 65521, 65537];
    for (let c = 0; c < 600; c++) {
      const n = 1 + Math.floor(r() * 50);
      const nonAscii = r() < 0.4;
      const keys = new Set<string>();
      while (keys.size < n) keys.add(randomKey(r, nonAscii));
      const weights = randomWeights(r, n);
      const backends = [...keys].map((key, i) => ({ key, weight: weights[i] }));
      const weighted = weights.filter((w) => w > 0).length;
      // Mostly small tables (fast); one case in ten at the large sizes.
      let size = r() < 0.1 ? sizes[8 + Math.floor(r() * 4)] : r() < 0.5 ? sizes[Math.floor(r() * 8)] : randomPrime(r, 5000);
      if (size < weighted) size = randomPrime(r, 5000) + weighted;
      while (!isPrime(size)) size++;
      expectSame(backends, size, `seed ${seed.toString(16)} case ${c}`);
    }
  });

  it('equals the reference next to 2^20 (1048573 slots), equal and uneven weights', () => {
    const r = rng(0xb16);
    expect(isPrime(1048573)).toBe(true);
    const keys = Array.from({ length: 50 }, (_, i) => `10.9.${i}.${Math.floor(r() * 256)}-é${i}`);
    expectSame(
      keys.map((key) => ({ key, weight: 7 })),
      1048573,
      'equal',
    );
    expectSame(
      keys.map((key, i) => ({ key, weight: i % 5 === 0 ? 0xffffffff : i % 7 })),
      1048573,
      'uneven',
    );
  });

  it('equals the reference for 1000 backends at 65537 slots, weights 100/200/300', () => {
    const backends = Array.from({ length: 1000 }, (_, i) => ({ key: `10.1.${i >> 8}.${i & 255}`, weight: 100 * ((i % 3) + 1) }));
    expectSame(backends, 65537, '1000 backends');
  });

  it('equals the reference with long keys (the key buffer grows mid-pool)', () => {
    const backends = Array.from({ length: 12 }, (_, i) => ({
      key: `${'é'.repeat(i * 200)}${i}${'x'.repeat(3000)}`,
      weight: 1 + (i % 4),
    }));
    expectSame(backends, 1021, 'long keys');
    expectSame(backends.map((b) => ({ ...b, weight: 5 })), 1021, 'long keys, equal');
  });

  it('orders keys byte-wise: a prefix first, UTF-8 above ASCII, astral above U+FFFF', () => {
    for (const keys of [
      ['ab', 'a', 'abc', ''],
      ['z', 'é', 'Z', '\u007f', '\u0080'],
      ['\uffff', '😀', '\ue000', '𝄞'],
    ]) {
      for (let m = 0; m < 3; m++) expectSame(keys.map((key, i) => ({ key, weight: m === 0 ? 1 : (i + m) % 3 })), 13, keys.join(','));
    }
  });

  it('keeps the caller order for distinct keys that encode alike (lone surrogates become U+FFFD)', () => {
    const backends = [
      { key: 'x\ud800', weight: 1 },
      { key: 'x\udc00', weight: 2 },
      { key: 'x\ufffd', weight: 1 },
      { key: 'y', weight: 2 },
    ];
    expectSame(backends, 251, 'lone surrogates');
    expectSame([...backends].reverse(), 251, 'lone surrogates, reversed');
  });

  it('fills NO_BACKEND when no weight is above 0, and handles one backend and a table of 2', () => {
    expect(Array.from(buildMaglevTableNative([{ key: 'a', weight: 0 }], 5))).toEqual(new Array(5).fill(NO_BACKEND));
    expect(Array.from(buildMaglevTableNative([], 7))).toEqual(new Array(7).fill(NO_BACKEND));
    expect(Array.from(buildMaglevTableNative([{ key: 'solo', weight: 9 }], 3))).toEqual([0, 0, 0]);
    expectSame([{ key: 'a', weight: 1 }, { key: 'b', weight: 0xffffffff }], 2, 'size 2');
    expectSame([{ key: 'a', weight: 1 }, { key: 'b', weight: 1 }], 2, 'size 2 equal');
  });

  it('throws the reference errors on bad input', () => {
    const bad: Array<[MaglevBackend[], number]> = [
      [[{ key: 'a', weight: 1 }], 4],
      [[{ key: 'a', weight: 1 }], MAGLEV_MAX_SIZE + 7],
      [[{ key: 'a', weight: -1 }], 5],
      [[{ key: 'a', weight: 2 ** 32 }], 5],
      [[{ key: 'a', weight: 1.5 }], 5],
      [
        [
          { key: 'a', weight: 1 },
          { key: 'a', weight: 0 },
        ],
        5,
      ],
      [Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, weight: 1 })), 5],
      [[{ key: 5 as unknown as string, weight: 1 }], 5],
    ];
    for (const [backends, size] of bad) {
      let want = '';
      try {
        buildMaglevTableReference(backends, size);
      } catch (e) {
        want = `${(e as Error).name}: ${(e as Error).message}`;
      }
      expect(want).not.toBe('');
      expect(() => buildMaglevTableNative(backends, size)).toThrow(want.slice(want.indexOf(': ') + 2));
    }
  });

  describe('maglevBuild() on inconsistent input: an error, never a crash', () => {
    const nb = native!;
    const keys = new TextEncoder().encode('abc');
    const ends = Uint32Array.from([1, 2, 3]);
    const weights = Uint32Array.from([1, 1, 1]);
    it('accepts consistent input', () => {
      const t = new Uint32Array(7);
      nb.maglevBuild(keys, ends, weights, 3, t);
      expect(t.every((v) => v < 3)).toBe(true);
    });
    it.each<[string, () => void, RegExp]>([
      ['count above ends', () => nb.maglevBuild(keys, ends, weights, 4, new Uint32Array(7)), /count must be an integer from 0 to the length/],
      [
        'count above weights',
        () => nb.maglevBuild(keys, ends, weights.subarray(0, 2), 3, new Uint32Array(7)),
        /count must be an integer/,
      ],
      ['negative count', () => nb.maglevBuild(keys, ends, weights, -1, new Uint32Array(7)), /count must be an integer/],
      ['fractional count', () => nb.maglevBuild(keys, ends, weights, 1.5, new Uint32Array(7)), /count must be an integer/],
      ['NaN count', () => nb.maglevBuild(keys, ends, weights, NaN, new Uint32Array(7)), /count must be an integer/],
      ['a count of 2^32', () => nb.maglevBuild(keys, ends, weights, 2 ** 32, new Uint32Array(7)), /count must be an integer/],
      ['an infinite count', () => nb.maglevBuild(keys, ends, weights, Infinity, new Uint32Array(7)), /count must be an integer/],
      ['a count as a string', () => nb.maglevBuild(keys, ends, weights, '3' as unknown as number, new Uint32Array(7)), /argument 4 \(count\) must be a number/],
      [
        'an end past the keys',
        () => nb.maglevBuild(keys, Uint32Array.from([1, 2, 9]), weights, 3, new Uint32Array(7)),
        /ends\[2\] \(9\) must be from ends\[i - 1\] \(2\) to the length of keys \(3\)/,
      ],
      [
        'ends going back',
        () => nb.maglevBuild(keys, Uint32Array.from([2, 1, 3]), weights, 3, new Uint32Array(7)),
        /ends\[1\] \(1\) must be from/,
      ],
      ['a size that is not prime', () => nb.maglevBuild(keys, ends, weights, 3, new Uint32Array(8)), /table size must be a prime.*got 8/],
      ['an empty table', () => nb.maglevBuild(keys, ends, weights, 3, new Uint32Array(0)), /table size must be a prime.*got 0/],
      [
        'a table above 2^20',
        () => nb.maglevBuild(keys, ends, weights, 3, new Uint32Array(MAGLEV_MAX_SIZE + 7)),
        /table size must be a prime.*got 1048583/,
      ],
      ['more weighted backends than slots', () => nb.maglevBuild(keys, ends, weights, 3, new Uint32Array(2)), /3 weighted backends do not fit a table of 2 slots/],
      [
        'weights as a Float64Array',
        () => nb.maglevBuild(keys, ends, Float64Array.from([1, 1, 1]) as unknown as Uint32Array, 3, new Uint32Array(7)),
        /argument 3 \(weights\) must be a Uint32Array/,
      ],
      [
        'a table as an Int32Array',
        () => nb.maglevBuild(keys, ends, weights, 3, new Int32Array(7) as unknown as Uint32Array),
        /argument 5 \(table\) must be a Uint32Array/,
      ],
      ['keys as a string', () => nb.maglevBuild('abc' as unknown as Uint8Array, ends, weights, 3, new Uint32Array(7)), /argument 1 \(keys\) must be a Uint8Array/],
      [
        'no arguments',
        () => (nb.maglevBuild as unknown as () => void)(),
        /argument 1 \(keys\) must be a Uint8Array/,
      ],
    ])('%s', (_, call, message) => {
      expect(call).toThrow(message);
    });
    it('survives a table that shares memory with the keys', () => {
      const shared = new ArrayBuffer(64);
      const k = new Uint8Array(shared, 0, 12);
      k.set(new TextEncoder().encode('abcdefghijkl'));
      const t = new Uint32Array(shared, 0, 13);
      nb.maglevBuild(k, Uint32Array.from([4, 8, 12]), weights, 3, t);
      expect(t.every((v) => v < 3)).toBe(true);
    });
  });
});
