/**
 * Failover with BFD (the failover bench's BFD case): two vipd hosts in the
 * failover topology (scripts/topology.ts Site), unicast VRRPv3 at 100 ms
 * adverts, priorities 150 / 100, and `bfd: { interval, multiplier: 3 }`
 * between them. The BACKUP takes over when its BFD session to the MASTER
 * goes down, not after Master_Down (360 ms here).
 *
 * Per interval (default 3 ms; BENCH_BFD_INTERVALS=0.003,0.005,0.01 for more):
 *  1. CPU of each daemon over a 10 s window, idle pair, with BFD running
 *     (the window opens after V8's start-up collection: cpuWindow()),
 *     beside the same pair without BFD measured first in the same run
 *     (utime+stime from /proc/PID/stat, % of one core);
 *  2. failover trials, two deaths: `ip link set eth0 down` in the MASTER
 *     (via a running `ip -batch -`) and SIGKILL of the MASTER's daemon; the
 *     figures as in bench/failover.ts: death -> the new MASTER's first
 *     gratuitous ARP on the client's wire, and the client's longest silence
 *     between answers to UDP probes sent every 1 ms;
 *  3. a soak: both daemons restarted with a 100 ms event-loop stall every
 *     second (a preloaded module busy-waits on the main thread), for
 *     BENCH_BFD_SOAK_S seconds (default 600, the issue's 10 minutes; --quick
 *     20): the BFD session must never go down and lb2 must never take over.
 *     An interval is "held" when the soak saw no session down and no
 *     takeover.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_PORT, Site, VIP, sleep } from '../scripts/topology.js';
import type { InstanceStatus } from '../src/daemon/api.js';
import { netnsUnavailable, haveCommand, type NodeChild } from '../test/helpers/netns.js';
import { PRIORITIES, PROBE_SCRIPT, Spoiled, monoNs, realMinusMonoNs, waitAnswered, watchWire } from './failover.js';
import { STARTUP_CAP_S, processAgeSeconds, sample, startupCollected } from './daemon-resources.js';
import { type BenchContext, type Section, type SectionOutcome, type Summary, fmt, formatTable, summarize } from './lib.js';

type Death = 'link down' | 'SIGKILL';
/** Who takes over on a BFD down: the BFD thread (armed takeover) or the engine on the event loop (VIPD_BFD_NATIVE_TAKEOVER=0). */
type TakeoverPath = 'native' | 'js';
type TrialKey = `${TakeoverPath}|${Death}`;

/** Where the time went in one takeover, ms (lb2's lastBfdTakeover against the death and the client's capture). */
interface Breakdown {
  /** Death -> lb2's BFD thread saw the session leave Up. */
  detect: number;
  /** Detection -> the instance map written (native path only). */
  map?: number;
  /** Detection -> first announcement sent by lb2 (the thread's, or the engine's). */
  announce?: number;
  /** Detection -> JS got the BFD event. */
  wakeup: number;
  /** Detection -> the engine's MASTER decision done. */
  engine: number;
  /** lb2's announcement sendto -> the GARP on the client's wire. */
  wire?: number;
}

interface BfdTrial {
  death: Death;
  gapMs: number;
  deathToGarpMs: number;
  deathToReplyMs: number;
  /** lb2's vipd_failover_seconds (its decision -> first announcement), ms. */
  daemonFailoverMs?: number;
  path: TakeoverPath;
  breakdown?: Breakdown;
}

interface CpuFigure {
  bfd: boolean;
  /** utime+stime (scheduler ticks), % of one core. */
  master: number;
  backup: number;
  /** The scheduler's exact account (schedstat, all threads), % of one core. */
  masterExact: number;
  backupExact: number;
}

interface SoakResult {
  seconds: number;
  /** BFD sessions that went down on either host during the soak. */
  sessionDowns: number;
  /** lb2 transitions during the soak (a takeover is 1+). */
  backupTransitions: number;
  /** Transmit deadlines missed by more than an interval, both hosts. */
  late: number;
  held: boolean;
}

