/**
 * vipd_vrrp_adverts_total{direction="tx"} counts every advert that left:
 * the periodic ones the native sender thread sends, the first one after
 * becoming MASTER and the last ones before leaving it. Two vipds, 100 ms
 * adverts: lb2 starts first (MASTER alone), lb1 (150) preempts it, then lb1
 * drops to priority 50 and lb2 takes over again. Every advert lb1 sent
 * reached lb2 over the bridge and was accepted there, so lb1's tx equals
 * lb2's rx, and neither runs above 1 per interval (lb2 absorbs
 * the unchanged adverts natively and counts them when the engine looks). A
 * bad copy of the master's advert still reaches the validator and is
 * counted in vipd_vrrp_rx_invalid_total.
 */
import { describe, expect, it } from 'vitest';
import { Site, metricSum, sleep } from '../../scripts/topology.js';
import { haveCommand, netnsUnavailable } from '../helpers/netns.js';
import { waitFor } from '../helpers/wait.js';
import { VRRP_PROTOCOL } from '../../src/vrrp/index.js';

const why = netnsUnavailable() ?? (['tcpdump', 'python3'].find((c) => !haveCommand(c)) ? 'needs tcpdump and python3' : undefined);

describe.skipIf(why)('vipd advert counters', () => {
  it("a MASTER's tx count matches what its peer received, and runs at 1 per interval", async () => {
    const site = await Site.create({ label: 'advcnt', advertInterval: 0.1, healthCheck: 'none' });
    const count = async (i: number, direction: 'tx' | 'rx'): Promise<number> =>
      metricSum(await site.metrics(i), 'vipd_vrrp_adverts_total', { instance: 'web', direction });
    try {
      site.startDaemon(1);
      await site.waitState(1, 'MASTER', 15_000);
      site.startDaemon(0);
      await site.waitState(0, 'MASTER', 15_000);
      await site.waitState(1, 'BACKUP', 5000);

      // Over a window of at least 40 adverts (a count, not a clock: a loaded
      // machine only makes the window longer): never more than one advert per
      // interval (the upper bound catches a double sender), every one heard,
      // and never so few that the BACKUP's Master_Down ran out (it stays BACKUP).
      const t0 = performance.now();
      const [tx0, rx0] = [await count(0, 'tx'), await count(1, 'rx')];
      const tx1 = await waitFor('40 adverts sent by the MASTER', async () => {
        const tx = await count(0, 'tx');
        return tx - tx0 >= 40 ? tx : undefined;
      }, 30_000, 200);
      const seconds = (performance.now() - t0) / 1000;
      expect((tx1 - tx0) / seconds).toBeLessThan(12);
      // The BACKUP absorbs the unchanged adverts in native code (no JS per
      // advert), and still counts each one.
      const rx1 = await waitFor('the BACKUP to count the adverts sent', async () => {
        const rx = await count(1, 'rx');
        return rx - rx0 >= tx1 - tx0 ? rx : undefined;
      }, 10_000, 200);
      expect((rx1 - rx0) / ((performance.now() - t0) / 1000)).toBeLessThan(12);
      expect(await site.state(0)).toBe('MASTER');
      expect(await site.state(1)).toBe('BACKUP');

      // A bad copy of the master's advert (its VRRP checksum broken), sent by
      // the client with the master's source address: it is not absorbed,
      // it is counted as invalid, and the BACKUP stays BACKUP.
      const invalid = async (): Promise<number> =>
        metricSum(await site.metrics(1), 'vipd_vrrp_rx_invalid_total', { instance: 'web', reason: 'checksum' });
      const cap = site.lbs[1].capture('eth0', `ip proto ${VRRP_PROTOCOL}`, { count: 1, timeoutMs: 5000 });
      await cap.ready;
      const [frame] = await cap.frames;
      if (!frame) throw new Error('no advert captured at lb2');
      const bad = Buffer.from(frame);
      bad[14 + 20 + 6] ^= 0xff; // the VRRP checksum's first byte
      const before = await invalid();
      const send = `import socket,sys; s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(("eth0", 0)); s.send(bytes.fromhex(sys.argv[1]))`;
      await site.client.exec('python3', ['-c', send, bad.toString('hex')]);
      const until = Date.now() + 3000;
      while ((await invalid()) === before && Date.now() < until) await sleep(50);
      expect(await invalid()).toBe(before + 1);
      expect(await site.state(1)).toBe('BACKUP');

      await site.call(0, 'priority', { instance: 'web', priority: 50 });
      await site.waitState(1, 'MASTER', 5000);
      await site.waitState(0, 'BACKUP', 5000);
      // lb2's rx also counts lb1's adverts it heard as MASTER, before it stepped down.
      expect(await count(0, 'tx')).toBe(await count(1, 'rx'));
    } finally {
      await site.cleanup();
    }
  }, 90_000);
});
