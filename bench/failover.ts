/**
 * Failover: what a client sees when the MASTER's link goes down, for vipd
 * (two vipd hosts) and keepalived (two keepalived 2.2.7 hosts) in the same
 * topology (scripts/topology.ts Site: client, lb1, lb2, rs1, rs2 on one
 * bridge), at advertisement intervals of 1 s, 100 ms and 10 ms (VRRPv3,
 * priorities 150 / 100, preempt on).
 *
 * Per trial:
 *  - the client sends a UDP probe to VIP:8080 every millisecond and records
 *    when each answer arrives (CLOCK_MONOTONIC, process.hrtime);
 *  - tcpdump on the client waits for the new MASTER's first gratuitous ARP
 *    (ARP request, sender IP = target IP = VIP, from lb2's MAC), nanosecond
 *    timestamps;
 *  - `ip link set eth0 down` in lb1 (the MASTER), written to an `ip -batch -`
 *    already running in lb1, so it takes effect within microseconds of the
 *    moment recorded as the MASTER's death;
 *  - figures: the longest silence between two answers around the event
 *    ("client gap"), and death -> first GARP on the client's wire;
 *  - lb1's link comes back, lb1 preempts, and the next trial waits for
 *    lb1 MASTER / lb2 BACKUP and a steady probe stream.
 *
 * Who answers the probes: with vipd, the MASTER's XDP program forwards them
 * to rs1/rs2 (direct routing; they answer from the VIP). keepalived has no
 * data plane and this kernel has no IPVS (/proc/net/ip_vs is absent), so
 * each keepalived host runs a UDP echo bound to the VIP (ip_nonlocal_bind):
 * the VIP is on its interface exactly while it is MASTER, so the client gets
 * answers from whichever host holds the VIP: the same client-visible gap
 * LVS-DR on that host would give (LVS adds nothing to the election).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_PORT, Site, VIP, sleep } from '../scripts/topology.js';
import { Keepalived } from '../test/helpers/keepalived.js';
import { haveCommand, netnsUnavailable, type Namespace, type NodeChild } from '../test/helpers/netns.js';
import { type BenchContext, type Section, type SectionOutcome, type Skip, type Summary, fmt, formatTable, summarize } from './lib.js';
import { barChart } from './svg.js';

type Kind = 'vipd' | 'keepalived';

interface Trial {
  /** Longest silence between two answers the client received around the event (ms). */
  gapMs: number;
  /** MASTER death (link down) -> the answer that ended the longest silence (ms). */
  deathToReplyMs: number;
  /** MASTER death -> the new MASTER's first gratuitous ARP seen on the client (ms). */
  deathToGarpMs: number;
  /**
   * The old MASTER's last advert seen on the client -> the new MASTER's first
   * GARP (ms): the death's phase within the advert interval taken out, so
   * this is the election's own time (Master_Down + reaction).
   */
  lastAdvertToGarpMs: number;
  /** vipd only: its own vipd_failover_seconds (election decision -> first announcement handed to the kernel), ms. */
  daemonFailoverMs?: number;
  /** How long after that advert reached the client the link went down (ms): the bench's reaction. */
  deathAfterAdvertMs: number;
  /** Last answer before the death, relative to it (ms, <= 0). */
  lastReplyMs: number;
}

interface IntervalResult {
  advertIntervalMs: number;
  trials: Trial[];
  gapMs: Summary;
  deathToGarpMs: Summary;
  deathToReplyMs: Summary;
  lastAdvertToGarpMs: Summary;
  /** vipd only: its own decision -> first announcement (vipd_failover_seconds), ms. */
  daemonFailoverMs?: Summary;
  /** Trials repeated because a spurious failover happened before the planned one. */
  spurious: number;
  /** Trials that produced no figure, and why. */
  failed: string[];
}

const INTERVALS = [1, 0.1, 0.01] as const;
export const PRIORITIES: [number, number] = [150, 100];
const PROBE_EVERY_MS = 1;

