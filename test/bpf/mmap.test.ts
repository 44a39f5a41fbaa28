/**
 * ArrayMemory (src/bpf/mmap.ts) against the real kernel: what is written
 * through the shared mapping is what bpf_map_lookup_elem reads, entry by
 * entry (the 8-byte stride of a 4-byte value included), and back.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArrayMemory, BpfError, ObjectSpec, types as t, type Collection } from '../../src/bpf/index.js';
import { packageRoot } from '../../src/native.js';

const TEST_OBJ = join(packageRoot(), 'out/test/progs/libbpf_ts_test.bpf.o');

describe('ArrayMemory: an mmapable array written with plain stores', () => {
  let coll: Collection;
  beforeAll(async () => {
    coll = await ObjectSpec.open(TEST_OBJ).load();
  });
  afterAll(() => coll?.close());

  it('writes reach the kernel and map updates reach the mapping', () => {
    using map = coll.map('test_mmap', t.u32, t.u32);
    using memory = ArrayMemory.ofU32Array(map);
    expect(memory.length).toBe(1000);
    const values = Uint32Array.from({ length: 1000 }, (_, i) => (i * 2654435761) >>> 0);
    memory.setU32(0, values);
    for (const i of [0, 1, 2, 511, 512, 998, 999]) expect(map.lookup(i), `entry ${i}`).toBe(values[i]);

    map.update(7, 0xdeadbeef);
    expect(memory.u32At(7)).toBe(0xdeadbeef);
    expect([...memory.readU32(6, 3)]).toEqual([values[6], 0xdeadbeef, values[8]]);
  });

  it('fills a range of 4-byte values (the padding of each stride left alone), and refuses word pairs there', () => {
    using map = coll.map('test_mmap', t.u32, t.u32);
    using memory = ArrayMemory.ofU32Array(map);
    memory.setU32(0, Uint32Array.from({ length: 1000 }, (_, i) => i));
    memory.fillU32(10, 5, 0xffffffff);
    expect([...memory.readU32(9, 7)]).toEqual([9, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 15]);
    expect(map.lookup(12)).toBe(0xffffffff);
    expect(() => memory.fillU32(998, 3, 0)).toThrow(RangeError);
    expect(() => memory.setU32Pair(0, Uint32Array.of(1), Uint32Array.of(2))).toThrow(/a value has 1 word/);
  });

  it('refuses writes past the end, a map that is not mmapable, and use after close', () => {
    using map = coll.map('test_mmap', t.u32, t.u32);
    const memory = ArrayMemory.ofU32Array(map);
    expect(() => memory.setU32(999, [1, 2])).toThrow(RangeError);
    memory.close();
    expect(() => memory.u32At(0)).toThrow(/closed/);
    using plain = coll.map('test_lru', t.u32, t.u64);
    expect(() => ArrayMemory.ofU32Array(plain)).toThrow(BpfError);
  });
});
