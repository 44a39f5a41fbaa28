/**
 * End to end through real namespaces: a client, an LB host running vipd's
 * XDP program (native, on a veth), and two real servers with the VIPs on lo,
 * all on one bridge. Real TCP connections to the VIP must reach both real
 * servers, which must see the client's own address (direct routing): over
 * IPv4 (the client finds the VIP by ARP, answered by the program) and over
 * IPv6 (by neighbour solicitation, answered by the program: the LB holds
 * no VIP address, and a real server does not answer for an address on lo).
 *
 * Facts of veth this relies on (../shared/DESIGN.md "Testing"): XDP_TX
 * reaches the peer only when the peer runs an XDP program, so every bridge
 * port gets xdp_pass; and the client turns off TX checksum offload, since a
 * CHECKSUM_PARTIAL frame sent back out by XDP would arrive with a bad sum.
 */
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dataplane } from '../../src/dataplane/manager.js';
import { packageRoot } from '../../src/native.js';
import { NetnsLab, haveCommand, netnsUnavailable, type Namespace } from '../helpers/netns.js';

const VIP = '10.77.0.100';
const VIP6 = 'fd77::100';
const PORT = 8080;
const CONNECTIONS = 24;

const why = netnsUnavailable() ?? (haveCommand('ethtool') ? undefined : 'ethtool is not installed');

const serverScript = (name: string) => `
  const net = require('node:net');
  const answer = (s) => { s.end('${name} ' + s.remoteAddress + '\\n'); };
  let up = 0;
  const ready = () => { if (++up === 2) console.log('ready'); };
  net.createServer(answer).listen({ port: ${PORT}, host: '0.0.0.0' }, ready);
  net.createServer(answer).listen({ port: ${PORT}, host: '::', ipv6Only: true }, ready);`;

const clientScript = (vip: string) => `
  const net = require('node:net');
  const one = () => new Promise((resolve, reject) => {
    let data = '';
    const s = net.connect({ host: '${vip}', port: ${PORT} });
    s.setTimeout(3000, () => s.destroy(new Error('timeout')));
    s.on('data', (d) => (data += d));
    s.on('end', () => resolve(data.trim()));
    s.on('error', reject);
  });
  (async () => {
    const out = [];
    for (let i = 0; i < ${CONNECTIONS}; i++) out.push(await one().catch((e) => 'error ' + e.message));
    console.log(JSON.stringify(out));
  })();`;

function waitReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('ready')) resolve();
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
    setTimeout(() => reject(new Error(`server not ready: ${err}`)), 10_000).unref();
  });
}