interface IntervalFigures {
  intervalMs: number;
  multiplier: number;
  cpu: CpuFigure[];
  trials: Record<TrialKey, { trials: BfdTrial[]; gapMs: Summary; deathToGarpMs: Summary; deathToReplyMs: Summary; spurious: number; failed: string[] }>;
  soak?: SoakResult;
}

const MULTIPLIER = 3;
const ADVERT_S = 0.1;
const PROBE_EVERY_MS = 1;
const CPU_WINDOW_MS = 10_000;

/** Host i's config: unicast VRRP to the other host, BFD to it (empty peers: the unicast peers). */
function config(site: Site, i: number, bfdIntervalS: number | null): string {
  const extra = `\n    unicastPeers: [${site.lbAddrs[1 - i]}]` + (bfdIntervalS === null ? '' : `\n    bfd: { interval: ${bfdIntervalS}, multiplier: ${MULTIPLIER} }`);
  return site.config(i).replace('\nservices:', `${extra}\nservices:`);
}

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

function cpuSeconds(pid: number, hz: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / hz;
}

/**
 * CPU over CPU_WINDOW_MS once both daemons are past V8's start-up
 * collection (the daemon section's rule, bench/daemon-resources.ts: ~40-60
 * ms of CPU some 10-25 s after start, 0.4-0.6% of a core over a 10 s
 * window), or once they are STARTUP_CAP_S old, then a 2 s settle.
 */
async function cpuWindow(site: Site, bfd: boolean): Promise<CpuFigure> {
  const hz = clockTicks();
  const pids = site.daemons.map((d) => d!.pid!);
  while (!startupCollected(pids) && Math.min(...pids.map((p) => processAgeSeconds(p, hz))) < STARTUP_CAP_S) await sleep(500);
  await sleep(2000);
  const before = pids.map((p) => cpuSeconds(p, hz));
  const exactBefore = pids.map((p) => sample(p, hz).exact);
  const t0 = monoNs();
  await sleep(CPU_WINDOW_MS);
  const s = (monoNs() - t0) / 1e9;
  const after = pids.map((p) => cpuSeconds(p, hz));
  const exactAfter = pids.map((p) => sample(p, hz).exact);
  const pct = (i: number, a: number[], b: number[]) => ((a[i]! - b[i]!) / s) * 100;
  return {
    bfd,
    master: pct(0, after, before),
    backup: pct(1, after, before),
    masterExact: pct(0, exactAfter, exactBefore),
    backupExact: pct(1, exactAfter, exactBefore),
  };
}

async function instance(site: Site, i: number): Promise<InstanceStatus | undefined> {
  return (await site.status(i).catch(() => undefined))?.instances[0];
}

async function startPair(site: Site, bfdIntervalS: number | null, nodeArgs = ''): Promise<void> {
  const saved = process.env.VIPD_DAEMON_NODE_ARGS;
  process.env.VIPD_DAEMON_NODE_ARGS = nodeArgs;
  try {
    for (const i of [0, 1]) {
      site.writeConfig(i, config(site, i, bfdIntervalS));
      site.startDaemon(i, { writeConfig: false });
    }
  } finally {
    if (saved === undefined) delete process.env.VIPD_DAEMON_NODE_ARGS;
    else process.env.VIPD_DAEMON_NODE_ARGS = saved;
  }
  await waitSteady(site, bfdIntervalS !== null, 60_000);
}

/** lb1 MASTER, lb2 BACKUP, and (with BFD) both sessions Up at the configured rate. */
async function waitSteady(site: Site, bfd: boolean, timeoutMs = 20_000): Promise<void> {
  await site.waitState(0, 'MASTER', timeoutMs);
  await site.waitState(1, 'BACKUP', timeoutMs);
  if (!bfd) return;
  const until = Date.now() + timeoutMs;
  for (;;) {
    const up = await Promise.all([0, 1].map(async (i) => (await instance(site, i))?.bfd?.[0]?.state === 'Up'));
    if (up.every(Boolean)) return;
    if (Date.now() > until) throw new Error('BFD sessions not Up');
    await sleep(50);
  }
}

