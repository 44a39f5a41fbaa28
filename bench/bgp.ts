/**
 * BGP active-active: the site (scripts/bgp-topology.ts, the same one
 * `npm run demo -- --bgp` and test/netns/bgp-ecmp.test.ts use): a client, a
 * BIRD 2 router doing ECMP with an L4 hash, three vipd hosts announcing one
 * VIP (announce: bgp, BFD 100 ms x 3) and two real servers answering the
 * client directly (DR).
 *
 * The client's probe is UDP: FLOWS sockets (one source port each, so one
 * ECMP path each), a probe every PROBE_EVERY_MS per flow; per flow it keeps
 * the longest silence between answers and which real servers answered.
 *
 * Figures:
 *  - spread: packets each host's XDP program forwarded for the probe;
 *  - per trial, a host dies (SIGKILL of vipd, its link up; or its link down,
 *    vipd running): whether every flow kept its real server, how many flows
 *    moved host (they lost probes: they were on the dead host), the moved
 *    flows' longest gap (goal <= 300 ms with BFD), the other flows' longest
 *    gap (the client's own stalls: the noise floor), and death -> route
 *    without the host on the router;
 *  - graceful stop (SIGTERM): probes lost (goal 0);
 *  - every backend failing one host's health checks -> its route gone.
 *
 * An idle probe (nothing happens) first gives the noise floor: on a loaded
 * machine veth rings drop frames (and may drop BFD packets too) when their
 * consumer does not run in time, whatever vipd does.
 *
 * Every probe run is bounded (count and time: BgpSite.udpProbe), every wait
 * has a deadline, and the site (namespaces, BIRD, vipd) is removed at the end.
 */
import { BGP_LBS, BGP_REALS, BgpSite } from '../scripts/bgp-topology.js';
import { sleep } from '../scripts/topology.js';
import { haveCommand, netnsUnavailable } from '../test/helpers/netns.js';
import { type BenchContext, type Section, type SectionOutcome, type Skip, type Summary, fmt, formatTable, summarize } from './lib.js';
import { barChart } from './svg.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FLOWS = 24;
const PROBE_EVERY_MS = 5;
/**
 * A flow that lost probes was on the dead host: the others lose none. (A gap
 * alone does not tell: on a loaded machine the client's own timer stalls
 * show in every flow's gaps, and a SIGKILLed vipd's pinned program keeps
 * forwarding, so its flows may move without a gap at all.)
 */
const MOVED_LOST = 2;
const GAP_GOAL_MS = 300;

type Death = 'SIGKILL' | 'link down';

interface KillTrial {
  death: Death;
  /** Death -> the router's route without the dead host (ms). */
  routeGoneMs: number;
  /** Flows answered by more than one real server over the trial (goal 0). */
  changedServer: number;
  /** Flows that lost probes: they were on the dead host and moved. */
  moved: number;
  /** The longest gap of a moved flow (ms; 0 when none moved). */
  movedGapMs: number;
  /** The longest gap of the flows that stayed on their host (ms). */
  othersGapMs: number;
  lost: number;
  sent: number;
}

