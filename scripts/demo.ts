/**
 * `npm run demo`: vipd in a site built from network namespaces: a client,
 * two vipd hosts sharing VIP 10.99.0.100, two real servers. It shows who is
 * MASTER, sends TCP and UDP traffic through the VIP, kills the MASTER's
 * link, and prints what the client saw: the failover time, the probes lost,
 * and whether every TCP connection stayed on its real server. Everything it
 * made is removed at the end, on error, and on Ctrl-C. With `--bgp`:
 * three hosts behind a BGP router instead (scripts/demo-bgp.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { StatusResult } from '../src/daemon/api.js';
import { packageRoot } from '../src/native.js';
import { netnsUnavailable } from '../test/helpers/netns.js';
import { runBgpDemo } from './demo-bgp.js';
import { LB_ADDRS, SERVICE_PORT, Site, VIP, sleep } from './topology.js';

const ADVERT_INTERVAL = 0.05;
const TRAFFIC_SECONDS = 6;
const KILL_AFTER_MS = 2000;
const TCP_CONNECTIONS = 6;
const UDP_EVERY_MS = 2;

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (s: string) => console.log(`\n${bold('==>')} ${s}`);

/** Runs in the client namespace: UDP probes and long-lived TCP connections, bounded in time and count. */
const clientScript = `
const dgram = require('node:dgram');
const net = require('node:net');
const end = Date.now() + ${TRAFFIC_SECONDS * 1000};
const udp = dgram.createSocket('udp4');
const sentAt = new Map();
let seq = 0, received = 0, lastReply = 0, maxGap = 0, gapAt = 0;
const t0 = Date.now();
udp.on('message', (m) => {
  const now = Date.now();
  const n = Number(String(m).split(' ')[1]);
  if (!sentAt.has(n)) return;
  sentAt.delete(n);
  received++;
  if (lastReply && now - lastReply > maxGap) { maxGap = now - lastReply; gapAt = lastReply - t0; }
  lastReply = now;
});
const probe = setInterval(() => {
  if (Date.now() >= end) return clearInterval(probe);
  sentAt.set(seq, Date.now());
  udp.send(String(seq++), ${SERVICE_PORT}, '${VIP}');
}, ${UDP_EVERY_MS});
const conns = [];
for (let i = 0; i < ${TCP_CONNECTIONS}; i++) {
  const c = { servers: new Set(), lines: 0, error: null, closed: false };
  conns.push(c);
  const s = net.connect({ host: '${VIP}', port: ${SERVICE_PORT} });
  let buf = '';
  s.on('data', (d) => {
    buf += d;
    let k;
    while ((k = buf.indexOf('\\n')) >= 0) { c.servers.add(buf.slice(0, k).split(' ')[0]); c.lines++; buf = buf.slice(k + 1); }
  });
  s.on('error', (e) => (c.error = e.code || e.message));
  s.on('close', () => (c.closed = true));
  const tick = setInterval(() => {
    if (Date.now() >= end) { clearInterval(tick); s.end(); return; }
    if (!s.destroyed) s.write('ping\\n');
  }, 20);
}
setTimeout(() => {
  udp.close();
  console.log(JSON.stringify({
    udp: { sent: seq, received, lost: seq - received, maxGapMs: maxGap, gapAtMs: gapAt },
    tcp: conns.map((c) => ({ servers: [...c.servers], lines: c.lines, error: c.error })),
  }));
}, ${TRAFFIC_SECONDS * 1000 + 1500});
`;

function printStatus(label: string, s: StatusResult): void {
  for (const i of s.instances) {
    console.log(`  ${label}: instance ${i.name} vrid ${i.vrid} ${bold(i.state.padEnd(7))} priority ${i.effectivePriority}`);
  }
}

