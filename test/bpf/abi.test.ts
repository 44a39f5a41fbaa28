/**
 * The TypeScript codecs (src/dataplane/abi.ts) against the BTF of the
 * compiled object: every struct's size, field names, order and offsets, and
 * every map's key and value sizes. bpf/vipd.h cannot drift from its mirror.
 */
import { describe, expect, it } from 'vitest';
import { ObjectSpec, btfStructs, compareWithBtf } from '../../src/bpf/index.js';
import {
  MAPS,
  MAX_IFINDEX,
  MAX_INSTANCES,
  MAX_REALS,
  MAX_RINGS,
  MAX_SERVICES,
  MAX_VIPS,
  REASON_MAX,
  RING_SIZE,
  STRUCT_CODECS,
} from '../../src/dataplane/abi.js';
import { objectPath } from '../../src/dataplane/manager.js';

describe('data-plane ABI', () => {
  const structs = btfStructs(objectPath());

  it.each(STRUCT_CODECS.map((c) => [c.cName, c] as const))('struct %s matches its codec', (_n, codec) => {
    expect(compareWithBtf(codec, structs)).toEqual([]);
  });

  it('every vipd_ struct in the object has a codec', () => {
    const names = structs.map((s) => s.name).filter((n) => n.startsWith('vipd_'));
    expect(names.sort()).toEqual(STRUCT_CODECS.map((c) => c.cName).sort());
  });

  it('map key/value sizes and default limits match the object', () => {
    const spec = ObjectSpec.open(objectPath());
    try {
      for (const [name, m] of Object.entries(MAPS)) {
        const s = spec.map(name);
        expect({ name, key: s.keySize, value: s.valueSize }).toEqual({ name, key: m.key.size, value: m.value.size });
      }
      const max = (n: string) => spec.map(n).maxEntries;
      expect({
        instances: max('instances'),
        vips: max('vips'),
        services4: max('services4'),
        services6: max('services6'),
        rings: max('rings'),
        reals: max('reals'),
        iface_masters: max('iface_masters'),
        verdicts: max('verdicts'),
        real_stats: max('real_stats'),
      }).toEqual({
        instances: MAX_INSTANCES,
        vips: MAX_VIPS,
        services4: MAX_SERVICES,
        services6: MAX_SERVICES,
        rings: MAX_RINGS * RING_SIZE,
        reals: MAX_REALS,
        iface_masters: MAX_IFINDEX,
        verdicts: REASON_MAX,
        real_stats: MAX_REALS,
      });
    } finally {
      spec.close();
    }
  });
});
