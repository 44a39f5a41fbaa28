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
 * keepalived side by side, same method, same window: a keepalived pair
 * (Debian 2.2.7, `-P`: VRRP only) in a second site of the same shape, at the
 * same priorities and intervals, running at the same time as the vipd pair
 * and sampled over the same window, so both see the same machine load; its
 * figure is the parent's plus the VRRP child's (utime + stime, VmRSS).
 * Each figure is also split by thread name (/proc/PID/task/TID/comm): for
 * vipd the JS thread (node), the advert sender (vipd-advert), the receive
 * thread (vipd-vrrp-rx) and V8's workers.
 *
 * utime + stime is sampled at the scheduler tick (10 ms here): a thread
 * that runs 20 us per wakeup is charged a whole tick when one falls inside
 * its run and nothing otherwise, so small figures move by tenths between
 * runs. The same window's exact figure comes from the scheduler's own
 * account (/proc/PID/task/TID/schedstat: ns on the CPU), summed over the
 * threads, and is printed beside it with each thread's wakeups per second
 * (schedstat's timeslice count).
 *
 * The window is steady state for both pairs: a new vipd's V8 collects its
 * start-up garbage (the memory reducer: ~60 ms of CPU, VmRSS falls ~10 MiB)
 * some 10-40 s after start, a one-off that a 20 s window may or may not
 * hold (0.2-0.3% of a core over the window when it does: more than the
 * whole JS thread's steady cost). So the window opens only once every vipd has done it (VmRSS at
 * least STARTUP_COLLECTED_MIB under VmHWM), or when the youngest daemon is
 * STARTUP_CAP_S old (then the figure says so), plus the usual settle.
 * keepalived (C, no runtime start-up phase) has nothing to wait for, and
 * its pair is sampled in the same window, so it waits just as long. The
 * periodic GCs a running vipd does later are steady state and stay in.
 *
 * BENCH_DAEMON_CPU=N pins every thread of both pairs (taskset -a) to CPU N
 * once they are up: on a small VM where the threads land moves a pair's
 * figure by a third from run to run, and one CPU for all four daemons
 * takes that out of the comparison (docs/vrrp.md "The advert's path").
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  /** Seconds of CPU per thread name (comm: node, vipd-advert, vipd-vrrp-rx, ...). */
  threads: Map<string, number>;
  /** Seconds on the CPU by the scheduler's account (schedstat), all threads. */
  exact: number;
  /** Per thread name: [seconds on the CPU (schedstat), times run]. */
  exactThreads: Map<string, [number, number]>;
}

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** utime + stime (seconds) of a /proc stat line. */
function statCpu(stat: string, hz: number): number {
  // The command name (field 2) may hold spaces; split after its ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(f[11]) + Number(f[12])) / hz;
}

/** VmRSS and VmHWM (KiB) from /proc/PID/status. */
function memory(pid: number): { rssKiB: number; hwmKiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

export function sample(pid: number, hz: number): ProcSample {
  const cpu = statCpu(readFileSync(`/proc/${pid}/stat`, 'utf8'), hz);
  const { rssKiB, hwmKiB } = memory(pid);
  const threads = new Map<string, number>();
  const exactThreads = new Map<string, [number, number]>();
  let exact = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      threads.set(comm, (threads.get(comm) ?? 0) + statCpu(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'), hz));
      // schedstat: ns on the CPU, ns waiting to run, timeslices run.
      const [onCpuNs, , runs] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
      const [s0, r0] = exactThreads.get(comm) ?? [0, 0];
      exactThreads.set(comm, [s0 + onCpuNs / 1e9, r0 + runs]);
      exact += onCpuNs / 1e9;
    } catch {
      // the thread ended between readdir and read
    }
  }
  return { cpu, rssKiB, hwmKiB, threads, exact, exactThreads };
}

/** Seconds since the process started (/proc/PID/stat starttime: clock ticks after boot). */
export function processAgeSeconds(pid: number, hz: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 22 (starttime); f[0] is field 3.
  const started = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) / hz;
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return uptime - started;
}

/** VmHWM - VmRSS that marks V8's start-up collection as done (it frees ~10 MiB). */
const STARTUP_COLLECTED_MIB = 5;
/** The window opens at the latest once the youngest daemon is this old. */
export const STARTUP_CAP_S = 60;

/** Every pid's resident memory has fallen STARTUP_COLLECTED_MIB under its peak. */
export function startupCollected(pids: number[]): boolean {
  return pids.every((pid) => {
    const m = memory(pid);
    return (m.hwmKiB - m.rssKiB) / 1024 >= STARTUP_COLLECTED_MIB;
  });
}

