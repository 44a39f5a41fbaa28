/**
 * A real vipd with 10 000 services x 10 backends (issue 13): from the
 * daemon's start to the last service forwarding, its RSS and its maps'
 * memory, and how long `vipctl status` takes at that size.
 *
 * The site is scripts/topology.ts with lb1 alone (priority 255, no peer);
 * the 10 backends are ten addresses on the two real servers, so each
 * service's table is built from resolved MACs, as in production.
 * "Forwarding" is the daemon's own record: the log line "Maglev table
 * installed" for every service (the test in test/netns/daemon-scale checks
 * with a real client that installed tables forward).
 *
 * Then the same load through the Manager API alone (bench/controlplane.ts
 * configApply(), in this process, after the daemon has exited): from a
 * parsed config to every service forwarding, the goal's other figure.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Site, VIP } from '../scripts/topology.js';
import { Dataplane } from '../src/dataplane/manager.js';
import { formatBytes } from '../src/dataplane/sizing.js';
import { netnsUnavailable } from '../test/helpers/netns.js';
import { configApply, type ConfigApply } from './controlplane.js';
import { type BenchContext, type Section, type SectionOutcome, fmt, formatTable } from './lib.js';

const BACKENDS = 10;

function configFor(site: Site, services: number, backends: readonly string[]): string {
  const base = site.config(0);
  const lines = ['control: { socket: ' + site.socket(0) + ', metrics: 127.0.0.1:9477, backendMetrics: false }', 'services:'];
  for (let i = 0; i < services; i++) {
    lines.push(`  - name: s${i}`, `    vip: ${VIP}`, `    port: ${1000 + (i >> 1)}`, `    protocol: ${i % 2 === 0 ? 'tcp' : 'udp'}`, '    instance: web', '    backends:');
    for (const b of backends) lines.push(`      - { address: ${b} }`);
  }
  const head = base.slice(0, base.indexOf('services:')).replace(/^control: .*$/m, '');
  return `${head}${lines.join('\n')}\n`;
}

interface LogLine {
  time: number;
  msg: string;
}

function logLines(site: Site): LogLine[] {
  if (!existsSync(site.logPath(0))) return [];
  // Whole lines only: the daemon writes its log asynchronously, so the last one may be half there.
  return readFileSync(site.logPath(0), 'utf8')
    .split('\n')
    .slice(0, -1)
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/**
 * CPU time (user + system, ms) a process has used: beside a wall-clock
 * figure it shows how much of that was the daemon's own work and how much
 * waiting for a core on a loaded machine.
 */
