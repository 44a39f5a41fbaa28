/**
 * A steady BACKUP absorbs its master's unchanged adverts in native code (no
 * JS per advert). When its own priority rises above the master's (here
 * `vipctl priority`; a track script or interface does the same through
 * InstanceRunner.setTrackState), it must stop absorbing them so that
 * Master_Down runs out and it preempts. Two vipds at 10 ms adverts, preempt
 * on: lb2 (100) under lb1 (150) is raised to 200 and takes MASTER; lb1
 * steps down. Then lb2 goes back to 100 and lb1 (preempt) takes MASTER back.
 */
import { describe, expect, it } from 'vitest';
import { Site, metricSum } from '../../scripts/topology.js';
import { netnsUnavailable } from '../helpers/netns.js';
import { waitFor } from '../helpers/wait.js';

describe.skipIf(netnsUnavailable())('steady BACKUP whose priority rises', () => {
  it('stops absorbing its master and preempts it', async () => {
    const site = await Site.create({ label: 'prsteady', advertInterval: 0.01, healthCheck: 'none' });
    try {
      site.startDaemon(0);
      await site.waitState(0, 'MASTER', 15_000);
      site.startDaemon(1);
      await site.waitState(1, 'BACKUP', 15_000);
      // lb2 is in the steady state: it counts lb1's adverts (absorbed natively) as they come.
      const rx = async (): Promise<number> => metricSum(await site.metrics(1), 'vipd_vrrp_adverts_total', { instance: 'web', direction: 'rx' });
      const rx0 = await rx();
      await waitFor('lb2 hearing lb1', async () => ((await rx()) >= rx0 + 50 ? true : undefined), 15_000);

      await site.call(1, 'priority', { instance: 'web', priority: 200 });
      // Watch lb1 only: asking lb2 (status, metrics) would itself hand lb2's
      // engine the absorbed adverts, and hide a steady state left running.
      await site.waitState(0, 'BACKUP', 5000);
      expect(await site.state(1)).toBe('MASTER');

      // And back: lb1 (150, preempt) is now the steady BACKUP of lb2 at 200; lower lb2 to 100.
      await site.call(1, 'priority', { instance: 'web', priority: 100 });
      await site.waitState(0, 'MASTER', 5000);
      await site.waitState(1, 'BACKUP', 5000);
    } finally {
      await site.cleanup();
    }
  }, 90_000);
});