interface DaemonFigure {
  daemon: 'vipd' | 'keepalived';
  advertInterval: number;
  role: 'MASTER' | 'BACKUP';
  /** vipd: its one process; keepalived: parent and VRRP child, summed. */
  pids: number[];
  cpuPercentOfCore: number;
  /** The same CPU split by thread name (threads that used none left out). */
  threadsPercentOfCore: Record<string, number>;
  /** CPU by the scheduler's account (schedstat, ns), % of one core. */
  exactPercentOfCore: number;
  /** Per thread name: schedstat % of one core and wakeups (timeslices) per second; threads under 0.005% left out. */
  exactThreads: Record<string, { percentOfCore: number; runsPerSecond: number }>;
  rssMiB: number;
  peakRssMiB: number;
  windowSeconds: number;
  /** Age of the youngest daemon of both pairs when the window opened (s). */
  ageAtWindowSeconds: number;
  /** Every vipd had collected its start-up garbage before the window (false: the cap opened it). */
  startupDone: boolean;
  /**
   * Times this host entered MASTER during the window: 0 for a steady pair.
   * A BACKUP that misses adverts under load takes over and is pushed back
   * (keepalived then logs and sends gratuitous ARPs), which costs CPU.
   */
  becameMaster: number;
}

/** "vipd-advert 1.702 (100/s), node 0.160 (4.3/s)": schedstat per thread, most first. */
function byThreadExact(f: DaemonFigure): string {
  return Object.entries(f.exactThreads)
    .sort((a, b) => b[1].percentOfCore - a[1].percentOfCore)
    .map(([name, t]) => `${name} ${fmt(t.percentOfCore, 3)} (${fmt(t.runsPerSecond, 1)}/s)`)
    .join(', ');
}

/** "node 0.20, vipd-advert 1.70": the threads that used CPU, most first. */
function byThread(f: DaemonFigure): string {
  return Object.entries(f.threadsPercentOfCore)
    .sort((a, b) => b[1] - a[1])
    .map(([name, pct]) => `${name} ${fmt(pct, 2)}`)
    .join(', ');
}

interface Pair {
  daemon: DaemonFigure['daemon'];
  /** [MASTER pids, BACKUP pids] */
  roles: [number[], number[]];
  /** How many times each host has entered MASTER so far. */
  becameMaster: () => Promise<[number, number]>;
  /** Past its start-up work (vipd: V8 has collected its start-up garbage). */
  startupDone: () => boolean;
}

/**
 * Waits until every pair is past its start-up work, or until the youngest
 * daemon is STARTUP_CAP_S old. Returns the youngest daemon's age when the
 * wait ended and whether every pair was done by then.
 */
async function waitStartup(pairs: Pair[], hz: number): Promise<{ ageSeconds: number; done: boolean }> {
  const youngest = (): number => Math.min(...pairs.flatMap((p) => p.roles.flat()).map((pid) => processAgeSeconds(pid, hz)));
  for (;;) {
    const done = pairs.every((p) => p.startupDone());
    const age = youngest();
    if (done || age >= STARTUP_CAP_S) return { ageSeconds: age, done };
    await sleep(500);
  }
}

/**
 * CPU (% of one core) and memory of every pair's MASTER and BACKUP over
 * one window: the pairs run side by side, so they share the machine's load.
 */
