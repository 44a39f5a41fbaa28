import { describe, expect, it } from 'vitest';
import { buildMaglevTable, type MaglevBackend } from '../../../src/dataplane/maglev.js';
import { MaglevTableCache } from '../../../src/dataplane/maglev-cache.js';

const pool = (n: number, prefix = '10.0.0', weight = 100): MaglevBackend[] =>
  Array.from({ length: n }, (_, i) => ({ key: `${prefix}.${i + 1}`, weight }));

describe('MaglevTableCache', () => {
  it('gives the table buildMaglevTable gives, and the same one for the same pool', () => {
    const cache = new MaglevTableCache();
    const first = cache.build(pool(10), 1021);
    expect(first).toEqual(buildMaglevTable(pool(10), 1021));
    expect(cache.build(pool(10), 1021)).toBe(first);
    expect(cache.size).toBe(1);
  });

  it('builds anew when the keys, a weight, the order or the size differ', () => {
    const cache = new MaglevTableCache();
    const base = pool(10);
    cache.build(base, 1021);
    const reweighted = base.map((b, i) => (i === 3 ? { ...b, weight: 200 } : b));
    const reordered = [...base].reverse();
    for (const [backends, size] of [
      [pool(10, '10.0.1'), 1021],
      [reweighted, 1021],
      [reordered, 1021],
      [base, 2039],
    ] as const) {
      expect(cache.build(backends, size)).toEqual(buildMaglevTable(backends, size));
    }
    expect(cache.size).toBe(5);
  });

  it('sees a change made in place to an array it was given before', () => {
    // The array is recognised again without its id; what it holds is still compared.
    const cache = new MaglevTableCache();
    const backends = pool(10);
    const first = cache.build(backends, 1021);
    expect(cache.build(backends, 1021)).toBe(first);
    backends[4] = { ...backends[4], weight: 300 };
    expect(cache.build(backends, 1021)).toEqual(buildMaglevTable(backends, 1021));
    backends[4] = { ...backends[4], key: '10.0.9.9' };
    expect(cache.build(backends, 1021)).toEqual(buildMaglevTable(backends, 1021));
    backends.pop();
    expect(cache.build(backends, 1021)).toEqual(buildMaglevTable(backends, 1021));
    expect(cache.build(backends, 2039)).toEqual(buildMaglevTable(backends, 2039));
    expect(cache.size).toBe(5);
  });

  it('keeps keys that contain the separators apart', () => {
    const cache = new MaglevTableCache();
    const a = [{ key: 'a/1,b', weight: 1 }];
    const b = [
      { key: 'a', weight: 1 },
      { key: 'b', weight: 1 },
    ];
    cache.build(a, 251);
    expect(cache.build(b, 251)).toEqual(buildMaglevTable(b, 251));
  });

  it('drops the least recently used tables past its slot budget', () => {
    const cache = new MaglevTableCache(3 * 1021);
    const pools = [0, 1, 2, 3].map((i) => pool(10, `10.0.${i}`));
    const tables = pools.slice(0, 3).map((p) => cache.build(p, 1021));
    cache.build(pools[0], 1021); // pools[0] used again: pools[1] is now the oldest
    cache.build(pools[3], 1021);
    expect(cache.size).toBe(3);
    expect(cache.build(pools[0], 1021)).toBe(tables[0]);
    expect(cache.build(pools[2], 1021)).toBe(tables[2]);
    expect(cache.build(pools[1], 1021)).not.toBe(tables[1]);
  });

  it('never holds a table bigger than its budget', () => {
    const cache = new MaglevTableCache(1000);
    cache.build(pool(10), 1021);
    expect(cache.size).toBe(0);
  });
});
