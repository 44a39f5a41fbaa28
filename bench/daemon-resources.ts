/**
 * Daemon resources: a real vipd pair (scripts/topology.ts Site: client, two
 * vipd hosts, two real servers on one bridge) at advertisement intervals of
 * 1 s and 10 ms. Once lb1 is MASTER and the pair has settled, the MASTER's
 * (and the BACKUP's) resident memory (/proc/PID/status VmRSS, VmHWM) and CPU
 * (utime + stime from /proc/PID/stat, as % of one core) are sampled over a
 * window. Idle means no traffic and no health checks (healthCheck: none), so
 * the figure is what VRRP, the lease renewal and the runtime cost.
 *
 * Site.startDaemon spawns `ip netns exec NS node bin/vipd`; ip execs node,
 * so the child's PID is the daemon's.
 *
 * keepalived side by side, same site, same window, same method: a keepalived
 * pair (Debian 2.2.7, `-P`: VRRP only) at the same priorities and intervals;
 * its figure is the parent's plus the VRRP child's (utime + stime, VmRSS).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Site, sleep } from '../scripts/topology.js';
import { Keepalived } from '../test/helpers/keepalived.js';
import { haveCommand } from '../test/helpers/netns.js';
import { type BenchContext, type Section, type SectionOutcome, type Skip, fmt, formatTable } from './lib.js';
import { barChart } from './svg.js';

interface ProcSample {
  /** Seconds of CPU (user + system). */
  cpu: number;
  rssKiB: number;
  hwmKiB: number;
}

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

