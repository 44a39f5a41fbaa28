/**
 * End to end through real namespaces: a client, an LB host running vipd's
 * XDP program (native, on a veth), and two real servers with the VIP on lo,
 * all on one bridge. Real TCP connections to the VIP must reach both real
 * servers, which must see the client's own address (direct routing).
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
const PORT = 8080;
const CONNECTIONS = 24;

const why = netnsUnavailable() ?? (haveCommand('ethtool') ? undefined : 'ethtool is not installed');

const serverScript = (name: string) => `
  const net = require('node:net');
  const srv = net.createServer((s) => { s.end('${name} ' + s.remoteAddress + '\\n'); });
  srv.listen(${PORT}, '0.0.0.0', () => console.log('ready'));`;

const clientScript = `
  const net = require('node:net');
  const one = () => new Promise((resolve, reject) => {
    let data = '';
    const s = net.connect({ host: '${VIP}', port: ${PORT} });
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
    const hosts: [Namespace, string][] = [
      [client, '10.77.0.1'],
      [lb, '10.77.0.2'],
      [reals[0], '10.77.0.11'],
      [reals[1], '10.77.0.12'],
    ];
    const xdpPass = join(packageRoot(), 'out', 'bpf', 'xdp_pass.bpf.o');
    hosts.forEach(([ns, addr], i) => {
      sw.attach(ns, 'eth0');
      ns.addr('eth0', `${addr}/24`);
      sw.ns.ip(['link', 'set', 'dev', `p${i}`, 'xdpdrv', 'obj', xdpPass, 'sec', 'xdp']);
    });
    client.execSync('ethtool', ['-K', 'eth0', 'tx', 'off']);
    for (const r of reals) {
      r.ip(['addr', 'add', `${VIP}/32`, 'dev', 'lo']);
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
    dp = await Dataplane.open({ pinDir, limits: { services: 2, reals: 8, instances: 8, vips: 16 } });
    const progPin = join(pinDir, 'vipd_xdp');
    dp.program.pin(progPin);
    lb.ip(['link', 'set', 'dev', 'eth0', 'xdpdrv', 'pinned', progPin]);
    const [{ ifindex }] = lb.ipJson<{ ifindex: number }[]>('link show dev eth0');
    dp.enableInterface(ifindex, lb.mac('eth0'));
    reals.forEach((r, i) => dp!.setReal(i, { mac: r.mac('eth0'), address: `10.77.0.${11 + i}` }));
    dp.setVip(VIP, 0);
    dp.activate(0, 60, ifindex);
    dp.addService({ vip: VIP, port: PORT, protocol: 'tcp', instance: 0 });
    await dp.setBackends({ vip: VIP, port: PORT, protocol: 'tcp' }, [
      { real: 0, key: '10.77.0.11', weight: 1 },
      { real: 1, key: '10.77.0.12', weight: 1 },
    ]);

    await Promise.all(reals.map((r, i) => waitReady(r.spawn(process.execPath, ['-e', serverScript(`r${i + 1}`)]))));
  });

  afterAll(async () => {
    dp?.close();
    await lab?.cleanup();
  });

  it('real TCP connections through the VIP reach both real servers with the client address', async () => {
    const res = await client.exec(process.execPath, ['-e', clientScript], { timeoutMs: 40_000 });
    expect(res.stderr).toBe('');
    const lines = JSON.parse(res.stdout) as string[];
    expect(lines.filter((l) => l.startsWith('error'))).toEqual([]);
    const byServer = new Map<string, number>();
    for (const l of lines) {
      const [server, remote] = l.split(' ');
      expect(remote).toBe('10.77.0.1');
      byServer.set(server, (byServer.get(server) ?? 0) + 1);
    }
    expect([...byServer.keys()].sort()).toEqual(['r1', 'r2']);

    const c = dp!.counters();
    expect(c.verdicts.arp_reply.packets).toBeGreaterThanOrEqual(1n);
    expect(c.verdicts.forward.packets).toBeGreaterThanOrEqual(BigInt(CONNECTIONS * 3));
    expect((c.reals.get(0)?.packets ?? 0n) + (c.reals.get(1)?.packets ?? 0n)).toBe(c.verdicts.forward.packets);
    // The client learnt the VIP at the LB's MAC, from the program's ARP reply.
    expect(client.ip('neigh show ' + VIP)).toContain(lb.mac('eth0'));
  });

  it('stops answering when the instance is released', async () => {
    dp!.deactivate(0);
    client.ip(['neigh', 'flush', 'dev', 'eth0']);
    const res = await client.exec('ping', ['-c', '1', '-W', '1', VIP], { timeoutMs: 5000 });
    expect(res.code).not.toBe(0);
    expect(dp!.counters().verdicts.pass_inactive.packets).toBeGreaterThanOrEqual(1n);
  });
});