async function measure(
  pairs: Pair[],
  advertInterval: number,
  windowMs: number,
  hz: number,
  startup: { ageSeconds: number; done: boolean },
): Promise<DaemonFigure[]> {
  const total = (pids: number[]): ProcSample =>
    pids
      .map((p) => sample(p, hz))
      .reduce((a, b) => {
        const threads = new Map(a.threads);
        for (const [k, v] of b.threads) threads.set(k, (threads.get(k) ?? 0) + v);
        const exactThreads = new Map(a.exactThreads);
        for (const [k, [s, r]] of b.exactThreads) {
          const [s0, r0] = exactThreads.get(k) ?? [0, 0];
          exactThreads.set(k, [s0 + s, r0 + r]);
        }
        return { cpu: a.cpu + b.cpu, rssKiB: a.rssKiB + b.rssKiB, hwmKiB: a.hwmKiB + b.hwmKiB, threads, exact: a.exact + b.exact, exactThreads };
      });
  const mastersBefore = await Promise.all(pairs.map((p) => p.becameMaster()));
  const before = pairs.map((p) => p.roles.map(total));
  const t0 = process.hrtime.bigint();
  await sleep(windowMs);
  const after = pairs.map((p) => p.roles.map(total));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const mastersAfter = await Promise.all(pairs.map((p) => p.becameMaster()));
  const percent = (cpu: number): number => (cpu / seconds) * 100;
  return pairs.flatMap((pair, j) =>
    (['MASTER', 'BACKUP'] as const).map((role, i) => {
      const threadsPercentOfCore: Record<string, number> = {};
      for (const [name, cpu] of after[j][i].threads) {
        const used = cpu - (before[j][i].threads.get(name) ?? 0);
        if (used > 0) threadsPercentOfCore[name] = percent(used);
      }
      const exactThreads: DaemonFigure['exactThreads'] = {};
      for (const [name, [s, runs]] of after[j][i].exactThreads) {
        const [s0, r0] = before[j][i].exactThreads.get(name) ?? [0, 0];
        if (percent(s - s0) >= 0.005) exactThreads[name] = { percentOfCore: percent(s - s0), runsPerSecond: (runs - r0) / seconds };
      }
      return {
        daemon: pair.daemon,
        advertInterval,
        role,
        pids: pair.roles[i],
        cpuPercentOfCore: percent(after[j][i].cpu - before[j][i].cpu),
        threadsPercentOfCore,
        exactPercentOfCore: percent(after[j][i].exact - before[j][i].exact),
        exactThreads,
        rssMiB: after[j][i].rssKiB / 1024,
        peakRssMiB: after[j][i].hwmKiB / 1024,
        windowSeconds: seconds,
        ageAtWindowSeconds: startup.ageSeconds,
        startupDone: startup.done,
        becameMaster: mastersAfter[j][i] - mastersBefore[j][i],
      };
    }),
  );
}

