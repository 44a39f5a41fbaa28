/**
 * The interop scenario shared by test/netns/keepalived-*.test.ts: vipd on
 * lb1, a real keepalived (Debian 2.2.7) on lb2, one VRRP instance (vrid 51,
 * VIP 10.99.0.100, or fd99::100 on an IPv6 site) in scripts/topology.ts's
 * Site. One file per flavour (v3 multicast, v3 unicast, v2 PASS, v3 IPv6
 * multicast) so vitest runs them side by side.
 *
 * The steps, in order (each waits for both sides' states):
 *   vipd 150 / keepalived 100: vipd wins.
 *   vipd SIGTERM (priority-0 advert) -> keepalived MASTER; vipd back -> preempts.
 *   vipd SIGKILL (crash, no goodbye)  -> keepalived MASTER after Master_Down; vipd back -> preempts.
 *   keepalived restarted at 200: keepalived preempts (it wins the other way).
 *   keepalived stop (priority-0)  -> vipd MASTER; keepalived back -> preempts.
 *   keepalived crash (VRRP child SIGKILLed) -> vipd MASTER; keepalived back -> preempts.
 * Before each keepalived or vipd process goes away, its counters are read:
 * keepalived's error counters 0 and advert_rcvd grown (JSON dump), vipd's
 * rx adverts grown and no vipd_vrrp_rx_invalid_total. On an IPv6 site the
 * MASTER's adverts are also captured at the other LB once per direction
 * (vipd's in the first step, keepalived's when it preempts at 200): VRRPv3
 * to ff02::12 from the sender's link-local address, hop limit 255.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LB_ADDRS, Site, metricSum } from '../../scripts/topology.js';
import { Keepalived, keepalivedErrors, keepalivedStateName, type KeepalivedOptions } from '../helpers/keepalived.js';
import { haveCommand, netnsUnavailable } from '../helpers/netns.js';
import { vrrpFilter } from '../helpers/pcap-filter.js';
import { waitFor } from '../helpers/wait.js';
import { decodeAdvert, VRRP_MULTICAST } from '../../src/vrrp/index.js';
import { packetMeta, parseEthernetFrame } from '../model/vrrp-frame.js';

export interface InteropFlavour {
  label: string;
  version: 2 | 3;
  /** Seconds (v2: whole seconds). */
  advertInterval: number;
  unicast?: boolean;
  password?: string;
  /**
   * 6: an IPv6 site (VIP fd99::100/64, VRRPv3 to ff02::12 from each LB's
   * link-local address, which is then the address each side knows the other
   * by). Default 4.
   */
  family?: 4 | 6;
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function interopUnavailable(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('keepalived') ? undefined : 'keepalived is not installed');
}

