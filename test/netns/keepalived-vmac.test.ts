/**
 * The VRRP virtual MAC (instances[].vmac) against keepalived's `use_vmac`:
 * vipd on lb1 (150), keepalived on lb2 (100), VRRPv3 at 100 ms over IPv4
 * (vrid 51 -> 00:00:5e:00:01:33) and over IPv6 (00:00:5e:00:02:33). What a
 * user checks:
 * - vipd's adverts leave from the virtual MAC (and are valid IPv4: the frame
 *   is built by vipd, header checksum included), and the virtual MAC is in
 *   lb1's eth0 unicast filter while vipd runs, gone once it is not;
 * - the client resolves the VIP to the virtual MAC and reaches the service
 *   through it (frames to the virtual MAC are taken and forwarded);
 * - across a failover to keepalived and back (vipd SIGKILL, vipd restarted and
 *   preempting) the client's neighbour entry for the VIP never changes, and
 *   a fresh ARP resolution gives the same MAC each time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Site } from '../../scripts/topology.js';
import * as vipClient from './fixtures/vip-client.js';
import { Keepalived } from '../helpers/keepalived.js';
import { decodeAdvert, VRRP_PROTOCOL } from '../../src/vrrp/index.js';
import { packetMeta, parseEthernetFrame } from '../model/vrrp-frame.js';
import { interopUnavailable } from './keepalived-interop.js';

for (const family of [4, 6] as const) {
  // vrid 51
  const VMAC = family === 4 ? '00:00:5e:00:01:33' : '00:00:5e:00:02:33';

  describe.skipIf(interopUnavailable())(`vipd vmac <-> keepalived use_vmac, IPv${family}`, () => {
    let site: Site;
    let ka: Keepalived;
    const downMs = 5000;

    const clientVipMac = () => vipClient.clientVipMac(site);
    const freshVipMac = () => vipClient.freshVipMac(site);
    const greeting = () => vipClient.greeting(site);
    const startVipd = () => vipClient.startVipd(site, 0);

    function unicastFilter(i: number): string {
      return site.lbs[i].execSync('bridge', ['fdb', 'show', 'dev', 'eth0']);
    }

    beforeAll(async () => {
      site = await Site.create({
        label: `kavmac${family}`,
        family,
        version: 3,
        advertInterval: 0.1,
        priorities: [150, 100],
        vipdHosts: [true, false],
        healthCheck: 'none',
        instanceExtra: '\n    vmac: true',
      });
      // keepalived's host: only the macvlan holding the VIP may answer ARP for
      // it. keepalived 2.2.7 leaves eth0's arp_ignore at 0 here, so eth0 would
      // answer too, with its own MAC (what a keepalived user sets by hand).
      // (IPv6 needs nothing: Linux answers a neighbour solicitation only for an
      // address on the interface it arrived on.)
      site.lbs[1].execSync('sysctl', ['-qw', 'net.ipv4.conf.eth0.arp_ignore=1', 'net.ipv4.conf.eth0.arp_announce=2']);
      ka = await Keepalived.start(site.lbs[1], {
        dir: site.lab.tmpDir(),
        priority: 100,
        advertInterval: 0.1,
        vrid: 51,
        vips: [`${site.vip}/${family === 6 ? 64 : 32}`],
        useVmac: true,
      });
    });

    afterAll(async () => {
      await ka?.stop().catch(() => ka.crash());
      await site?.cleanup();
    });

    it('vipd MASTER: adverts from the virtual MAC, the VIP resolves to it, the service answers through it', async () => {
      await startVipd();
      await site.waitState(0, 'MASTER', downMs);
      await ka.waitState('BACKUP');
      const cap = site.lbs[1].capture('eth0', `${family === 6 ? 'ip6' : 'ip'} proto ${VRRP_PROTOCOL}`, { count: 3, timeoutMs: 5000 });
      await cap.ready;
      const frames = await cap.frames;
      expect(frames.length, 'adverts captured').toBe(3);
      for (const fr of frames) {
        const p = parseEthernetFrame(fr);
        if (!p.ok) throw new Error(`unparsable frame: ${p.reason}`);
        expect({ srcMac: p.packet.srcMac, dstMac: p.packet.dstMac, src: p.packet.src, ttl: p.packet.ttl }).toEqual({
          srcMac: VMAC,
          dstMac: family === 6 ? '33:33:00:00:00:12' : '01:00:5e:00:00:12',
          src: family === 6 ? site.lbLinkLocals[0] : site.lbAddrs[0],
          ttl: 255,
        });
        const d = decodeAdvert(p.packet.payload, packetMeta(p.packet));
        if (!d.ok) throw new Error(`advert rejected: ${d.reason}`);
        expect(d.advert.priority).toBe(150);
      }
      const dump = await ka.dump();
      expect(dump.data.master_priority).toBe(150);
      expect(unicastFilter(0)).toContain(VMAC);
      expect(await freshVipMac()).toBe(VMAC);
      expect(await greeting()).toMatch(/^rs[12] /);
    });

    it('vipd SIGKILL: keepalived takes over with the same MAC; the filter entry goes with vipd', async () => {
      const held = clientVipMac();
      expect(held).toBe(VMAC);
      await site.stopDaemon(0, 'SIGKILL');
      await ka.waitState('MASTER', downMs);
      expect(unicastFilter(0)).not.toContain(VMAC);
      // keepalived's adverts and GARPs come from the same MAC: the client's entry is still right.
      expect(clientVipMac()).toBe(VMAC);
      expect(await freshVipMac(), `lb2 eth0 is ${site.lbMac(1)}`).toBe(VMAC);
    });

    it('vipd back at 150 preempts keepalived; the client still holds the same MAC and reaches the service', async () => {
      await startVipd();
      await site.waitState(0, 'MASTER', downMs);
      await ka.waitState('BACKUP');
      expect(clientVipMac()).toBe(VMAC);
      expect(await greeting()).toMatch(/^rs[12] /);
      expect(await freshVipMac()).toBe(VMAC);
      const text = await site.metrics(0);
      const invalid = text.split('\n').filter((l) => l.startsWith('vipd_vrrp_rx_invalid_total{') && !/\s0$/.test(l));
      expect(invalid, 'vipd rejected adverts').toEqual([]);
    });
  });
}