function preflight(): string | undefined {
  if (process.getuid?.() !== 0) return 'the demo builds network namespaces: run it as root';
  const why = netnsUnavailable();
  if (why) return why;
  for (const f of ['out/bpf/vipd.bpf.o', 'out/test/progs/xdp_pass.bpf.o', 'build/Release/vipd_native.node', 'dist/src/daemon/main.js']) {
    if (!existsSync(join(packageRoot(), f))) return `${f} is missing: run \`npm run build\` (or scripts/bootstrap)`;
  }
  return undefined;
}

async function main(): Promise<number> {
  const missing = preflight();
  if (missing) {
    console.error(`demo: ${missing}`);
    return 3;
  }
  // `npm run demo -- --bgp`: the active-active variant behind a BGP router (scripts/demo-bgp.ts).
  if (process.argv.includes('--bgp')) return runBgpDemo();
  step('Building the site: client, lb1, lb2 (vipd), rs1, rs2 (real servers) on one bridge');
  const site = await Site.create({ label: 'demo', advertInterval: ADVERT_INTERVAL, healthCheck: 'tcp' });
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    console.log('\ninterrupted: cleaning up');
    void site.cleanup().then(() => process.exit(130));
  });
  try {
    console.log(`  VIP ${VIP}, service tcp+udp :${SERVICE_PORT}, VRRPv3 adverts every ${ADVERT_INTERVAL * 1000} ms`);
    step('Starting vipd on lb1 (priority 150) and lb2 (priority 100)');
    site.startDaemon(0);
    site.startDaemon(1);
    await site.waitState(0, 'MASTER');
    await site.waitState(1, 'BACKUP');
    printStatus('lb1', await site.status(0));
    printStatus('lb2', await site.status(1));
    step('vipctl status on lb1');
    const vipctl = await site.lbs[0].exec(process.execPath, [join(packageRoot(), 'bin', 'vipctl'), '--socket', site.socket(0), 'status']);
    console.log(vipctl.stdout.replace(/^/gm, '  ').trimEnd());

    step(`Client traffic for ${TRAFFIC_SECONDS} s: UDP probe every ${UDP_EVERY_MS} ms, ${TCP_CONNECTIONS} TCP connections`);
    const client = site.client.exec(process.execPath, ['-e', clientScript], { timeoutMs: (TRAFFIC_SECONDS + 10) * 1000 });
    await sleep(KILL_AFTER_MS);
    step(`Killing the MASTER's link (ip link set eth0 down on lb1, ${LB_ADDRS[0]})`);
    site.lbs[0].ip('link set eth0 down');
    await site.waitState(1, 'MASTER', 10_000);
    const lb2 = await site.status(1);
    printStatus('lb2', lb2);
    const failover = lb2.instances[0]?.lastFailoverSeconds;
    const res = await client;
    if (interrupted) return 130;
    const out = JSON.parse(res.stdout.trim().split('\n').pop() ?? '{}') as {
      udp: { sent: number; received: number; lost: number; maxGapMs: number };
      tcp: { servers: string[]; lines: number; error: string | null }[];
    };

    step('What the client saw');
    if (failover != null) console.log(`  lb2 won the election and sent its first announcement ${(failover * 1000).toFixed(1)} ms later`);
    console.log(`  UDP: ${out.udp.sent} probes, ${out.udp.lost} lost, longest gap ${out.udp.maxGapMs} ms (the failover as the client felt it)`);
    const kept = out.tcp.filter((c) => c.servers.length === 1 && !c.error).length;
    out.tcp.forEach((c, i) =>
      console.log(`  TCP #${i + 1}: ${c.lines} replies from ${c.servers.join(', ') || 'nobody'}${c.error ? ` (error ${c.error})` : ''}`),
    );
    console.log(`  ${kept}/${out.tcp.length} TCP connections stayed on their real server through the failover`);
    step('Cleaning up (daemons, namespaces, pins)');
    return kept === out.tcp.length ? 0 : 1;
  } finally {
    if (!interrupted) await site.cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