async function stopPair(site: Site): Promise<void> {
  await site.stopDaemon(1, 'SIGTERM');
  await site.stopDaemon(0, 'SIGTERM');
}

async function runTrial(site: Site, probe: NodeChild, ipBatch: ChildProcess, death: Death, path: TakeoverPath): Promise<BfdTrial> {
  const wire = watchWire(site.client, site.lbMac(0), site.lbMac(1), () => {});
  let t0 = 0;
  try {
    await wire.ready;
    await sleep(50);
    const offset = realMinusMonoNs();
    t0 = monoNs();
    if (death === 'link down') ipBatch.stdin!.write('link set eth0 down\n');
    else site.daemons[0]!.kill('SIGKILL');
    const until = Date.now() + 5000;
    let replies: number[] = [];
    for (;;) {
      await sleep(20);
      replies = await probe.call<number[]>('since', { from: t0 - 20e6 });
      if (replies.filter((t) => t > t0).length >= 50 && wire.events.some((e) => e.kind === 'garp')) break;
      if (Date.now() > until) break;
    }
    const real0 = t0 + offset;
    if (wire.events.some((e) => e.kind === 'garp' && e.tsNs <= real0)) throw new Spoiled('lb2 announced the VIP before the death (a spurious takeover)');
    const garp = wire.events.find((e) => e.kind === 'garp' && e.tsNs > real0);
    if (garp === undefined) throw new Error('no gratuitous ARP from the new MASTER within 5 s');
    const after = replies.filter((t) => t > t0);
    if (after.length === 0) throw new Error('the client got no answer after the failover');
    let gap = 0;
    let resumed = after[0]!;
    for (let k = 1; k < replies.length; k++) {
      if (replies[k]! - replies[k - 1]! > gap) {
        gap = replies[k]! - replies[k - 1]!;
        resumed = replies[k]!;
      }
    }
    const st = await instance(site, 1);
    const tk = st?.lastBfdTakeover;
    const t0Ms = t0 / 1e6;
    const garpMonoMs = (garp.tsNs - offset) / 1e6;
    // Only a takeover of this trial (after the death) counts.
    const breakdown: Breakdown | undefined =
      tk && tk.detectedMs > t0Ms
        ? {
            detect: tk.detectedMs - t0Ms,
            ...(tk.mapMs === undefined ? {} : { map: tk.mapMs - tk.detectedMs }),
            ...(tk.announcedMs === null ? {} : { announce: tk.announcedMs - tk.detectedMs, wire: garpMonoMs - tk.announcedMs }),
            wakeup: tk.heardMs - tk.detectedMs,
            engine: tk.engineMs - tk.detectedMs,
          }
        : undefined;
    return {
      death,
      path,
      ...(breakdown ? { breakdown } : {}),
      gapMs: gap / 1e6,
      deathToGarpMs: (garp.tsNs - real0) / 1e6,
      deathToReplyMs: (resumed - t0) / 1e6,
      ...(typeof st?.lastFailoverSeconds === 'number' ? { daemonFailoverMs: st.lastFailoverSeconds * 1000 } : {}),
    };
  } finally {
    await wire.stop();
    if (death === 'link down') ipBatch.stdin!.write('link set eth0 up\n');
    else if (t0) {
      site.daemons[0] = undefined;
      site.startDaemon(0, { writeConfig: false });
    }
  }
}

/** A module preloaded into both daemons for the soak: a 100 ms busy wait on the main thread every second. */
const STALL_SCRIPT = `
setInterval(() => {
  const end = performance.now() + 100;
  while (performance.now() < end) {}
}, 1000).unref();
`;

