/**
 * The TypeScript codecs (src/dataplane/abi.ts) against the BTF of the
 * compiled object: every struct's size, field names, order and offsets, and
 * every map's key and value sizes. bpf/vipd.h cannot drift from its mirror.
 */
import { describe, expect, it } from 'vitest';
import { MapFlag, ObjectSpec, btfStructs, compareWithBtf } from '../../src/bpf/index.js';
import { MAPS, MAX_IFINDEX, REASON_MAX, STRUCT_CODECS } from '../../src/dataplane/abi.js';
import { objectPath } from '../../src/dataplane/manager.js';
import { DEFAULT_PENDING } from '../../src/dataplane/sizing.js';

describe('data-plane ABI', () => {
  const structs = btfStructs(objectPath());

  it.each(STRUCT_CODECS.map((c) => [c.cName, c] as const))('struct %s matches its codec', (_n, codec) => {
    expect(compareWithBtf(codec, structs)).toEqual([]);
  });

  it('every vipd_ struct in the object has a codec', () => {
    const names = structs.map((s) => s.name).filter((n) => n.startsWith('vipd_'));
    expect(names.sort()).toEqual(STRUCT_CODECS.map((c) => c.cName).sort());
  });

  it('map key/value sizes, the fixed sizes and the flags the manager relies on match the object', () => {
    const spec = ObjectSpec.open(objectPath());
    try {
      for (const [name, m] of Object.entries(MAPS)) {
        const s = spec.map(name);
        expect({ name, key: s.keySize, value: s.valueSize }).toEqual({ name, key: m.key.size, value: m.value.size });
      }
      // The other maps are sized from the config before load (sizing.ts).
      expect(spec.map('iface_masters').maxEntries).toBe(MAX_IFINDEX);
      expect(spec.map('verdicts').maxEntries).toBe(REASON_MAX);
      // connections.pending's default is the object's pending size (VIPD_MAX_PENDING).
      expect([spec.map('pending4').maxEntries, spec.map('pending6').maxEntries]).toEqual([DEFAULT_PENDING, DEFAULT_PENDING]);
      // Rings are written through a shared mapping; service entries are
      // replaced whole, never recycled under a reader.
      expect(spec.map('rings').flags & MapFlag.Mmapable).toBe(MapFlag.Mmapable);
      // The advert sender renews leases through a shared mapping (ABI 7).
      expect(spec.map('instances').flags & MapFlag.Mmapable).toBe(MapFlag.Mmapable);
      expect(spec.map('services4').flags & MapFlag.NoPrealloc).toBe(MapFlag.NoPrealloc);
      expect(spec.map('services6').flags & MapFlag.NoPrealloc).toBe(MapFlag.NoPrealloc);
    } finally {
      spec.close();
    }
  });
});