function sample(pid: number, hz: number): ProcSample {
  // /proc/PID/stat: the command name (field 2) may hold spaces; split after its ')'.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): utime is field 14, stime field 15.
  const cpu = (Number(f[11]) + Number(f[12])) / hz;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { cpu, rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

interface DaemonFigure {
  daemon: 'vipd' | 'keepalived';
  advertInterval: number;
  role: 'MASTER' | 'BACKUP';
  /** vipd: its one process; keepalived: parent and VRRP child, summed. */
  pids: number[];
  cpuPercentOfCore: number;
  rssMiB: number;
  peakRssMiB: number;
  windowSeconds: number;
}

/** CPU (% of one core) and memory of [MASTER pids, BACKUP pids] over one window. */
async function measure(
  name: DaemonFigure['daemon'],
  advertInterval: number,
  roles: [number[], number[]],
  windowMs: number,
  hz: number,
): Promise<DaemonFigure[]> {
  const total = (pids: number[]): ProcSample =>
    pids
      .map((p) => sample(p, hz))
      .reduce((a, b) => ({ cpu: a.cpu + b.cpu, rssKiB: a.rssKiB + b.rssKiB, hwmKiB: a.hwmKiB + b.hwmKiB }));
  const before = roles.map(total);
  const t0 = process.hrtime.bigint();
  await sleep(windowMs);
  const after = roles.map(total);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return (['MASTER', 'BACKUP'] as const).map((role, i) => ({
    daemon: name,
    advertInterval,
    role,
    pids: roles[i],
    cpuPercentOfCore: ((after[i].cpu - before[i].cpu) / seconds) * 100,
    rssMiB: after[i].rssKiB / 1024,
    peakRssMiB: after[i].hwmKiB / 1024,
    windowSeconds: seconds,
  }));
}

export const daemon: Section = {
  key: 'daemon',
  title: 'Daemon RSS and idle CPU (real vipd pair)',
  requires: { root: true, native: true, objects: ['out/bpf/vipd.bpf.o', 'out/test/progs/xdp_pass.bpf.o'] },
  async run(ctx: BenchContext): Promise<SectionOutcome> {
    const skipped: Skip[] = [];
    const hz = clockTicks();
    const settleMs = ctx.quick ? 1000 : 2000;
    const figures: DaemonFigure[] = [];
    const report = (figs: DaemonFigure[]): void => {
      for (const fig of figs) {
        figures.push(fig);
        ctx.progress(
          `daemon: ${fig.daemon} ${fig.advertInterval * 1000} ms ${fig.role}: ${fmt(fig.cpuPercentOfCore, 2)}% of a core, RSS ${fmt(fig.rssMiB, 1)} MiB (peak ${fmt(fig.peakRssMiB, 1)})`,
        );
      }
    };
    for (const advertInterval of [1, 0.01]) {
      // 10 s (CPU ticks are 10 ms: 0.1% resolution).
      const windowMs = ctx.quick ? 3000 : 10_000;
      ctx.progress(`daemon: vipd pair at ${advertInterval * 1000} ms adverts: building the site`);
      const site = await Site.create({ label: 'res', advertInterval, healthCheck: 'none' });
      try {
        site.startDaemon(0);
        site.startDaemon(1);
        await site.waitState(0, 'MASTER', 20_000);
        await site.waitState(1, 'BACKUP', 20_000);
        ctx.progress(`daemon: lb1 MASTER, lb2 BACKUP; settling ${settleMs / 1000} s, then sampling ${windowMs / 1000} s`);
        await sleep(settleMs);
        const pids = site.daemons.map((d) => d?.pid);
        if (pids.some((p) => p === undefined)) throw new Error('a daemon has no pid');
        const figs = await measure('vipd', advertInterval, [[pids[0]!], [pids[1]!]], windowMs, hz);
        if ((await site.state(0)) !== 'MASTER') throw new Error('lb1 left MASTER during the window');
        report(figs);
      } finally {
        await site.cleanup();
      }
    }

    if (!haveCommand('keepalived')) {
      skipped.push({ what: 'keepalived figures', why: 'keepalived is not installed' });
    } else {
      for (const advertInterval of [1, 0.01]) {
        const windowMs = ctx.quick ? 3000 : 10_000;
        ctx.progress(`daemon: keepalived pair at ${advertInterval * 1000} ms adverts: building the site`);
        const site = await Site.create({ label: 'resk', advertInterval, healthCheck: 'none', vipdHosts: [false, false] });
        const kas: Keepalived[] = [];
        try {
          for (const [i, priority] of [150, 100].entries()) {
            kas.push(
              await Keepalived.start(site.lbs[i], { dir: site.lab.tmpDir(), priority, advertInterval, vrid: 51, vips: [`${site.vip}/32`] }),
            );
          }
          await kas[0].waitState('MASTER', 20_000);
          await kas[1].waitState('BACKUP', 20_000);
          await sleep(settleMs);
          report(await measure('keepalived', advertInterval, [kas[0].pids(), kas[1].pids()], windowMs, hz));
          if (kas[0].state() !== 'MASTER') throw new Error('keepalived on lb1 left MASTER during the window');
        } finally {
          for (const ka of kas) await ka.stop().catch(() => ka.crash());
          await site.cleanup();
        }
      }
    }

    const label = (f: DaemonFigure): string => `${f.daemon} ${f.role}, ${f.advertInterval * 1000} ms adverts`;
    const cpuSvg = join(ctx.resultsDir, 'daemon-cpu.svg');
    writeFileSync(
      cpuSvg,
      barChart({
        title: 'vipd and keepalived idle CPU',
        subtitle: 'utime+stime over 10 s, no traffic, no health checks; vipd pair and keepalived pair in namespaces',
        unit: '% of one core',
        digits: 2,
        bars: figures.map((f) => ({ label: label(f), value: f.cpuPercentOfCore, group: `${f.daemon} ${f.role}` })),
      }),
    );
    const rssSvg = join(ctx.resultsDir, 'daemon-rss.svg');
    writeFileSync(
      rssSvg,
      barChart({
        title: 'vipd and keepalived resident memory',
        subtitle: 'VmRSS after the window (whisker to VmHWM, the peak)',
        unit: 'MiB',
        digits: 1,
        bars: figures.map((f) => ({ label: label(f), value: f.rssMiB, min: f.rssMiB, max: f.peakRssMiB, group: `${f.daemon} ${f.role}` })),
      }),
    );
    const table = formatTable(
      [
        ['daemon', 'CPU % of a core', 'RSS MiB', 'peak RSS MiB', 'window s'],
        ...figures.map((f) => [label(f), fmt(f.cpuPercentOfCore, 2), fmt(f.rssMiB, 1), fmt(f.peakRssMiB, 1), fmt(f.windowSeconds, 1)]),
      ],
      [false, true, true, true, true],
    );
    return { json: { daemons: figures, clockTicks: hz, settleMs }, table, files: [cpuSvg, rssSvg], skipped };
  },
};
