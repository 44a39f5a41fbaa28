/**
 * vipd with `vmac: true` against FRR's vrrpd (Debian frr 8.4), which always
 * uses the virtual MAC: vipd on lb1 (150), vrrpd on lb2 (100), VRRPv3 at
 * 100 ms, vrid 51, IPv4 (00:00:5e:00:01:33) and IPv6 (00:00:5e:00:02:33).
 * What a user checks:
 * - they agree on who is MASTER (vrrpd counts vipd's adverts and stays
 *   Backup; vipd rejects none of vrrpd's);
 * - the client resolves the VIP to the virtual MAC and reaches the service
 *   through it, and a ping to the VIP is answered by vipd's host (frames to
 *   the virtual MAC that XDP passes up reach its kernel);
 * - across a failover to vrrpd and back (vipd SIGKILL, vipd restarted and
 *   preempting) the client's neighbour entry for the VIP never changes, and
 *   a fresh resolution gives the same MAC each time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Site } from '../../scripts/topology.js';
import * as vipClient from './fixtures/vip-client.js';
import { FrrVrrpd, frrVmac, frrVrrpdUnavailable } from '../helpers/frr-vrrpd.js';
import { netnsUnavailable } from '../helpers/netns.js';

const unavailable = netnsUnavailable() ?? frrVrrpdUnavailable();

for (const family of [4, 6] as const) {
  const VRID = 51;
  const VMAC = frrVmac(VRID, family);

  describe.skipIf(unavailable !== undefined)(`vipd vmac <-> FRR vrrpd, IPv${family}`, () => {
    let site: Site;
    let frr: FrrVrrpd;
    const downMs = 5000;

    const clientVipMac = () => vipClient.clientVipMac(site);
    const freshVipMac = () => vipClient.freshVipMac(site);
    const greeting = () => vipClient.greeting(site);

    async function startVipd(): Promise<void> {
      // Generic XDP: a veth in native mode hands XDP an skb whose packet type
      // the peer's transmit already set (OTHERHOST for the virtual MAC) and
      // keeps it after XDP_PASS whatever the program wrote; generic XDP, like
      // a NIC's native XDP (which runs before the skb exists), derives it from
      // the frame as the program left it.
      site.writeConfig(0, site.config(0).replace('mode: native', 'mode: generic'));
      await vipClient.startVipd(site, 0, { writeConfig: false });
    }

    async function vipdRejected(): Promise<string[]> {
      const text = await site.metrics(0);
      return text.split('\n').filter((l) => l.startsWith('vipd_vrrp_rx_invalid_total{') && !/\s0$/.test(l));
    }

    beforeAll(async () => {
      site = await Site.create({
        label: `frrvmac${family}`,
        family,
        version: 3,
        advertInterval: 0.1,
        priorities: [150, 100],
        vipdHosts: [true, false],
        healthCheck: 'none',
        instanceExtra: '\n    vmac: true',
      });
      // The VIP on lb1's lo (as on a DR real server), so lb1's kernel answers
      // a ping to it; XDP answers ARP/NDP for it, eth0 never does.
      site.lbs[0].execSync('sysctl', ['-qw', 'net.ipv4.conf.eth0.arp_ignore=1', 'net.ipv4.conf.eth0.arp_announce=2']);
      site.lbs[0].ip(['addr', 'add', `${site.vip}/${family === 4 ? 32 : 128}`, 'dev', 'lo', ...(family === 6 ? ['nodad'] : [])]);
      // Only the macvlan that holds the VIP may answer for it on vrrpd's host
      // (what an FRR user sets: eth0 would answer ARP with its own MAC).
      site.lbs[1].execSync('sysctl', ['-qw', 'net.ipv4.conf.eth0.arp_ignore=1', 'net.ipv4.conf.eth0.arp_announce=2']);
      frr = await FrrVrrpd.start(site.lbs[1], {
        dir: site.lab.tmpDir(),
        vrid: VRID,
        priority: 100,
        advertIntervalMs: 100,
        vips: [site.vip],
        family,
      });
    });

    afterAll(async () => {
      await frr?.stop();
      await site?.cleanup();
    });

    it('vipd MASTER, vrrpd Backup: the VIP resolves to the virtual MAC and the service answers through it', async () => {
      await startVipd();
      await site.waitState(0, 'MASTER', downMs);
      await frr.waitStatus('Backup', downMs);
      const heard = frr.state().stats.adverRx;
      expect(frr.state().vmac).toBe(VMAC);
      expect(await freshVipMac()).toBe(VMAC);
      expect(await greeting()).toMatch(/^rs[12] /);
      // A ping to the VIP reaches lb1's kernel through the virtual MAC: the
      // XDP program re-addresses what it passes up to eth0's own MAC.
      const ping = await site.client.exec('ping', [...(family === 6 ? ['-6'] : []), '-c', '1', '-W', '2', site.vip]);
      expect(ping.code, ping.stdout + ping.stderr).toBe(0);
      // vrrpd keeps hearing vipd (its Master_Down never fires).
      const until = Date.now() + 5000;
      while (frr.state().stats.adverRx < heard + 5 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(frr.state().stats.adverRx).toBeGreaterThanOrEqual(heard + 5);
      expect(frr.state().status).toBe('Backup');
      expect(await vipdRejected(), 'vipd rejected adverts').toEqual([]);
    });

    it('vipd SIGKILL: vrrpd takes over with the same MAC', async () => {
      expect(clientVipMac()).toBe(VMAC);
      await site.stopDaemon(0, 'SIGKILL');
      await frr.waitStatus('Master', downMs);
      expect(clientVipMac()).toBe(VMAC);
      expect(await freshVipMac(), `lb2 eth0 is ${site.lbMac(1)}`).toBe(VMAC);
    });

    it('vipd back at 150 preempts vrrpd; the client still holds the same MAC and reaches the service', async () => {
      await startVipd();
      await site.waitState(0, 'MASTER', downMs);
      await frr.waitStatus('Backup', downMs);
      expect(clientVipMac()).toBe(VMAC);
      expect(await greeting()).toMatch(/^rs[12] /);
      expect(await freshVipMac()).toBe(VMAC);
      expect(await vipdRejected(), 'vipd rejected adverts').toEqual([]);
    });
  });
}