async function soak(ctx: BenchContext, site: Site, intervalS: number, seconds: number): Promise<SoakResult> {
  const file = join(site.lab.tmpDir(), 'stall.mjs');
  writeFileSync(file, STALL_SCRIPT);
  await startPair(site, intervalS, `--import ${file}`);
  const t0 = (await instance(site, 1))?.transitions ?? 0;
  const downs0 = await Promise.all([0, 1].map(async (i) => (await instance(site, i))?.bfd?.[0]?.downs ?? 0));
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    await sleep(Math.min(10_000, end - Date.now()));
    const st = await instance(site, 1);
    ctx.progress(`failover-bfd: soak @${intervalS * 1000} ms: ${Math.round((seconds * 1000 - (end - Date.now())) / 1000)}/${seconds} s, lb2 ${st?.state}, BFD ${st?.bfd?.[0]?.state} (downs ${st?.bfd?.[0]?.downs})`);
  }
  const st = await Promise.all([0, 1].map((i) => instance(site, i)));
  const downs = st.reduce((n, s, i) => n + (s?.bfd?.[0]?.downs ?? 0) - downs0[i]!, 0);
  const transitions = (st[1]?.transitions ?? 0) - t0;
  const late = st.reduce((n, s) => n + (s?.bfd?.[0]?.late ?? 0), 0);
  await stopPair(site);
  return { seconds, sessionDowns: downs, backupTransitions: transitions, late, held: downs === 0 && transitions === 0 };
}

function cell(s: Summary | undefined): string {
  if (!s || s.n === 0) return '-';
  return `${fmt(s.median)} (${fmt(s.min)}-${fmt(s.max)})`;
}

