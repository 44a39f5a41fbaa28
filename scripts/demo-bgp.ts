/**
 * `npm run demo -- --bgp`: three vipd hosts announce one VIP over BGP to a
 * BIRD 2 router doing ECMP (scripts/bgp-topology.ts). It shows the router's
 * multipath route, spreads client connections over the hosts, stops one
 * host gracefully (SIGTERM) and kills another (link down and SIGKILL), and
 * prints what the router and the client saw. Everything it made is removed
 * at the end, on error, and on Ctrl-C.
 */
import { BGP_LBS, BGP_PORT, BGP_VIP, BgpSite } from './bgp-topology.js';
import type { TrafficSummary } from '../test/netns/fixtures/daemon-site.js';

const CONNECTIONS = 24;
const LINE_EVERY_MS = 50;

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (s: string) => console.log(`\n${bold('==>')} ${s}`);
const longestGap = (s: TrafficSummary) => Math.max(0, ...s.conns.map((c) => c.maxGapMs));
/** Connections alive whose every answer came from the real server that greeted them. */
const kept = (s: TrafficSummary) => s.conns.filter((c) => !c.error && !c.closed && c.servers.length === 1).length;

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 45_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function runBgpDemo(): Promise<number> {
  step('Building the site: client | router (BIRD 2, ECMP) | lb1..lb3 (vipd, announce: bgp), rs1, rs2');
  const site = await BgpSite.create('demo-bgp');
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    console.log('\ninterrupted: cleaning up');
    void site.cleanup().then(() => process.exit(130));
  });
  const agent = site.trafficAgent();
  try {
    console.log(`  VIP ${BGP_VIP}:${BGP_PORT}/tcp, router 10.97.0.1 AS 65000 <-> vipd hosts AS 65001, BFD 100 ms x 3`);
    step('Starting vipd on lb1, lb2, lb3; waiting for the router to hold a next hop per host');
    for (let i = 0; i < BGP_LBS.length; i++) site.startDaemon(i);
    await site.waitHops(BGP_LBS, performance.now(), 45_000);
    console.log(`  router: ${site.router.ip(['route', 'show', `${BGP_VIP}/32`]).trim().replace(/\s+/g, ' ')}`);
    step('vipctl status on lb1');
    console.log(site.vipctl(0, 'status').replace(/^/gm, '  ').trimEnd());

    step(`${CONNECTIONS} TCP connections from the client, a line every ${LINE_EVERY_MS} ms each`);
    const before = await Promise.all(BGP_LBS.map((_, i) => site.servicePackets(i)));
    await agent.call('start', { host: BGP_VIP, port: BGP_PORT, conns: CONNECTIONS, intervalMs: LINE_EVERY_MS, udpIntervalMs: 0, maxMs: 60_000 }, 20_000);
    await until('every connection answering', async () => {
      const s = await agent.call<TrafficSummary>('snapshot', {});
      return s.conns.length === CONNECTIONS && s.conns.every((c) => c.answered >= 10) ? s : undefined;
    });
    const perHost = (await Promise.all(BGP_LBS.map((_, i) => site.servicePackets(i)))).map((n, i) => n - (before[i] ?? 0));
    console.log(`  packets forwarded per host (each host's XDP counters): ${perHost.map((n, i) => `lb${i + 1} ${n}`).join(', ')}`);

    step('Graceful stop of lb3 (SIGTERM): withdraw, forward for the 2 s grace period, exit');
    await agent.call('snapshot', { resetGaps: true });
    const victim = site.daemons[2]!;
    let exitedMs = 0;
    const t0 = performance.now();
    const exited = new Promise<void>((resolve) => victim.once('exit', () => ((exitedMs = performance.now() - t0), resolve())));
    victim.kill('SIGTERM');
    const withdrawnMs = await site.waitHops([BGP_LBS[0], BGP_LBS[1]], t0);
    await exited;
    site.daemons[2] = undefined;
    await new Promise((r) => setTimeout(r, 1000));
    const graceful = await agent.call<TrafficSummary>('snapshot', { resetGaps: true });
    console.log(`  the router dropped lb3 ${withdrawnMs.toFixed(0)} ms after SIGTERM; vipd exited after ${exitedMs.toFixed(0)} ms`);
    console.log(`  client: longest gap between answers ${longestGap(graceful)} ms (a line every ${LINE_EVERY_MS} ms)`);

    step('lb2 dies: link down and SIGKILL (the router learns it from BFD); 16 UDP flows probe every 5 ms');
    const probe = site.udpProbe({ sockets: 16, everyMs: 5, durationMs: 4000 });
    await new Promise((r) => setTimeout(r, 1000));
    const t1 = performance.now();
    site.lbs[1]!.ip(['link', 'set', 'eth0', 'down']);
    site.daemons[1]!.kill('SIGKILL');
    const deadMs = await site.waitHops([BGP_LBS[0]], t1);
    const { flows } = await probe;
    const end = await agent.call<TrafficSummary>('stop', { settleMs: 300 });
    console.log(`  the router dropped lb2 ${deadMs.toFixed(0)} ms after its link went down`);
    console.log(`  client: longest gap of a UDP flow ${Math.max(...flows.map((f) => f.maxGapMs))} ms; each flow answered by one real server: ${flows.every((f) => f.servers.length === 1)}`);
    console.log(`  client: longest gap of a TCP connection ${longestGap(end)} ms (TCP's retransmission back-off on top of the route change)`);

    step('What the client saw');
    console.log(`  ${kept(end)}/${end.conns.length} TCP connections alive, each answered by one real server all along`);
    step('Cleaning up (daemons, namespaces, pins)');
    return kept(end) === end.conns.length ? 0 : 1;
  } catch (err) {
    for (let i = 0; i < BGP_LBS.length; i++) console.log(`--- lb${i + 1} vipd log (tail) ---\n${site.logTail(i, 30)}`);
    throw err;
  } finally {
    await agent.stop().catch(() => undefined);
    if (!interrupted) await site.cleanup();
  }
}
