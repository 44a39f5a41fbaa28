/**
 * The program manager's bulk paths on the real object (issue 13, a config
 * of thousands of services): services added in one batch per map land in
 * the kernel's maps as one addService() each would put them, and a first
 * table (written without reading its fresh ring back) leaves every slot
 * clean, where a later table records the slots that changed hands.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureBpffs, unmountBpffs } from '../../src/bpf/index.js';
import { Dataplane, type ServiceSpec } from '../../src/dataplane/manager.js';

const sizes = { instances: 8, vips: 64, services: 16, reals: 64, ringSlots: 1 << 16 };

/** TCP and UDP, IPv4 and IPv6, one and ten backends: the mix, small. */
const SPECS: ServiceSpec[] = Array.from({ length: 12 }, (_, i) => ({
  vip: i % 3 === 2 ? `2001:db8::${i + 1}` : `10.0.0.${i + 1}`,
  port: 80 + i,
  protocol: i % 2 === 0 ? 'tcp' : 'udp',
  instance: i % 2,
  backends: i % 4 === 0 ? 10 : 1,
  persist: i === 5,
}));

describe('Dataplane bulk paths', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  async function pinned(): Promise<{ dp: Dataplane; pinDir: string }> {
    const pinDir = mkdtempSync('/run/vipd-test-dpb-');
    const { mounted } = ensureBpffs(pinDir);
    const dp = await Dataplane.open({ pinDir, sizes, ringQuiesceMs: 0 });
    cleanups.push(() => {
      dp.close();
      Dataplane.unpinAll(pinDir);
      if (mounted) unmountBpffs(pinDir);
      rmSync(pinDir, { recursive: true, force: true });
    });
    return { dp, pinDir };
  }

  it('addServices() puts in the kernel maps what one addService() each would', async () => {
    const one = await pinned();
    for (const spec of SPECS) one.dp.addService(spec);
    const batch = await pinned();
    batch.dp.addServices(SPECS);
    // A manager adopting the pins reads the services back from the kernel's maps.
    one.dp.close();
    batch.dp.close();
    const a = await Dataplane.open({ pinDir: one.pinDir, sizes });
    const b = await Dataplane.open({ pinDir: batch.pinDir, sizes });
    try {
      const byIndex = (dp: Dataplane) => dp.listServices().sort((x, y) => x.index - y.index);
      expect(byIndex(b)).toHaveLength(SPECS.length);
      expect(byIndex(b)).toEqual(byIndex(a));
    } finally {
      a.close();
      b.close();
    }
  });

  it('a first table leaves every slot clean; the next one records the slots that changed hands', async () => {
    const { dp } = await pinned();
    const spec = { vip: '10.0.0.1', port: 80, protocol: 'tcp' as const, instance: 0, backends: 2 };
    dp.addServices([spec]);
    await dp.setBackends(spec, [
      { real: 0, key: '10.1.0.1', weight: 1 },
      { real: 1, key: '10.1.0.2', weight: 1 },
    ]);
    // Fallbacks of a first table are its reals: nothing else is named.
    expect([...dp.namedReals()].sort()).toEqual([0, 1]);
    await dp.setBackends(spec, [
      { real: 2, key: '10.1.0.3', weight: 1 },
      { real: 3, key: '10.1.0.4', weight: 1 },
    ]);
    // Every slot changed hands: the fallbacks name the reals the slots had.
    expect([...dp.namedReals()].sort()).toEqual([0, 1, 2, 3]);
    expect(new Set(dp.table(spec))).toEqual(new Set([2, 3]));
  });
});