function cpuMs(pid: number): number {
  // Fields 14 and 15 of /proc/PID/stat (after the parenthesised name), in clock ticks (100 Hz on Linux).
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** VmRSS and its anonymous part (the rest is mostly the rings map mapped from the kernel, counted in the maps too). */
function rssBytes(pid: number): { rss: number; anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon') };
}

export const scale: Section = {
  key: 'scale',
  title: 'A vipd with 10 000 services x 10 backends',
  requires: { root: true, native: true, objects: ['out/bpf/vipd.bpf.o', 'out/test/progs/xdp_pass.bpf.o'] },
  async run(ctx: BenchContext): Promise<SectionOutcome> {
    const why = netnsUnavailable();
    if (why) throw new Error(`scale: ${why}`);
    const services = ctx.quick ? 1000 : 10_000;
    const site = await Site.create({ label: 'scl', priorities: [255, 100], healthCheck: 'none', vipdHosts: [true, false] });
    let cleaned = false;
    try {
      // Ten backend addresses: the two real servers' own and four more on each.
      const backends = [...site.realAddrs];
      for (let i = 0; backends.length < BACKENDS; i++) {
        const address = `10.99.0.${40 + i}`;
        site.reals[i % 2].ip(['addr', 'add', `${address}/24`, 'dev', 'eth0']);
        backends.push(address);
      }
      site.writeConfig(0, configFor(site, services, backends));
      ctx.progress(`scale: starting vipd with ${services} services x ${BACKENDS} backends`);
      const started = Date.now();
      const child = site.startDaemon(0, { writeConfig: false });
      const deadline = started + 120_000;
      // A service forwards as configured once a table with all its backends is in.
      let installed = 0;
      let lastAt = 0;
      /** The daemon's CPU time when the last table was seen (up to one 200 ms poll late). */
      let cpuAtLast = 0;
      const loadAtStart = loadavg()[0];
      while (Date.now() < deadline) {
        const whole = new Map<string, number>();
        for (const l of logLines(site)) {
          const t = l as LogLine & { service?: string; backends?: string[] };
          if (t.msg === 'Maglev table installed' && t.backends?.length === BACKENDS && t.service && !whole.has(t.service)) whole.set(t.service, t.time);
        }
        installed = whole.size;
        if (installed >= services) {
          lastAt = Math.max(...whole.values());
          cpuAtLast = cpuMs(child.pid!);
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      if (installed < services) throw new Error(`scale: only ${installed} of ${services} services had a table of all ${BACKENDS} backends after 120 s`);
      const startToLastMs = lastAt - started;
      let readyLine: LogLine | undefined;
      while (!(readyLine = logLines(site).find((l) => l.msg === 'control ready')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      ctx.progress(`scale: last service forwarding ${fmt(startToLastMs, 0)} ms after start`);
      // The RSS of the running daemon: after its one collection of the start's garbage (src/daemon/startup-gc.ts).
      const gcUntil = Date.now() + 10_000;
      let gcLine: (LogLine & { ms?: number }) | undefined;
      while (!(gcLine = logLines(site).find((l) => l.msg === 'startup garbage collected')) && Date.now() < gcUntil) await new Promise((r) => setTimeout(r, 100));
      if (gcLine) ctx.progress(`scale: startup garbage collected in ${gcLine.ms ?? '?'} ms`);
      const rss = rssBytes(child.pid!);
      const maps = logLines(site).find((l) => l.msg.startsWith('data-plane maps:'));
      const statusTimes: number[] = [];
      /** Why a status call failed (a loaded machine can miss the client's 2 s timeout): the other figures stand. */
      let statusFailed: string | undefined;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        let st: Awaited<ReturnType<Site['status']>>;
        try {
          st = await site.status(0);
        } catch (err) {
          statusFailed = (err as Error).message;
          continue;
        }
        statusTimes.push(performance.now() - t0);
        if (st.services.length !== services) throw new Error(`scale: status listed ${st.services.length} services`);
      }
      const statusFigure =
        statusTimes.length > 0 ? `${fmt(Math.min(...statusTimes), 0)} ms${statusFailed ? ` (${3 - statusTimes.length} failed)` : ''}` : `failed: ${statusFailed}`;
      // The daemon's figures are taken: stop it, so the Manager API run has the machine to itself.
      if (process.env.VIPD_BENCH_KEEP_LOG) writeFileSync(process.env.VIPD_BENCH_KEEP_LOG, readFileSync(site.logPath(0)));
      await site.cleanup();
      Dataplane.unpinAll(site.pins[0]);
      cleaned = true;
      ctx.progress(`scale: manager API: parsed config -> every service forwarding, ${services} x ${BACKENDS}`);
      const api: ConfigApply = await configApply(join(ctx.root, 'out/bpf/vipd.bpf.o'), services, BACKENDS, ctx.progress);
      const load = loadavg().map((l) => fmt(l, 2)).join(' ');
      const loadDuring = `load average ${fmt(loadAtStart, 2)} at start, ${fmt(loadavg()[0], 2)} after`;
      const table = formatTable(
        [
          ['what', 'figure', 'goal'],
          ['vipd start -> last service forwarding', `${fmt(startToLastMs, 0)} ms (${loadDuring})`, '<= 5000 ms'],
          ["  the daemon's CPU time by then (user + system, all threads)", `${fmt(cpuAtLast, 0)} ms`, ''],
          ['vipd start -> control socket ready', readyLine ? `${fmt(readyLine.time - started, 0)} ms` : '-', ''],
          ['daemon RSS (of which anonymous: its own heap and code)', `${formatBytes(rss.rss)} (${formatBytes(rss.anon)})`, '<= 512 MiB'],
          ['data-plane maps (sizing.ts, as logged)', maps?.msg.replace('data-plane maps: ', '') ?? '-', '<= 512 MiB'],
          ['status call (all services), best of 3', statusFigure, '< 1000 ms'],
          [
            `manager API: parsed config -> every service forwarding (load average ${fmt(api.loadAtStart, 2)} at start, ${fmt(api.loadAtEnd, 2)} after)`,
            `${fmt(api.totalMs, 0)} ms`,
            '<= 2000 ms',
          ],
          ['  its CPU time (user + system, this process)', `${fmt(api.totalCpuMs, 0)} ms`, ''],
          [
            `  open ${fmt(api.openMs, 0)} (the ${services} Maglev tables built meanwhile: ${fmt(api.buildMs, 0)}), VIPs ${fmt(api.vipsMs, 0)}, reals ${fmt(api.realsMs, 0)}, services ${fmt(api.addServicesMs, 0)}, tables ${fmt(api.setBackendsMs, 0)} (ms)`,
            '',
            '',
          ],
        ],
        [false, true, true],
      );
      return {
        json: {
          services,
          backendsPerService: BACKENDS,
          startToLastMs,
          cpuMsAtLast: cpuAtLast,
          rssBytes: rss.rss,
          rssAnonBytes: rss.anon,
          statusMs: statusTimes,
          load,
          loadAtStart,
          managerApi: api,
        },
        table: `${services} services x ${BACKENDS} backends, one vipd (load average ${load})\n${table}`,
        files: [],
        skipped: [],
      };
    } finally {
      if (!cleaned) {
        if (process.env.VIPD_BENCH_KEEP_LOG) writeFileSync(process.env.VIPD_BENCH_KEEP_LOG, readFileSync(site.logPath(0)));
        await site.cleanup();
        Dataplane.unpinAll(site.pins[0]);
      }
    }
  },
};