interface KillSummary {
  death: Death;
  trials: KillTrial[];
  routeGoneMs: Summary;
  movedGapMs: Summary;
  othersGapMs: Summary;
  changedServer: number;
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Starts host i's vipd (again) and waits until the router has all three hosts. */
async function bringUp(site: BgpSite, i: number): Promise<void> {
  site.lbs[i]!.ip(['link', 'set', 'eth0', 'up']);
  const child = site.daemons[i];
  if (!child || child.exitCode !== null || child.signalCode !== null) site.startDaemon(i);
  await site.waitHops(BGP_LBS, performance.now(), 60_000);
}

async function killTrial(site: BgpSite, victim: number, death: Death): Promise<KillTrial> {
  const durationMs = 4000;
  const probe = site.udpProbe({ sockets: FLOWS, everyMs: PROBE_EVERY_MS, durationMs });
  // Awaited below; a failure before that must not be an unhandled rejection.
  probe.catch(() => undefined);
  // Traffic flowing through the victim first.
  const base = await site.servicePackets(victim, 'web-udp');
  await until('probes through the victim', async () => ((await site.servicePackets(victim, 'web-udp')) > base + 100 ? true : undefined), 3000);
  const t0 = performance.now();
  if (death === 'SIGKILL') site.daemons[victim]!.kill('SIGKILL');
  else site.lbs[victim]!.ip(['link', 'set', 'eth0', 'down']);
  const want = BGP_LBS.filter((_, k) => k !== victim);
  const routeGoneMs = await site.waitHops(want, t0, 10_000);
  const { flows } = await probe;
  const moved = flows.filter((f) => f.sent - f.received >= MOVED_LOST);
  const stayed = flows.filter((f) => f.sent - f.received < MOVED_LOST);
  return {
    death,
    routeGoneMs,
    changedServer: flows.filter((f) => f.servers.length !== 1).length,
    moved: moved.length,
    movedGapMs: Math.max(0, ...moved.map((f) => f.maxGapMs)),
    othersGapMs: Math.max(0, ...stayed.map((f) => f.maxGapMs)),
    lost: flows.reduce((n, f) => n + f.sent - f.received, 0),
    sent: flows.reduce((n, f) => n + f.sent, 0),
  };
}

function summarizeKills(death: Death, trials: KillTrial[]): KillSummary {
  return {
    death,
    trials,
    routeGoneMs: summarize(trials.map((t) => t.routeGoneMs)),
    movedGapMs: summarize(trials.map((t) => t.movedGapMs)),
    othersGapMs: summarize(trials.map((t) => t.othersGapMs)),
    changedServer: trials.reduce((n, t) => n + t.changedServer, 0),
  };
}

async function run(ctx: BenchContext): Promise<SectionOutcome> {
  const skipped: Skip[] = [];
  const rounds = ctx.quick ? 1 : 3;
  ctx.progress('bgp: building the site (router BIRD 2, 3 vipd hosts, 2 real servers)');
  const site = await BgpSite.create('bench-bgp');
  try {
    for (let i = 0; i < BGP_LBS.length; i++) site.startDaemon(i);
    await site.waitHops(BGP_LBS, performance.now(), 60_000);

    // Spread: each host's own XDP counters over one probe run.
    const before = await Promise.all(BGP_LBS.map((_, i) => site.servicePackets(i, 'web-udp')));
    const spreadRun = await site.udpProbe({ sockets: FLOWS, everyMs: PROBE_EVERY_MS, durationMs: 1500 });
    const after = await Promise.all(BGP_LBS.map((_, i) => site.servicePackets(i, 'web-udp')));
    const perHost = after.map((n, i) => n - (before[i] ?? 0));
    const spreadServers = new Set(spreadRun.flows.flatMap((f) => f.servers));
    ctx.progress(`bgp: spread ${perHost.join(' / ')} packets over lb1..lb3; real servers ${[...spreadServers].join(', ')}`);

    // The noise floor: the same probe with nothing happening. On a loaded machine veth rings drop
    // frames when their consumer does not run in time; losses here are the machine's, not vipd's.
    const idle = await site.udpProbe({ sockets: FLOWS, everyMs: PROBE_EVERY_MS, durationMs: 4500 });
    const idleLost = idle.flows.reduce((n, f) => n + f.sent - f.received, 0);
    const idleSent = idle.flows.reduce((n, f) => n + f.sent, 0);
    const idleGap = Math.max(...idle.flows.map((f) => f.maxGapMs));
    ctx.progress(`bgp: idle: ${idleLost} of ${idleSent} probes lost, longest gap ${idleGap} ms`);

    // Deaths: the victim rotates over the hosts; it comes back between trials.
    const kills: KillSummary[] = [];
    for (const death of ['SIGKILL', 'link down'] as const) {
      const trials: KillTrial[] = [];
      for (let r = 0; r < rounds; r++) {
        const victim = r % BGP_LBS.length;
        const t = await killTrial(site, victim, death);
        ctx.progress(
          `bgp: ${death} lb${victim + 1}: route gone ${fmt(t.routeGoneMs, 0)} ms, ${t.moved} flows moved (gap ${t.movedGapMs} ms), others' gap ${t.othersGapMs} ms, ${t.changedServer} changed server`,
        );
        trials.push(t);
        await bringUp(site, victim);
      }
      kills.push(summarizeKills(death, trials));
    }

    // Graceful stop: withdraw, forward for gracePeriod (2 s), exit. Lost probes: goal 0.
    const graceful: { lost: number; sent: number; changedServer: number; routeGoneMs: number; exitedMs: number }[] = [];
    for (let r = 0; r < rounds; r++) {
      const victim = (r + 1) % BGP_LBS.length;
      const probe = site.udpProbe({ sockets: FLOWS, everyMs: PROBE_EVERY_MS, durationMs: 4500 });
      probe.catch(() => undefined);
      await sleep(500);
      const child = site.daemons[victim]!;
      const t0 = performance.now();
      let exitedMs = 0;
      const exited = new Promise<void>((resolve) => child.once('exit', () => ((exitedMs = performance.now() - t0), resolve())));
      child.kill('SIGTERM');
      const routeGoneMs = await site.waitHops(
        BGP_LBS.filter((_, k) => k !== victim),
        t0,
        10_000,
      );
      await Promise.race([exited, sleep(10_000)]);
      const { flows } = await probe;
      const g = {
        lost: flows.reduce((n, f) => n + f.sent - f.received, 0),
        sent: flows.reduce((n, f) => n + f.sent, 0),
        changedServer: flows.filter((f) => f.servers.length !== 1).length,
        routeGoneMs,
        exitedMs,
      };
      ctx.progress(`bgp: SIGTERM lb${victim + 1}: ${g.lost} of ${g.sent} probes lost, route gone ${fmt(routeGoneMs, 0)} ms, exited ${fmt(exitedMs, 0)} ms`);
      graceful.push(g);
      await bringUp(site, victim);
    }

    // Every backend failing lb1's health checks: its route goes; back when they pass.
    const withdrawMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const a of BGP_REALS) site.lbs[0]!.ip(['route', 'add', 'blackhole', `${a}/32`]);
      const t0 = performance.now();
      withdrawMs.push(await site.waitHops([BGP_LBS[1], BGP_LBS[2]], t0, 10_000));
      for (const a of BGP_REALS) site.lbs[0]!.ip(['route', 'del', 'blackhole', `${a}/32`]);
      await site.waitHops(BGP_LBS, performance.now(), 10_000);
    }
    ctx.progress(`bgp: backends down -> withdrawn ${withdrawMs.map((m) => fmt(m, 0)).join(', ')} ms`);