/** The client's prober: a UDP datagram to VIP:8080 every ms; answers timestamped (CLOCK_MONOTONIC ns). */
export const PROBE_SCRIPT = `
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';
const [vip, port, everyMs] = process.argv.slice(2);
const sock = dgram.createSocket('udp4');
let replies = [];
let sent = 0;
sock.on('message', () => replies.push(Number(process.hrtime.bigint())));
sock.on('error', () => {});
sock.bind(0, () => {
  const buf = Buffer.alloc(16);
  setInterval(() => {
    buf.writeUInt32BE(sent++);
    sock.send(buf, Number(port), vip, () => {});
  }, Number(everyMs));
});
createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, op, args } = JSON.parse(line);
  const from = args.from ?? 0;
  // Keep 60 s of history.
  const horizon = Number(process.hrtime.bigint()) - 60e9;
  if (replies.length > 100000) replies = replies.filter((t) => t >= horizon);
  let result;
  if (op === 'since') result = replies.filter((t) => t >= from);
  else if (op === 'count') result = replies.filter((t) => t >= from).length;
  process.stdout.write(JSON.stringify({ id, ok: true, result }) + '\\n');
});
`;

export const monoNs = (): number => Number(process.hrtime.bigint());

/**
 * CLOCK_REALTIME minus CLOCK_MONOTONIC in ns, to put tcpdump's (realtime)
 * timestamps on the probes' (monotonic) time line: spin until Date.now()
 * ticks, which pins the realtime millisecond edge to a monotonic reading.
 */
export function realMinusMonoNs(): number {
  const samples: number[] = [];
  for (let k = 0; k < 3; k++) {
    const d0 = Date.now();
    let before = monoNs();
    let d = d0;
    let after = before;
    while (d === d0) {
      before = after;
      d = Date.now();
      after = monoNs();
    }
    samples.push(d * 1e6 - (before + after) / 2);
  }
  samples.sort((a, b) => a - b);
  return samples[1];
}

export interface WireEvent {
  kind: 'garp' | 'advert';
  /** Kernel receive time on the client, realtime ns. */
  tsNs: number;
  /** CLOCK_MONOTONIC ns when the bench read the line. */
  readNs: number;
}

/**
 * tcpdump on the client, live (--immediate-mode, one line per packet with
 * nanosecond timestamps): gratuitous ARPs for the VIP from `newMac` and VRRP
 * adverts from `oldMac`. `onEvent` runs as each line arrives.
 */