export const daemon: Section = {
  key: 'daemon',
  title: 'Daemon RSS and idle CPU (real vipd pair, keepalived pair beside it)',
  requires: { root: true, native: true, objects: ['out/bpf/vipd.bpf.o', 'out/test/progs/xdp_pass.bpf.o'] },
  async run(ctx: BenchContext): Promise<SectionOutcome> {
    const skipped: Skip[] = [];
    const hz = clockTicks();
    // After the start-up wait (waitStartup, header comment): V8's memory
    // reducer runs up to three GCs 0.5 s apart once it starts.
    const settleMs = ctx.quick ? 1000 : 2000;
    // 20 s: CPU ticks are 10 ms, so 0.05% resolution.
    const windowMs = ctx.quick ? 3000 : 20_000;
    const withKeepalived = haveCommand('keepalived');
    if (!withKeepalived) skipped.push({ what: 'keepalived figures', why: 'keepalived is not installed' });
    const figures: DaemonFigure[] = [];
    const report = (figs: DaemonFigure[]): void => {
      for (const fig of figs) {
        figures.push(fig);
        ctx.progress(
          `daemon: ${fig.daemon} ${fig.advertInterval * 1000} ms ${fig.role}: ${fmt(fig.cpuPercentOfCore, 2)}% of a core (${byThread(fig)}); schedstat ${fmt(fig.exactPercentOfCore, 3)}% (${byThreadExact(fig)}), became MASTER ${fig.becameMaster}x, RSS ${fmt(fig.rssMiB, 1)} MiB (peak ${fmt(fig.peakRssMiB, 1)}), window from age ${fmt(fig.ageAtWindowSeconds, 1)} s${fig.startupDone ? '' : ' (start-up GC not seen)'}`,
        );
      }
    };
    for (const advertInterval of [1, 0.01]) {
      // Both pairs run at once and are sampled in the same window: the
      // machine's other load (it is shared) falls on both alike.
      ctx.progress(`daemon: vipd pair and keepalived pair at ${advertInterval * 1000} ms adverts: building the sites`);
      const site = await Site.create({ label: 'res', advertInterval, healthCheck: 'none' });
      const ksite = withKeepalived
        ? await Site.create({ label: 'resk', advertInterval, healthCheck: 'none', vipdHosts: [false, false] })
        : undefined;
      const kas: Keepalived[] = [];
      try {
        site.startDaemon(0);
        site.startDaemon(1);
        await site.waitState(0, 'MASTER', 20_000);
        await site.waitState(1, 'BACKUP', 20_000);
        const pids = site.daemons.map((d) => d?.pid);
        if (pids.some((p) => p === undefined)) throw new Error('a daemon has no pid');
        // From the log, as keepalived's: a metrics scrape would be work for
        // the daemon (and garbage for its GC) right before the window.
        const vipdMasters = (i: number): Promise<number> =>
          Promise.resolve(readFileSync(site.logPath(i), 'utf8').split('"to":"MASTER"').length - 1);
        const pairs: Pair[] = [
          {
            daemon: 'vipd',
            roles: [[pids[0]!], [pids[1]!]],
            becameMaster: async () => [await vipdMasters(0), await vipdMasters(1)],
            startupDone: () => startupCollected([pids[0]!, pids[1]!]),
          },
        ];
        if (ksite) {
          for (const [i, priority] of [150, 100].entries()) {
            kas.push(
              await Keepalived.start(ksite.lbs[i], { dir: ksite.lab.tmpDir(), priority, advertInterval, vrid: 51, vips: [`${ksite.vip}/32`] }),
            );
          }
          await kas[0].waitState('MASTER', 20_000);
          await kas[1].waitState('BACKUP', 20_000);
          const kaMasters = (ka: Keepalived): number => ka.log().split('Entering MASTER STATE').length - 1;
          pairs.push({
            daemon: 'keepalived',
            roles: [kas[0].pids(), kas[1].pids()],
            becameMaster: () => Promise.resolve([kaMasters(kas[0]), kaMasters(kas[1])]),
            // C: nothing to collect; its pair shares vipd's window, so it waits as long.
            startupDone: () => true,
          });
        }
        const pinCpu = process.env.BENCH_DAEMON_CPU;
        if (pinCpu !== undefined && pinCpu !== '') {
          for (const pid of pairs.flatMap((p) => p.roles.flat())) execFileSync('taskset', ['-a', '-p', '-c', pinCpu, String(pid)], { stdio: 'ignore' });
          ctx.progress(`daemon: every thread of both pairs pinned to CPU ${pinCpu} (BENCH_DAEMON_CPU)`);
        }
        ctx.progress(`daemon: lb1 MASTER, lb2 BACKUP in both; waiting for vipd's start-up GC (at most until the daemons are ${STARTUP_CAP_S} s old)`);
        const startup = await waitStartup(pairs, hz);
        ctx.progress(
          `daemon: ${startup.done ? 'start-up GC done' : 'start-up GC not seen'} (youngest daemon ${fmt(startup.ageSeconds, 1)} s old); settling ${settleMs / 1000} s, then sampling ${windowMs / 1000} s`,
        );
        await sleep(settleMs);
        const figs = await measure(pairs, advertInterval, windowMs, hz, startup);
        if ((await site.state(0)) !== 'MASTER') throw new Error('lb1 left MASTER during the window');
        if (kas.length > 0 && kas[0].state() !== 'MASTER') throw new Error('keepalived on lb1 left MASTER during the window');
        report(figs);
      } finally {
        for (const ka of kas) await ka.stop().catch(() => ka.crash());
        await ksite?.cleanup();
        await site.cleanup();
      }
    }

    const label = (f: DaemonFigure): string => `${f.daemon} ${f.role}, ${f.advertInterval * 1000} ms adverts`;
    const cpuSvg = join(ctx.resultsDir, 'daemon-cpu.svg');
    writeFileSync(
      cpuSvg,
      barChart({
        title: 'vipd and keepalived idle CPU',
        subtitle: 'utime+stime over 20 s, no traffic, no health checks; vipd pair and keepalived pair in namespaces',
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
        ['daemon', 'CPU % of a core', 'by thread', 'schedstat %', 'schedstat by thread (wakeups/s)', 'became MASTER', 'RSS MiB', 'peak RSS MiB', 'window s', 'from age s'],
        ...figures.map((f) => [
          label(f),
          fmt(f.cpuPercentOfCore, 2),
          byThread(f),
          fmt(f.exactPercentOfCore, 3),
          byThreadExact(f),
          String(f.becameMaster),
          fmt(f.rssMiB, 1),
          fmt(f.peakRssMiB, 1),
          fmt(f.windowSeconds, 1),
          `${fmt(f.ageAtWindowSeconds, 1)}${f.startupDone ? '' : ' (cap)'}`,
        ]),
      ],
      [false, true, false, true, false, true, true, true, true, true],
    );
    return { json: { daemons: figures, clockTicks: hz, settleMs, startupCollectedMiB: STARTUP_COLLECTED_MIB, startupCapSeconds: STARTUP_CAP_S }, table, files: [cpuSvg, rssSvg], skipped };
  },
};