    const rows: string[][] = [['figure', 'median', 'min', 'max', 'n', 'goal']];
    rows.push(['idle (nothing happens): probes lost', `${idleLost} of ${idleSent}`, '', '', '1', '']);
    rows.push(['idle (nothing happens): longest gap (ms)', String(idleGap), '', '', '1', '']);
    rows.push(['spread: packets per host lb1 / lb2 / lb3', perHost.join(' / '), '', '', '1', 'all > 0: ' + (perHost.every((n) => n > 0) ? 'MET' : 'NOT MET')]);
    for (const k of kills) {
      rows.push([`${k.death}: death -> route without the host (ms)`, fmt(k.routeGoneMs.median), fmt(k.routeGoneMs.min), fmt(k.routeGoneMs.max), String(k.routeGoneMs.n), '']);
      rows.push([
        `${k.death}: dead host's flows, longest gap (ms)`,
        fmt(k.movedGapMs.median),
        fmt(k.movedGapMs.min),
        fmt(k.movedGapMs.max),
        String(k.movedGapMs.n),
        `<= ${GAP_GOAL_MS}: ${k.movedGapMs.max <= GAP_GOAL_MS ? 'MET' : 'NOT MET'}`,
      ]);
      rows.push([`${k.death}: other flows, longest gap (ms)`, fmt(k.othersGapMs.median), fmt(k.othersGapMs.min), fmt(k.othersGapMs.max), String(k.othersGapMs.n), '']);
      rows.push([
        `${k.death}: flows that changed real server`,
        String(k.changedServer),
        '',
        '',
        String(k.trials.length * FLOWS),
        `0: ${k.changedServer === 0 ? 'MET' : 'NOT MET'}`,
      ]);
    }
    const lost = graceful.reduce((n, g) => n + g.lost, 0);
    const sent = graceful.reduce((n, g) => n + g.sent, 0);
    rows.push(['SIGTERM: probes lost', `${lost} of ${sent}`, '', '', String(graceful.length), `0: ${lost === 0 ? 'MET' : 'NOT MET'}`]);
    const gr = summarize(graceful.map((g) => g.routeGoneMs));
    rows.push(['SIGTERM -> route without the host (ms)', fmt(gr.median), fmt(gr.min), fmt(gr.max), String(gr.n), '']);
    const wd = summarize(withdrawMs);
    rows.push(['all backends down -> route withdrawn (ms)', fmt(wd.median), fmt(wd.min), fmt(wd.max), String(wd.n), '']);
    const table =
      formatTable(rows, [false, true, true, true, true, false]) +
      `\n(${FLOWS} UDP flows, a probe every ${PROBE_EVERY_MS} ms each; a flow that lost >= ${MOVED_LOST} probes was on the dead host, the other flows' gap is the client's own stalls; BFD 100 ms x 3; health checks 0.2 s, fall 2)`;

    const chart = join(ctx.resultsDir, 'bgp.svg');
    writeFileSync(
      chart,
      barChart({
        title: 'BGP: a vipd host dies, longest client gap (ms)',
        subtitle: `${FLOWS} UDP flows, probe every ${PROBE_EVERY_MS} ms; BFD 100 ms x 3; median, min-max`,
        unit: 'ms',
        bars: kills.flatMap((k) => [
          { label: `${k.death}: dead host's flows`, value: k.movedGapMs.median, min: k.movedGapMs.min, max: k.movedGapMs.max, group: 'dead host' },
          { label: `${k.death}: other flows`, value: k.othersGapMs.median, min: k.othersGapMs.min, max: k.othersGapMs.max, group: 'other hosts' },
        ]),
      }),
    );
    return {
      json: { flows: FLOWS, probeEveryMs: PROBE_EVERY_MS, idle: { lost: idleLost, sent: idleSent, maxGapMs: idleGap }, spread: perHost, kills, graceful, withdrawMs: wd, withdrawTrialsMs: withdrawMs },
      table,
      files: [chart],
      skipped,
    };
  } finally {
    await site.cleanup();
  }
}

export const bgp: Section = {
  key: 'bgp',
  title: 'BGP active-active: 3 vipd hosts behind a BIRD 2 ECMP router',
  requires: { root: true, native: true, objects: ['out/bpf/vipd.bpf.o', 'out/test/progs/xdp_pass.bpf.o'] },
  async run(ctx) {
    const why = netnsUnavailable() ?? (haveCommand('bird') ? undefined : 'needs bird (Debian bird2)');
    if (why) return { json: {}, table: `skipped: ${why}`, files: [], skipped: [{ what: 'the whole section', why }] };
    return run(ctx);
  },
};
