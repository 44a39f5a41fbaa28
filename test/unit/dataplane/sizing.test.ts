/** Ring sizing and map sizes from the config (src/dataplane/sizing.ts). */
import { describe, expect, it } from 'vitest';
import { isPrime } from '../../../src/dataplane/maglev.js';
import { DEFAULT_PENDING, FLOOR, HEADROOM, RING_SIZES, mapMemory, mapSizesFor, pendingMask, ringSize, ringSlotsFor, sizesHold } from '../../../src/dataplane/sizing.js';

describe('ringSize', () => {
  it('every size on the ladder is a prime, ascending, ending at the program ring limit (65537)', () => {
    for (const size of RING_SIZES) expect(isPrime(size), `${size}`).toBe(true);
    expect([...RING_SIZES].sort((a, b) => a - b)).toEqual([...RING_SIZES]);
    expect(RING_SIZES.at(-1)).toBe(65537);
  });

  it('is the smallest ladder prime with at least 100 slots per backend (Maglev: <= 1% imbalance)', () => {
    expect(ringSize(0)).toBe(251);
    expect(ringSize(1)).toBe(251);
    expect(ringSize(2)).toBe(251);
    expect(ringSize(3)).toBe(509);
    expect(ringSize(10)).toBe(1021);
    expect(ringSize(11)).toBe(2039);
    expect(ringSize(100)).toBe(16381);
    expect(ringSize(163)).toBe(16381);
    expect(ringSize(164)).toBe(32749);
    for (let n = 1; n <= 655; n++) expect(ringSize(n) / n).toBeGreaterThanOrEqual(100);
  });

  it('caps at 65537 for very large backend sets', () => {
    expect(ringSize(656)).toBe(65537);
    expect(ringSize(100_000)).toBe(65537);
  });

  it('stays the same while the backend count moves within one step (the table then changes only where it must)', () => {
    expect(new Set([6, 7, 8, 9, 10].map(ringSize)).size).toBe(1);
  });
});

describe('mapSizesFor', () => {
  it('gives a small config the floor, so it can grow several times over on reload', () => {
    expect(mapSizesFor({ instances: 1, vips: 1, serviceBackends: [2], connections: FLOOR.flows4 })).toEqual(FLOOR);
  });

  it('gives a large config a quarter more than it needs', () => {
    const serviceBackends = Array.from({ length: 10_000 }, () => 10);
    const sizes = mapSizesFor({ instances: 40, vips: 10_000, serviceBackends });
    expect(sizes.services).toBe(Math.ceil(10_000 * HEADROOM));
    expect(sizes.reals).toBe(Math.ceil(2 * 100_000 * HEADROOM));
    expect(sizes.vips).toBe(Math.ceil(10_000 * HEADROOM));
    expect(sizes.ringSlots).toBe(Math.ceil(ringSlotsFor(serviceBackends) * HEADROOM));
    expect(ringSlotsFor(serviceBackends)).toBe(10_000 * 2 * 1021);
  });

  it('sizesHold tells whether loaded maps can take a new config', () => {
    const small = mapSizesFor({ instances: 1, vips: 1, serviceBackends: [2] });
    const big = mapSizesFor({ instances: 1, vips: 1, serviceBackends: Array.from({ length: 100 }, () => 2) });
    expect(sizesHold(big, small)).toBe(true);
    expect(sizesHold(small, big)).toBe(false);
  });
});

describe('mapMemory', () => {
  it('10 000 services x 10 backends fit in 512 MiB of maps on a 64-CPU host', () => {
    const sizes = mapSizesFor({ instances: 40, vips: 10_000, serviceBackends: Array.from({ length: 10_000 }, () => 10) });
    const memory = mapMemory(sizes, 64);
    // The connection table (ABI 6) is sized by connections.max, not by the services: apart.
    const table = ['flows4', 'flows6', 'pending4', 'pending6'].reduce((sum, m) => sum + (memory.byMap[m] ?? 0), 0);
    expect(memory.total - table).toBeLessThan(512 * 1024 ** 2);
    // The rings dominate: 8 bytes per slot (4-byte values on an 8-byte stride).
    expect(memory.byMap.rings).toBe(Math.ceil((sizes.ringSlots * 8) / 4096) * 4096);
  });
});

describe('connection table sizing', () => {
  it('connections.max entries per family in use, 1 for a family no service uses; pending 65536 tags whatever max is', () => {
    const sizes = mapSizesFor({ instances: 1, vips: 1, serviceBackends: [4], connections: 1_000_000, families: { v4: true, v6: false } });
    expect(sizes).toMatchObject({ flows4: 1_000_000, flows6: 1, pending4: 65_536, pending6: 1 });
    // Small tables too (test/bpf/abi.test.ts: the object's VIPD_MAX_PENDING is the same default).
    expect(mapSizesFor({ instances: 1, vips: 1, serviceBackends: [4], connections: 1000 }).pending4).toBe(DEFAULT_PENDING);
  });

  it('connections.pending sizes both pending stages, rounded up to a power of two', () => {
    const base = { instances: 1, vips: 1, serviceBackends: [4], connections: 1_000_000 };
    expect(mapSizesFor({ ...base, pending: 1 << 20 })).toMatchObject({ flows4: 1_000_000, pending4: 2 ** 20, pending6: 2 ** 20 });
    expect(mapSizesFor({ ...base, pending: 100_000 }).pending6).toBe(131_072);
    expect(mapSizesFor({ ...base, pending: 16_384 }).pending4).toBe(16_384);
    // A family without flows gets a 1-entry stage whatever pending says.
    expect(mapSizesFor({ ...base, pending: 1 << 20, families: { v4: false, v6: true } }).pending4).toBe(1);
  });

  it('the program indexes pending with the largest power of two a map holds, less one', () => {
    expect(pendingMask(2 ** 20)).toBe(2 ** 20 - 1);
    expect(pendingMask(250_000)).toBe(131_071);
    expect(pendingMask(1)).toBe(0);
  });

  it('a pending tag takes 16 bytes: the default 65536 take 1 MiB, a million 16 MiB', () => {
    const sizes = mapSizesFor({ instances: 1, vips: 1, serviceBackends: [4], connections: 1_000_000, families: { v4: true, v6: false } });
    expect(mapMemory(sizes, 2).byMap.pending4).toBe(2 ** 20);
    const big = mapSizesFor({ instances: 1, vips: 1, serviceBackends: [4], connections: 1_000_000, pending: 1 << 20, families: { v4: true, v6: false } });
    expect(mapMemory(big, 2).byMap.pending4).toBe(16 * 2 ** 20);
  });

  it('a million IPv4 flows (and their pending stage) take under 120 MiB', () => {
    const sizes = mapSizesFor({ instances: 1, vips: 1, serviceBackends: [4], connections: 1_000_000, families: { v4: true, v6: false } });
    const memory = mapMemory(sizes, 2);
    expect((memory.byMap.flows4 ?? 0) + (memory.byMap.pending4 ?? 0)).toBeLessThan(120 * 1024 ** 2);
    expect(memory.byMap.flows6 ?? 0).toBeLessThan(1024);
  });
});