describe.skipIf(why)(`XDP data plane end to end${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: NetnsLab;
  let dp: Dataplane | undefined;
  let client: Namespace;
  let lb: Namespace;
  const reals: Namespace[] = [];

  beforeAll(async () => {
    lab = new NetnsLab('dp');
    const sw = lab.bridge();
    client = lab.namespace('cl');
    lb = lab.namespace('lb');
    reals.push(lab.namespace('r1'), lab.namespace('r2'));
    const hosts: [Namespace, string, string][] = [
      [client, '10.77.0.1', 'fd77::1'],
      [lb, '10.77.0.2', 'fd77::2'],
      [reals[0], '10.77.0.11', 'fd77::11'],
      [reals[1], '10.77.0.12', 'fd77::12'],
    ];
    const xdpPass = join(packageRoot(), 'out', 'test', 'progs', 'xdp_pass.bpf.o');
    hosts.forEach(([ns, addr, addr6], i) => {
      sw.attach(ns, 'eth0');
      ns.addr('eth0', `${addr}/24`);
      ns.addr('eth0', `${addr6}/64`);
      sw.ns.attachXdpObject(`p${i}`, xdpPass);
    });
    client.execSync('ethtool', ['-K', 'eth0', 'tx', 'off']);
    for (const r of reals) {
      r.ip(['addr', 'add', `${VIP}/32`, 'dev', 'lo']);
      r.addr('lo', `${VIP6}/128`);
      r.execSync('sysctl', [
        '-qw',
        'net.ipv4.conf.all.arp_ignore=1',
        'net.ipv4.conf.all.arp_announce=2',
        'net.ipv4.conf.eth0.arp_ignore=1',
        'net.ipv4.conf.eth0.arp_announce=2',
      ]);
    }

    // The program is loaded here and attached inside the LB namespace (an
    // ifindex means something only there) from its pin.
    const pinDir = lab.bpffs();
    dp = await Dataplane.open({ pinDir, sizes: { services: 2, reals: 8, instances: 8, vips: 16, ringSlots: 4096 } });
    const progPin = join(pinDir, 'vipd_xdp');
    dp.program.pin(progPin);
    lb.ip(['link', 'set', 'dev', 'eth0', 'xdpdrv', 'pinned', progPin]);
    const [{ ifindex }] = lb.ipJson<{ ifindex: number }[]>('link show dev eth0');
    dp.enableInterface(ifindex, lb.mac('eth0'));
    reals.forEach((r, i) => dp!.setReal(i, { mac: r.mac('eth0'), address: `10.77.0.${11 + i}` }));
    reals.forEach((r, i) => dp!.setReal(2 + i, { mac: r.mac('eth0'), address: `fd77::${11 + i}` }));
    dp.setVip(VIP, 0);
    dp.setVip(VIP6, 0);
    dp.activate(0, 60, ifindex);
    dp.addService({ vip: VIP, port: PORT, protocol: 'tcp', instance: 0, backends: 2 });
    await dp.setBackends({ vip: VIP, port: PORT, protocol: 'tcp' }, [
      { real: 0, key: '10.77.0.11', weight: 1 },
      { real: 1, key: '10.77.0.12', weight: 1 },
    ]);
    dp.addService({ vip: VIP6, port: PORT, protocol: 'tcp', instance: 0, backends: 2 });
    await dp.setBackends({ vip: VIP6, port: PORT, protocol: 'tcp' }, [
      { real: 2, key: 'fd77::11', weight: 1 },
      { real: 3, key: 'fd77::12', weight: 1 },
    ]);

    await Promise.all(reals.map((r, i) => waitReady(r.spawn(process.execPath, ['-e', serverScript(`r${i + 1}`)]))));
  });

  afterAll(async () => {
    dp?.close();
    await lab?.cleanup();
  });

  /** CONNECTIONS connections from the client to vip: every one answered, by both real servers, who saw clientAddr. */
  async function connectThrough(vip: string, clientAddr: string): Promise<void> {
    const res = await client.exec(process.execPath, ['-e', clientScript(vip)], { timeoutMs: 40_000 });
    expect(res.stderr).toBe('');
    const lines = JSON.parse(res.stdout) as string[];
    expect(lines.filter((l) => l.startsWith('error'))).toEqual([]);
    const servers = new Set<string>();
    for (const l of lines) {
      const [server, remote] = l.split(' ');
      expect(remote).toBe(clientAddr);
      servers.add(server);
    }
    expect([...servers].sort()).toEqual(['r1', 'r2']);
  }

  it('real TCP connections through the VIP reach both real servers with the client address', async () => {
    await connectThrough(VIP, '10.77.0.1');

    const c = dp!.counters();
    expect(c.verdicts.arp_reply.packets).toBeGreaterThanOrEqual(1n);
    expect(c.verdicts.forward.packets).toBeGreaterThanOrEqual(BigInt(CONNECTIONS * 3));
    expect((c.reals.get(0)?.packets ?? 0n) + (c.reals.get(1)?.packets ?? 0n)).toBe(c.verdicts.forward.packets);
    // The client learnt the VIP at the LB's MAC, from the program's ARP reply.
    expect(client.ip('neigh show ' + VIP)).toContain(lb.mac('eth0'));
  });

  it('the same over IPv6: the program answers the neighbour solicitation and forwards', async () => {
    const before = dp!.counters();
    await connectThrough(VIP6, 'fd77::1');

    const c = dp!.counters();
    expect(c.verdicts.nd_advert.packets).toBeGreaterThan(before.verdicts.nd_advert.packets);
    const sent6 = (c.reals.get(2)?.packets ?? 0n) + (c.reals.get(3)?.packets ?? 0n);
    expect(sent6).toBeGreaterThanOrEqual(BigInt(CONNECTIONS * 3));
    expect(c.verdicts.forward.packets - before.verdicts.forward.packets).toBe(sent6);
    // Learnt from the program's neighbour advertisement.
    expect(client.ip('-6 neigh show ' + VIP6)).toContain(lb.mac('eth0'));
  });

  it('a routed instance (announce: bgp) answers no ARP and no NS for its VIPs, and still forwards', async () => {
    const [{ ifindex }] = lb.ipJson<{ ifindex: number }[]>('link show dev eth0');
    dp!.activate(0, 60, ifindex, undefined, { routed: true });
    try {
      client.ip(['neigh', 'flush', 'dev', 'eth0']);
      const before = dp!.counters();
      expect((await client.exec('ping', ['-c', '1', '-W', '1', VIP], { timeoutMs: 5000 })).code).not.toBe(0);
      expect((await client.exec('ping', ['-6', '-c', '1', '-W', '1', VIP6], { timeoutMs: 5000 })).code).not.toBe(0);
      const c = dp!.counters();
      expect(c.verdicts.arp_reply.packets).toBe(before.verdicts.arp_reply.packets);
      expect(c.verdicts.nd_advert.packets).toBe(before.verdicts.nd_advert.packets);
      expect(c.verdicts.pass_routed.packets).toBeGreaterThanOrEqual(before.verdicts.pass_routed.packets + 2n);
      expect(client.ip('neigh show ' + VIP)).not.toContain(lb.mac('eth0'));
      // A router would send to the LB's MAC as its BGP next hop: a permanent
      // neighbour entry stands in for it. Forwarding is unchanged.
      client.ip(['neigh', 'replace', VIP, 'lladdr', lb.mac('eth0'), 'dev', 'eth0', 'nud', 'permanent']);
      await connectThrough(VIP, '10.77.0.1');
    } finally {
      client.ip(['neigh', 'del', VIP, 'dev', 'eth0']);
      dp!.activate(0, 60, ifindex);
    }
  });

  it('stops answering when the instance is released', async () => {
    dp!.deactivate(0);
    client.ip(['neigh', 'flush', 'dev', 'eth0']);
    const res = await client.exec('ping', ['-c', '1', '-W', '1', VIP], { timeoutMs: 5000 });
    expect(res.code).not.toBe(0);
    expect(dp!.counters().verdicts.pass_inactive.packets).toBeGreaterThanOrEqual(1n);
  });
});