export const failoverBfd: Section = {
  key: 'failoverBfd',
  title: 'Failover with BFD: MASTER link down and MASTER SIGKILL',
  requires: { root: true, native: true, objects: ['out/bpf/vipd.bpf.o'] },
  async run(ctx: BenchContext): Promise<SectionOutcome> {
    const why = netnsUnavailable() ?? (haveCommand('tcpdump') ? undefined : 'tcpdump is not installed');
    if (why) throw new Error(`failover-bfd: ${why}`);
    const intervals = (process.env.BENCH_BFD_INTERVALS ?? '0.003').split(',').map(Number);
    const soakS = Number(process.env.BENCH_BFD_SOAK_S ?? (ctx.quick ? 20 : 600));
    const trialsN = ctx.quick ? 1 : 5;
    // BENCH_BFD_SOAK_ONLY=1: the soak alone (no CPU window, no failover trials).
    const soakOnly = process.env.BENCH_BFD_SOAK_ONLY === '1';
    // BENCH_BFD_PATHS: which takeover paths to time, in the same run (default both: native is vipd's, js the one before it).
    const paths = (process.env.BENCH_BFD_PATHS ?? 'native,js').split(',') as TakeoverPath[];
    const savedNative = process.env.VIPD_BFD_NATIVE_TAKEOVER;
    const site = await Site.create({ label: 'fob', version: 3, priorities: PRIORITIES, healthCheck: 'none', advertInterval: ADVERT_S });
    const results: IntervalFigures[] = [];
    let noBfdCpu: CpuFigure | undefined;
    try {
      const probeFile = join(site.lab.tmpDir(), 'probe.mjs');
      writeFileSync(probeFile, PROBE_SCRIPT);
      let prober: NodeChild | undefined;
      const ipBatch = site.lbs[0]!.spawn('ip', ['-batch', '-']);
      try {
        if (!soakOnly) {
          ctx.progress('failover-bfd: CPU without BFD');
          await startPair(site, null);
          await sleep(1000);
          noBfdCpu = await cpuWindow(site, false);
          await stopPair(site);
        }
        for (const intervalS of intervals) {
          const ms = intervalS * 1000;
          if (soakOnly) {
            ctx.progress(`failover-bfd: soak only at ${ms} ms x ${MULTIPLIER} for ${soakS} s with 100 ms event-loop stalls every second`);
            results.push({ intervalMs: ms, multiplier: MULTIPLIER, cpu: [], trials: {} as IntervalFigures['trials'], soak: await soak(ctx, site, intervalS, soakS) });
            continue;
          }
          ctx.progress(`failover-bfd: BFD at ${ms} ms x ${MULTIPLIER}: CPU`);
          await startPair(site, intervalS);
          await sleep(1000);
          const cpu = [...(noBfdCpu ? [noBfdCpu] : []), await cpuWindow(site, true)];
          const trials = {} as IntervalFigures['trials'];
          for (const [pi, path] of paths.entries()) {
          if (pi > 0 || path === 'js') {
            process.env.VIPD_BFD_NATIVE_TAKEOVER = path === 'js' ? '0' : '1';
            await stopPair(site);
            await startPair(site, intervalS);
          }
          for (const death of ['link down', 'SIGKILL'] as const) {
            const list: BfdTrial[] = [];
            const failed: string[] = [];
            let spurious = 0;
            for (let k = 0, attempts = 0; k < trialsN && attempts < trialsN + 3; attempts++) {
              try {
                await waitSteady(site, true, 30_000);
                await sleep(300);
                prober ??= site.client.node(probeFile, [VIP, String(SERVICE_PORT), String(PROBE_EVERY_MS)]);
                await waitAnswered(prober, 5000);
                const t = await runTrial(site, prober, ipBatch, death, path);
                list.push(t);
                k++;
                const b = t.breakdown;
                ctx.progress(
                  `failover-bfd: ${ms} ms x ${MULTIPLIER}, ${path}, ${death}, trial ${k}/${trialsN}: client gap ${fmt(t.gapMs)} ms, death -> GARP ${fmt(t.deathToGarpMs)} ms` +
                    (t.daemonFailoverMs === undefined ? '' : `, vipd decision -> GARP ${fmt(t.daemonFailoverMs, 2)} ms`) +
                    (b === undefined
                      ? ''
                      : ` [detect ${fmt(b.detect, 2)}, +announce ${b.announce === undefined ? '-' : fmt(b.announce, 2)}, +JS wakeup ${fmt(b.wakeup, 2)}, +engine ${fmt(b.engine, 2)}, announce -> wire ${b.wire === undefined ? '-' : fmt(b.wire, 2)}]`),
                );
              } catch (err) {
                if (err instanceof Spoiled) {
                  spurious++;
                  continue;
                }
                failed.push((err as Error).message);
                k++;
                ctx.progress(`failover-bfd: ${ms} ms, ${death}: trial FAILED: ${(err as Error).message}`);
              }
            }
            trials[`${path}|${death}`] = {
              trials: list,
              gapMs: summarize(list.map((t) => t.gapMs)),
              deathToGarpMs: summarize(list.map((t) => t.deathToGarpMs)),
              deathToReplyMs: summarize(list.map((t) => t.deathToReplyMs)),
              spurious,
              failed,
            };
          }
          }
          await stopPair(site);
          process.env.VIPD_BFD_NATIVE_TAKEOVER = '1';
          const fig: IntervalFigures = { intervalMs: ms, multiplier: MULTIPLIER, cpu, trials };
          if (soakS > 0) {
            ctx.progress(`failover-bfd: soak at ${ms} ms x ${MULTIPLIER} for ${soakS} s with 100 ms event-loop stalls every second`);
            fig.soak = await soak(ctx, site, intervalS, soakS);
          }
          results.push(fig);
        }
      } finally {
        if (savedNative === undefined) delete process.env.VIPD_BFD_NATIVE_TAKEOVER;
        else process.env.VIPD_BFD_NATIVE_TAKEOVER = savedNative;
        ipBatch.stdin!.end();
        await prober?.stop(500);
      }
    } finally {
      await site.cleanup();
    }

    const rows: string[][] = [['BFD', 'takeover', 'death', 'client gap', 'death -> GARP', 'death -> answers', 'trials', 'spurious']];
    const whereRows: string[][] = [['BFD', 'takeover', 'death', 'detect', '+map', '+announce', '+JS wakeup', '+engine', 'announce -> wire']];
    const cpuRows: string[][] = [['BFD', 'MASTER CPU %', 'BACKUP CPU %', 'MASTER schedstat %', 'BACKUP schedstat %']];
    const cpuRow = (label: string, c: CpuFigure) => [label, fmt(c.master, 2), fmt(c.backup, 2), fmt(c.masterExact, 3), fmt(c.backupExact, 3)];
    if (noBfdCpu) cpuRows.push(cpuRow('off', noBfdCpu));
    const soakRows: string[][] = [['BFD', 'soak s', 'session downs', 'lb2 takeovers', 'late TX', 'held']];
    for (const r of results) {
      const label = `${r.intervalMs} ms x ${r.multiplier}`;
      for (const key of Object.keys(r.trials) as TrialKey[]) {
        const t = r.trials[key];
        const [path, death] = key.split('|') as [TakeoverPath, Death];
        const part = (f: (b: Breakdown) => number | undefined): string => {
          const v = t.trials.map((x) => (x.breakdown ? f(x.breakdown) : undefined)).filter((x): x is number => x !== undefined);
          return v.length === 0 ? '-' : cell(summarize(v));
        };
        whereRows.push([label, path, death, part((b) => b.detect), part((b) => b.map), part((b) => b.announce), part((b) => b.wakeup), part((b) => b.engine), part((b) => b.wire)]);
        rows.push([label, path, death, cell(t.gapMs), cell(t.deathToGarpMs), cell(t.deathToReplyMs), `${t.trials.length}${t.failed.length ? ` (+${t.failed.length} failed)` : ''}`, String(t.spurious)]);
      }
      const c = r.cpu.find((x) => x.bfd);
      if (c) cpuRows.push(cpuRow(label, c));
      if (r.soak) soakRows.push([label, String(r.soak.seconds), String(r.soak.sessionDowns), String(r.soak.backupTransitions), String(r.soak.late), r.soak.held ? 'yes' : 'NO']);
    }
    // The issue's second figure: the fastest interval whose soak held.
    const held = results.filter((r) => r.soak?.held).sort((a, b) => a.intervalMs - b.intervalMs)[0];
    const heldLine = results.some((r) => r.soak)
      ? `fastest interval held (no session down, no takeover, ${soakS} s soak with 100 ms stalls): ${held ? `${held.intervalMs} ms x ${held.multiplier}` : 'none of those tried'}`
      : '';
    const trialTables =
      rows.length > 1
        ? [
            formatTable(rows, [false, false, false, true, true, true, true, true]),
      'ms, median (min-max); VRRPv3 unicast at 100 ms adverts (Master_Down 360 ms), BFD multiplier 3; death = `ip link set eth0 down`',
      'in the MASTER or SIGKILL of its daemon, at a random phase; client gap = longest silence between answers to UDP probes every 1 ms.',
      '',
      formatTable(whereRows, [false, false, false, true, true, true, true, true, true]),
      'where the time goes, ms, median (min-max): death -> detection by lb2\'s BFD thread, then from detection: instance map written (native),',
      'first announcement sent, JS got the BFD event, engine decided MASTER; and announcement sendto -> GARP on the client\'s wire.',
      'takeover native: the BFD thread\'s armed takeover; js: the engine on the event loop (VIPD_BFD_NATIVE_TAKEOVER=0), the path before.',
      '',
            formatTable(cpuRows, [false, true, true, true, true]),
            `daemon CPU, % of one core over ${CPU_WINDOW_MS / 1000} s, idle pair past its start-up GC, same run: utime+stime (10 ms ticks: +-0.1 and noisy)`,
            `and the scheduler's exact account (/proc/PID/task/*/schedstat, all threads).`,
            '',
          ]
        : [];
    const table = [
      ...trialTables,
      ...(soakRows.length > 1 ? [formatTable(soakRows, [false, true, true, true, true, false]), 'soak: both daemons stall their event loop 100 ms every second.', heldLine] : []),
    ].join('\n');
    return {
      json: { intervals: results, noBfdCpu, fastestHeldMs: held?.intervalMs ?? null, method: { advertInterval: ADVERT_S, multiplier: MULTIPLIER, probesEveryMs: PROBE_EVERY_MS, soakSeconds: soakS } },
      table,
      files: [],
      skipped: [],
    };
  },
};