export function watchWire(ns: Namespace, oldMac: string, newMac: string, onEvent: (e: WireEvent) => void): { ready: Promise<void>; events: WireEvent[]; stop(): Promise<void> } {
  const hex = `0x${VIP.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('')}`;
  const filter =
    `(arp and ether src ${newMac} and arp[6:2] = 1 and arp[14:4] = ${hex} and arp[24:4] = ${hex})` +
    ` or (ip proto 112 and ether src ${oldMac})`;
  const child = ns.spawn('tcpdump', ['-i', 'eth0', '-Z', 'root', '-l', '-n', '-e', '-tt', '--immediate-mode', '--time-stamp-precision=nano', filter]);
  const events: WireEvent[] = [];
  let err = '';
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const readNs = monoNs();
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const m = /^(\d+)\.(\d{9}) /.exec(line);
      if (!m) continue;
      const e: WireEvent = {
        kind: line.includes('ethertype ARP') ? 'garp' : 'advert',
        tsNs: Number(m[1]) * 1e9 + Number(m[2]),
        readNs,
      };
      events.push(e);
      onEvent(e);
    }
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (err.includes('listening on')) resolve();
    });
    child.once('exit', () => reject(new Error(`tcpdump exited before listening: ${err}`)));
  });
  ready.catch(() => {});
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    ready,
    events,
    async stop() {
      child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** One pair of daemons in a Site, driven the same way whatever they are. */
interface Pair {
  kind: Kind;
  site: Site;
  start(intervalS: number): Promise<void>;
  /** lb1 MASTER, lb2 BACKUP. */
  waitSteady(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

function vipdPair(site: Site): Pair {
  return {
    kind: 'vipd',
    site,
    async start(intervalS) {
      site.opts.advertInterval = intervalS;
      site.startDaemon(0);
      site.startDaemon(1);
    },
    async waitSteady(timeoutMs) {
      await site.waitState(0, 'MASTER', timeoutMs);
      await site.waitState(1, 'BACKUP', timeoutMs);
    },
    async stop() {
      await site.stopDaemon(1, 'SIGTERM');
      await site.stopDaemon(0, 'SIGTERM');
    },
  };
}

function keepalivedPair(site: Site): Pair {
  const kas: (Keepalived | undefined)[] = [undefined, undefined];
  const dirs = [site.lab.tmpDir(), site.lab.tmpDir()];
  return {
    kind: 'keepalived',
    site,
    async start(intervalS) {
      for (let i = 0; i < 2; i++) {
        kas[i] = await Keepalived.start(site.lbs[i], {
          dir: dirs[i],
          priority: PRIORITIES[i],
          advertInterval: intervalS,
          version: 3,
          vrid: 51,
          vips: [`${VIP}/32`],
        });
      }
    },
    async waitSteady(timeoutMs) {
      await kas[0]!.waitState('MASTER', timeoutMs);
      await kas[1]!.waitState('BACKUP', timeoutMs);
    },
    async stop() {
      for (const ka of kas) await ka?.stop().catch(() => ka.crash());
    },
  };
}

/** Waits until the probes are answered steadily (the client's ARP entry points at the MASTER). */
export async function waitAnswered(probe: NodeChild, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const n = await probe.call<number>('count', { from: monoNs() - 100e6 });
    if (n >= 60) return;
    if (Date.now() > until) throw new Error(`the client's probes are not answered (${n} answers in the last 100 ms)`);
    await sleep(50);
  }
}

/** A trial that must be repeated: something other than the planned failover happened. */
export class Spoiled extends Error {}

/**
 * One failover. The MASTER dies right after one of its adverts reached the
 * client (the bench reacts to tcpdump's line for it, ~1 ms later): every
 * trial, for both daemons, starts at the same phase of the advert cycle,
 * the worst one (a whole Master_Down to wait), so few trials give a stable
 * median and the two daemons are compared like for like.
 */
async function runTrial(pair: Pair, probe: NodeChild, ipBatch: ChildProcess, intervalS: number): Promise<Trial> {
  const { site } = pair;
  const ms = intervalS * 1000;
  let armed = false;
  let t0 = 0;
  let killedAfter: WireEvent | undefined;
  let died!: () => void;
  const death = new Promise<void>((resolve) => (died = resolve));
  const wire = watchWire(site.client, site.lbMac(0), site.lbMac(1), (e) => {
    if (!armed || e.kind !== 'advert') return;
    armed = false;
    t0 = monoNs();
    ipBatch.stdin!.write('link set eth0 down\n');
    killedAfter = e;
    died();
  });
  try {
    await wire.ready;
    await sleep(Math.min(ms, 50));
    const offset = realMinusMonoNs();
    armed = true;
    const noAdvert = setTimeout(() => died(), 3 * ms + 2000);
    await death;
    clearTimeout(noAdvert);
    if (killedAfter === undefined) throw new Error('no advert from the MASTER seen on the client');
    // Wait for answers to come back for a while (50 ms of them), or give up.
    const until = Date.now() + 4 * ms + 3000;
    let replies: number[] = [];
    for (;;) {
      await sleep(Math.max(20, ms / 2));
      replies = await probe.call<number[]>('since', { from: t0 - 20e6 });
      if (replies.filter((t) => t > t0).length >= 50 && wire.events.some((e) => e.kind === 'garp')) break;
      if (Date.now() > until) break;
    }
    const real0 = t0 + offset;
    const garpsBefore = wire.events.filter((e) => e.kind === 'garp' && e.tsNs <= real0);
    if (garpsBefore.length) {
      throw new Spoiled(`lb2 announced the VIP ${fmt((real0 - garpsBefore[0].tsNs) / 1e6)} ms before the link went down (a spurious failover)`);
    }
    const garp = wire.events.find((e) => e.kind === 'garp' && e.tsNs > real0);
    const before = replies.filter((t) => t <= t0);
    const after = replies.filter((t) => t > t0);
    if (garp === undefined) throw new Error('no gratuitous ARP from the new MASTER within the window');
    if (after.length === 0) throw new Error('the client got no answer after the failover');
    // The longest silence, and the first answer that ended it.
    let gap = 0;
    let resumed = after[0];
    for (let k = 1; k < replies.length; k++) {
      if (replies[k] - replies[k - 1] > gap) {
        gap = replies[k] - replies[k - 1];
        resumed = replies[k];
      }
    }
    return {
      gapMs: gap / 1e6,
      deathToReplyMs: (resumed - t0) / 1e6,
      deathToGarpMs: (garp.tsNs - real0) / 1e6,
      lastAdvertToGarpMs: (garp.tsNs - killedAfter.tsNs) / 1e6,
      deathAfterAdvertMs: (real0 - killedAfter.tsNs) / 1e6,
      lastReplyMs: before.length ? (before[before.length - 1] - t0) / 1e6 : Number.NaN,
    };
  } finally {
    armed = false;
    await wire.stop();
    ipBatch.stdin!.write('link set eth0 up\n');
  }
}

async function runPair(ctx: BenchContext, pair: Pair, trialsFor: (s: number) => number): Promise<IntervalResult[]> {
  const { site } = pair;
  const tmp = site.lab.tmpDir();
  const probeFile = join(tmp, 'probe.mjs');
  writeFileSync(probeFile, PROBE_SCRIPT);
  // Probes start once a MASTER is there (an unanswered ARP makes the client's entry FAILED).
  let prober: NodeChild | undefined;
  const startProbe = (): NodeChild => (prober ??= site.client.node(probeFile, [VIP, String(SERVICE_PORT), String(PROBE_EVERY_MS)]));
  const ipBatch = site.lbs[0].spawn('ip', ['-batch', '-']);
  const out: IntervalResult[] = [];
  try {
    for (const intervalS of INTERVALS) {
      const ms = intervalS * 1000;
      const steadyTimeout = 4 * ms + 10_000;
      await pair.start(intervalS);
      const trials: Trial[] = [];
      const failed: string[] = [];
      let spurious = 0;
      const n = trialsFor(intervalS);
      for (let k = 0, attempts = 0; k < n && attempts < n + 3; attempts++) {
        try {
          await pair.waitSteady(steadyTimeout);
          await sleep(Math.max(300, 3 * ms));
          const probe = startProbe();
          await waitAnswered(probe, 5000).catch((err: Error) => {
            throw new Error(`${err.message}; client neighbours: ${site.client.ip(['neigh', 'show', 'dev', 'eth0']).trim().replace(/\n/g, ' | ')}`);
          });
          const t = await runTrial(pair, probe, ipBatch, intervalS);
          if (pair.kind === 'vipd') {
            const s = await site.status(1).catch(() => undefined);
            const f = s?.instances[0]?.lastFailoverSeconds;
            if (typeof f === 'number') t.daemonFailoverMs = f * 1000;
          }
          trials.push(t);
          k++;
          ctx.progress(
            `failover: ${pair.kind} @${ms} ms trial ${k}/${n}: client gap ${fmt(t.gapMs)} ms, death -> GARP ${fmt(t.deathToGarpMs)} ms` +
              ` (last advert -> GARP ${fmt(t.lastAdvertToGarpMs)} ms), death -> answers again ${fmt(t.deathToReplyMs)} ms` +
              (t.daemonFailoverMs === undefined ? '' : `, vipd decision -> GARP ${fmt(t.daemonFailoverMs, 2)} ms`),
          );
        } catch (err) {
          const msg = (err as Error).message;
          ipBatch.stdin!.write('link set eth0 up\n');
          if (err instanceof Spoiled) {
            spurious++;
            ctx.progress(`failover: ${pair.kind} @${ms} ms: trial repeated: ${msg}`);
            continue;
          }
          failed.push(msg);
          k++;
          ctx.progress(`failover: ${pair.kind} @${ms} ms trial ${k}/${n}: FAILED: ${msg}`);
        }
      }
      await pair.stop();
      out.push({
        advertIntervalMs: ms,
        trials,
        gapMs: summarize(trials.map((t) => t.gapMs)),
        deathToGarpMs: summarize(trials.map((t) => t.deathToGarpMs)),
        deathToReplyMs: summarize(trials.map((t) => t.deathToReplyMs)),
        lastAdvertToGarpMs: summarize(trials.map((t) => t.lastAdvertToGarpMs)),
        ...(pair.kind === 'vipd' ? { daemonFailoverMs: summarize(trials.flatMap((t) => (t.daemonFailoverMs === undefined ? [] : [t.daemonFailoverMs]))) } : {}),
        spurious,
        failed,
      });
    }
  } finally {
    ipBatch.stdin!.end();
    await prober?.stop(500);
    await pair.stop().catch(() => undefined);
  }
  return out;
}

function cell(s: Summary | undefined): string {
  if (!s || s.n === 0) return '-';
  return `${fmt(s.median)} (${fmt(s.min)}-${fmt(s.max)})`;
}

function chartPanel(results: Partial<Record<Kind, IntervalResult[]>>, ms: number): string {
  const bars = [];
  for (const kind of ['vipd', 'keepalived'] as const) {
    const r = results[kind]?.find((x) => x.advertIntervalMs === ms);
    if (!r || r.trials.length === 0) continue;
    bars.push(
      { label: `${kind}: death -> first GARP`, value: r.deathToGarpMs.median, min: r.deathToGarpMs.min, max: r.deathToGarpMs.max, group: kind },
      {
        label: `${kind}: last advert -> first GARP`,
        value: r.lastAdvertToGarpMs.median,
        min: r.lastAdvertToGarpMs.min,
        max: r.lastAdvertToGarpMs.max,
        group: kind,
      },
      { label: `${kind}: client gap`, value: r.gapMs.median, min: r.gapMs.min, max: r.gapMs.max, group: kind },
    );
  }
  return barChart({
    title: `Failover at ${ms} ms adverts (MASTER link down)`,
    subtitle: 'VRRPv3, 2 hosts, 150/100; median of trials, whiskers min..max; UDP probes every 1 ms',
    unit: 'ms',
    digits: 1,
    bars,
  });
}

/** Stacks the per-interval charts (each its own scale) into one SVG. */
function stackSvgs(svgs: string[]): string {
  let y = 0;
  let width = 0;
  const parts: string[] = [];
  for (const s of svgs) {
    const w = Number(/width="(\d+(?:\.\d+)?)"/.exec(s)?.[1] ?? 600);
    const h = Number(/height="(\d+(?:\.\d+)?)"/.exec(s)?.[1] ?? 200);
    parts.push(s.replace('<svg ', `<svg y="${y}" `));
    y += h + 10;
    width = Math.max(width, w);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}">\n${parts.join('\n')}</svg>\n`;
}

export const failover: Section = {
  key: 'failover',
  title: 'Failover: MASTER link down, vipd beside keepalived',
  requires: { root: true, native: true, objects: ['out/bpf/vipd.bpf.o', 'out/test/progs/xdp_pass.bpf.o'] },
  async run(ctx: BenchContext): Promise<SectionOutcome> {
    const skipped: Skip[] = [];
    const why = netnsUnavailable() ?? (haveCommand('tcpdump') ? undefined : 'tcpdump is not installed');
    if (why) throw new Error(`failover: ${why}`);
    const trialsFor = (s: number): number => (ctx.quick ? 1 : s >= 1 ? 3 : 5);
    const results: Partial<Record<Kind, IntervalResult[]>> = {};
    const kinds: Kind[] = ['vipd'];
    if (haveCommand('keepalived')) kinds.push('keepalived');
    else skipped.push({ what: 'keepalived', why: 'keepalived is not installed (apt-get install keepalived)' });
    if (!existsSync('/proc/net/ip_vs')) {
      skipped.push({
        what: 'keepalived with LVS/IPVS',
        why: 'this kernel has no IPVS (/proc/net/ip_vs is absent): keepalived hosts answer the probes themselves (UDP echo on the VIP)',
      });
    }
    for (const kind of kinds) {
      ctx.progress(`failover: ${kind}: building the site`);
      const site = await Site.create({
        label: kind === 'vipd' ? 'fov' : 'fok',
        version: 3,
        priorities: PRIORITIES,
        healthCheck: 'none',
        vipdHosts: kind === 'vipd' ? [true, true] : [false, false],
      });
      try {
        if (kind === 'keepalived') for (const i of [0, 1]) await site.startLocalEcho(i);
        const pair = kind === 'vipd' ? vipdPair(site) : keepalivedPair(site);
        results[kind] = await runPair(ctx, pair, trialsFor);
      } finally {
        await site.cleanup();
      }
    }

    const rows: string[][] = [['advert', 'daemon', 'client gap', 'death -> GARP', 'last advert -> GARP', 'death -> answers', 'decision -> GARP', 'trials', 'spurious']];
    const goals: { advertIntervalMs: number; vipdNotSlower: boolean | null }[] = [];
    for (const s of INTERVALS) {
      const ms = s * 1000;
      const v = results.vipd?.find((r) => r.advertIntervalMs === ms);
      const k = results.keepalived?.find((r) => r.advertIntervalMs === ms);
      for (const [kind, r] of [['vipd', v], ['keepalived', k]] as const) {
        if (!r) continue;
        rows.push([
          `${ms} ms`,
          kind,
          cell(r.gapMs),
          cell(r.deathToGarpMs),
          cell(r.lastAdvertToGarpMs),
          cell(r.deathToReplyMs),
          r.daemonFailoverMs ? cell(r.daemonFailoverMs) : '-',
          `${r.trials.length}${r.failed.length ? ` (+${r.failed.length} failed)` : ''}`,
          String(r.spurious),
        ]);
      }
      const ok = v && k && v.trials.length && k.trials.length ? v.deathToGarpMs.median <= k.deathToGarpMs.median && v.gapMs.median <= k.gapMs.median : null;
      goals.push({ advertIntervalMs: ms, vipdNotSlower: ok });
    }
    const v10 = results.vipd?.find((r) => r.advertIntervalMs === 10);
    const under50 = v10 && v10.trials.length ? v10.deathToGarpMs.median < 50 : null;
    const notSlower = goals.some((g) => g.vipdNotSlower !== null) ? goals.every((g) => g.vipdNotSlower !== false) : null;
    const verdict = (b: boolean | null): string => (b === null ? 'not measured' : b ? 'MET' : 'NOT MET');
    const table = [
      formatTable(rows, [false, false, true, true, true, true, true, true, true]),
      'ms, median (min-max). death = `ip link set eth0 down` on the MASTER, ~1 ms after one of its adverts reached the client;',
      'client gap = longest silence between answers to UDP probes sent every 1 ms; GARP = the new MASTER\'s first gratuitous ARP on the client;',
      'death -> answers = until the answer that ended the longest silence; decision -> GARP = vipd_failover_seconds (vipd\'s own clock);',
      'spurious = trials repeated because the BACKUP took over before the link went down.',
      `goal: vipd at 10 ms, death -> first GARP under 50 ms: ${verdict(under50)} (${fmt(v10?.deathToGarpMs.median ?? Number.NaN)} ms)`,
      `goal: vipd never slower than keepalived (medians of client gap and death -> GARP, each interval): ${verdict(notSlower)}` +
        goals.map((g) => ` ${g.advertIntervalMs} ms ${g.vipdNotSlower === null ? '-' : g.vipdNotSlower ? 'yes' : 'NO'}`).join(','),
      ...Object.entries(results).flatMap(([kind, rs]) => rs.flatMap((r) => r.failed.map((f) => `${kind} @${r.advertIntervalMs} ms: trial failed: ${f}`))),
    ].join('\n');

    const svgFile = join(ctx.resultsDir, 'failover.svg');
    writeFileSync(svgFile, stackSvgs(INTERVALS.map((s) => chartPanel(results, s * 1000))));
    return {
      json: {
        ...results,
        goals: { vipdAt10msUnder50ms: under50, vipdNeverSlower: notSlower, perInterval: goals },
        method: {
          death: 'ip link set eth0 down in the MASTER (lb1), via a running `ip -batch -`, as soon as the bench reads (live tcpdump) that one of its adverts reached the client',
          probesEveryMs: PROBE_EVERY_MS,
          garp: 'tcpdump on the client (--immediate-mode, ns timestamps): first ARP request from the new MASTER with sender IP = target IP = VIP',
          clocks: 'probe answers and the death on CLOCK_MONOTONIC; tcpdump on CLOCK_REALTIME, mapped with an offset read at each trial',
          keepalivedDataPath: 'UDP echo bound to the VIP on each keepalived host (no IPVS in this kernel)',
          vipdDataPath: 'XDP direct routing to rs1/rs2',
          priorities: PRIORITIES,
          version: 3,
        },
      },
      table,
      files: [svgFile],
      skipped,
    };
  },
};