export function keepalivedInteropSuite(f: InteropFlavour): void {
  const why = interopUnavailable();
  describe.skipIf(why)(`vipd <-> keepalived: ${f.label}${why ? ` (skipped: ${why})` : ''}`, () => {
    const family = f.family ?? 4;
    let site: Site;
    let ka: Keepalived;
    /** keepalived's address as vipd sees it: its IPv4 address, or its link-local IPv6 source. */
    let kaAddr: string;
    /** Master_Down of the slower side plus margin: what a crash failover may take. */
    const downMs = (3 * f.advertInterval + 1) * 1000 + 3000;
    /** How long a few adverts may take to be heard on a loaded host. */
    const settleMs = 10 * f.advertInterval * 1000 + 10_000;

    /**
     * keepalived's counters: no errors, and more adverts received than at the
     * last check (`grew`; a MASTER keepalived hears nothing from a BACKUP vipd,
     * so after such a phase only "some since it started" is asked).
     */
    let lastRcvd = 0;
    async function checkKeepalived({ grew = true } = {}): Promise<void> {
      const d = await ka.dump();
      expect(keepalivedErrors(d.stats), `keepalived error counters: ${JSON.stringify(d.stats)}`).toEqual({});
      expect(d.stats.advert_rcvd).toBeGreaterThan(grew ? lastRcvd : 0);
      lastRcvd = d.stats.advert_rcvd;
    }

    /** vipd's metrics: adverts heard from keepalived, none rejected. */
    async function checkVipd(): Promise<void> {
      const text = await site.metrics(0);
      expect(metricSum(text, 'vipd_vrrp_adverts_total', { instance: 'web', direction: 'rx' })).toBeGreaterThan(0);
      const invalid = text.split('\n').filter((l) => l.startsWith('vipd_vrrp_rx_invalid_total{') && !/\s0$/.test(l));
      expect(invalid, 'vipd rejected adverts').toEqual([]);
    }

    /**
     * IPv6 only: what the MASTER on host `from` puts on the wire, as the other
     * LB receives it. The BACKUP sends nothing, so every VRRP frame seen is
     * the MASTER's.
     */
    async function checkWire6(from: 0 | 1, priority: number): Promise<void> {
      // Only the MASTER's adverts (its link-local to ff02::12): nothing else the kernel sends can fill the count.
      const cap = site.lbs[1 - from].capture('eth0', vrrpFilter(site.lbLinkLocals[from], VRRP_MULTICAST[6]), { count: 3, timeoutMs: 15_000 });
      await cap.ready;
      const frames = await cap.frames;
      expect(frames.length, 'adverts captured').toBe(3);
      for (const fr of frames) {
        const p = parseEthernetFrame(fr);
        if (!p.ok) throw new Error(`unparsable frame: ${p.reason}`);
        const { family, src, dst, ttl } = p.packet;
        expect({ family, src, dst, ttl }).toEqual({ family: 6, src: site.lbLinkLocals[from], dst: VRRP_MULTICAST[6], ttl: 255 });
        const d = decodeAdvert(p.packet.payload, packetMeta(p.packet));
        if (!d.ok) throw new Error(`advert from ${site.lbs[from].name} rejected: ${d.reason}`);
        expect({ version: d.advert.version, vrid: d.advert.vrid, priority: d.advert.priority, addresses: d.advert.addresses }).toEqual({
          version: 3,
          vrid: 51,
          priority,
          addresses: [site.vip],
        });
      }
    }

    /** Adverts vipd (lb1) has received in instance web. */
    async function vipdRx(): Promise<number> {
      return metricSum(await site.metrics(0), 'vipd_vrrp_adverts_total', { instance: 'web', direction: 'rx' });
    }

    /** Waits until vipd has received `more` adverts beyond now: a window of advert intervals as vipd lived them. */
    async function vipdHeardMore(more: number): Promise<void> {
      const since = await vipdRx();
      await waitFor(`vipd to hear ${more} more adverts`, async () => ((await vipdRx()) >= since + more ? true : undefined), settleMs);
    }

    /** Starts vipd on lb1 and waits until its control socket answers. */
    async function startVipd(): Promise<void> {
      site.startDaemon(0);
      const until = Date.now() + 15_000;
      while ((await site.state(0)) === undefined) {
        if (Date.now() > until) throw new Error(`vipd did not answer in 15 s: see ${site.logPath(0)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    async function restartKeepalived(priority: number): Promise<void> {
      if (ka.running) await ka.stop();
      ka.opts.priority = priority;
      lastRcvd = 0;
      await ka.start();
    }

    beforeAll(async () => {
      if (f.unicast && family === 6) throw new Error('keepalivedInteropSuite: the unicast flavour is IPv4 only');
      const extra = [
        f.unicast ? `\n    unicastPeers: [${LB_ADDRS[1]}]\n    unicastSource: ${LB_ADDRS[0]}` : '',
        f.password !== undefined ? `\n    auth: { type: pass, password: ${f.password} }` : '',
      ].join('');
      site = await Site.create({
        label: `ka${f.version}${f.unicast ? 'u' : ''}${family === 6 ? '6' : ''}`,
        version: f.version,
        family,
        advertInterval: f.advertInterval,
        priorities: [150, 100],
        vipdHosts: [true, false],
        healthCheck: 'none',
        instanceExtra: extra,
      });
      const opts: KeepalivedOptions = {
        dir: site.lab.tmpDir(),
        priority: 100,
        advertInterval: f.advertInterval,
        version: f.version,
        vrid: 51,
        vips: [`${site.vip}/${family === 6 ? 64 : 32}`],
        password: f.password,
        ...(f.unicast ? { unicastPeers: [LB_ADDRS[0]], unicastSource: LB_ADDRS[1] } : {}),
      };
      kaAddr = family === 6 ? site.lbLinkLocals[1] : site.lbAddrs[1];
      ka = await Keepalived.start(site.lbs[1], opts);
    });

    afterAll(async () => {
      await ka?.stop().catch(() => ka.crash());
      await site?.cleanup();
    });

    it('vipd at 150 beats keepalived at 100', async () => {
      await startVipd();
      await site.waitState(0, 'MASTER', downMs);
      await ka.waitState('BACKUP');
      // Stable: no flapping over a few adverts (keepalived heard three more from vipd).
      const heard = (await ka.dump()).stats.advert_rcvd;
      await waitFor('keepalived to hear 3 more adverts', async () => ((await ka.dump()).stats.advert_rcvd >= heard + 3 ? true : undefined), settleMs);
      expect(await site.state(0)).toBe('MASTER');
      const d = await ka.dump();
      expect(keepalivedStateName(d.data.state)).toBe('BACKUP');
      expect(d.data.master_priority).toBe(150);
      await checkKeepalived();
      await checkVipd();
      if (family === 6) await checkWire6(0, 150);
    });

    it('vipd SIGTERM: keepalived takes over at once (priority 0); vipd back preempts', async () => {
      await checkVipd();
      const before = (await ka.dump()).stats.pri_zero_rcvd;
      await site.stopDaemon(0, 'SIGTERM');
      await ka.waitState('MASTER', 1000 + f.advertInterval * 1000);
      expect((await ka.dump()).stats.pri_zero_rcvd).toBeGreaterThan(before);
      await startVipd();
      await site.waitState(0, 'MASTER', downMs);
      await ka.waitState('BACKUP');
      await checkKeepalived();
    });

    it('vipd SIGKILL: keepalived takes over after Master_Down; vipd back preempts', async () => {
      await checkVipd();
      await site.stopDaemon(0, 'SIGKILL');
      await ka.waitState('MASTER', downMs);
      await startVipd();
      await site.waitState(0, 'MASTER', downMs);
      await ka.waitState('BACKUP');
      await checkKeepalived();
      await checkVipd();
    });

    it('keepalived at 200 beats vipd at 150 (preempts vipd)', async () => {
      await checkKeepalived({ grew: false });
      await restartKeepalived(200);
      await ka.waitState('MASTER', downMs);
      await site.waitState(0, 'BACKUP', settleMs);
      // Stable: vipd, BACKUP, heard three more adverts from keepalived.
      await vipdHeardMore(3);
      expect(ka.state()).toBe('MASTER');
      expect(await site.state(0)).toBe('BACKUP');
      const st = await site.status(0);
      expect(st.instances[0].masterAddress).toBe(kaAddr);
      await checkKeepalived();
      await checkVipd();
      if (family === 6) await checkWire6(1, 200);
    });

    it('keepalived stop: vipd takes over at once (priority 0); keepalived back preempts', async () => {
      await checkKeepalived({ grew: false });
      await ka.stop();
      await site.waitState(0, 'MASTER', 1000 + f.advertInterval * 1000);
      expect((await site.status(0)).instances[0].lastReason ?? '').toMatch(new RegExp(`^priority 0 from ${escapeRe(kaAddr)} `));
      await ka.start();
      lastRcvd = 0;
      await ka.waitState('MASTER', downMs);
      await site.waitState(0, 'BACKUP', settleMs);
      await checkKeepalived();
      await checkVipd();
    });

    it('keepalived crash (VRRP child killed): vipd takes over after Master_Down; keepalived back preempts', async () => {
      await checkKeepalived({ grew: false });
      await ka.crash();
      await site.waitState(0, 'MASTER', downMs);
      const st = await site.status(0);
      expect(st.instances[0].lastReason ?? '').toMatch(new RegExp(`^no advert from ${escapeRe(kaAddr)} `));
      // keepalived removes stale VIPs when it starts; take them off now so lb2 does not answer ARP meanwhile.
      ka.removeVips();
      await ka.start();
      lastRcvd = 0;
      await ka.waitState('MASTER', downMs);
      await site.waitState(0, 'BACKUP', settleMs);
      await vipdHeardMore(3);
      await checkKeepalived();
      await checkVipd();
    });
  });
}
