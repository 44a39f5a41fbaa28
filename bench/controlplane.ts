/**
 * Control plane (tinybench): what the daemon computes and writes when
 * backends or mastership change. The Maglev table build for 10 / 100 / 1000
 * real servers (65537 slots); with root and out/bpf/vipd.bpf.o, also one map
 * update (a lease renewal, what every advertisement costs), table swaps
 * (installTable: the idle ring written through the mapping, then one flip)
 * for the largest ring and a 10-backend one, failover (activate(): one
 * write, for an instance with 10 000 VIPs), a config apply at scale (10 000
 * services x 10 backends, maps sized from that config, then one backend
 * change), and the per-call cost of libbpf-ts map operations
 * (bench/libbpf.ts). Daemon RSS and idle CPU: bench/daemon-resources.ts.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { MAGLEV_DEFAULT_SIZE, buildMaglevTable } from '../src/dataplane/maglev.js';
import { Dataplane, MaglevTableCache } from '../src/dataplane/manager.js';
import { formatBytes, mapMemory, mapSizesFor, possibleCpuCount, ringSize, type MapSizes } from '../src/dataplane/sizing.js';
import { type BenchContext, type Section, type SectionOutcome, type Skip, fmt, formatTable, missingPrerequisites } from './lib.js';
import { type MapCallCost, benchMapCalls } from './libbpf.js';
import { barChart } from './svg.js';

interface TaskFigure {
  name: string;
  /** Milliseconds per operation. */
  meanMs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  p99Ms: number;
  samples: number;
  opsPerSecond: number;
}

/** Milliseconds as "12.34 ms" or, below one, "5.6 us". */
function time(ms: number): string {
  return ms >= 1 ? `${fmt(ms, 2)} ms` : `${fmt(ms * 1000, 1)} us`;
}

function backends(n: number): { key: string; weight: number }[] {
  // Mixed weights, as a real pool has: 100, 200, 300 repeating.
  return Array.from({ length: n }, (_, i) => ({ key: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, weight: 100 * (1 + (i % 3)) }));
}

/**
 * One timed config apply through src/dataplane/manager.ts at the scale of
 * issue 13: `services` services (TCP and UDP, IPv4 and IPv6 mixed) x
 * `perService` backends each, maps sized from that config (sizing.ts),
 * step by step (ms), then one backend change among them and the memory.
 */
export interface ConfigApply {
  services: number;
  backendsPerService: number;
  vips: number;
  reals: number;
  ringSize: number;
  sizes: MapSizes;
  /** sizing.ts estimate, and what the kernel charges the maps (fdinfo memlock). */
  mapsEstimatedBytes: number;
  mapsKernelBytes: number | null;
  /** From Dataplane.open to the load done, with every Maglev table built meanwhile (buildMs of it). */
  openMs: number;
  /** The Maglev builds, on this thread while the kernel allocated the maps. */
  buildMs: number;
  vipsMs: number;
  realsMs: number;
  /** addService (an empty ring written through the mapping) for every service. */
  addServicesMs: number;
  /** setBackends (table from the cache + idle ring written + flip) for every service. */
  setBackendsMs: number;
  /** From Dataplane.open to the last service forwarding. */
  totalMs: number;
  /** This process's CPU time (user + system) over the same span: what a loaded machine does not inflate. */
  totalCpuMs: number;
  /** 1-minute load average when the apply started and when it ended. */
  loadAtStart: number;
  loadAtEnd: number;
  /** One backend drained among them: its service's table rebuilt and swapped. */
  oneChangeMs: number;
  /** The process's RSS after the apply (the daemon's would add its own state). */
  rssBytes: number;
}

function addr(prefix: string, i: number): string {
  return `${prefix}.${(i >> 8) & 255}.${i & 255}`;
}

/** Bytes the kernel charges the maps this process holds (fdinfo memlock, each map once), or null. */
function mapsMemlock(): number | null {
  const byId = new Map<string, number>();
  for (const fd of readdirSync('/proc/self/fdinfo')) {
    let info: string;
    try {
      info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed since the listing
    }
    const id = /map_id:\s+(\d+)/.exec(info)?.[1];
    const memlock = /memlock:\s+(\d+)/.exec(info)?.[1];
    if (id !== undefined && memlock !== undefined) byId.set(id, Number(memlock));
  }
  return byId.size === 0 ? null : [...byId.values()].reduce((a, b) => a + b, 0);
}

export async function configApply(object: string, services: number, perService: number, progress: (line: string) => void): Promise<ConfigApply> {
  // Every fourth service is IPv6, every other one UDP: the issue's mix.
  const specs = Array.from({ length: services }, (_, s) => ({
    vip: s % 4 === 3 ? `2001:db8:${(s >> 16) & 0xffff}::${(s & 0xffff).toString(16)}` : addr(`10.${100 + (s >> 16)}`, s),
    port: 80 + (s % 7),
    protocol: (s % 2 === 0 ? 'tcp' : 'udp') as 'tcp' | 'udp',
    instance: 0,
    backends: perService,
  }));
  const vips = [...new Set(specs.map((x) => x.vip))];
  const reals = services * perService;
  const sizes = mapSizesFor({ instances: 1, vips: vips.length, serviceBackends: specs.map(() => perService) });
  // What a parsed config holds before anything is applied (the text of
  // each real's address, its MAC, each service's pool), made before the
  // clock starts: the goal runs from a parsed config.
  const realSpecs = Array.from({ length: reals }, (_, i) => {
    const family6 = specs[Math.floor(i / perService)].vip.includes(':');
    const address = family6 ? `2001:db8:ffff::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}` : addr(`10.${200 + (i >> 16)}`, i);
    return [i, { mac: Buffer.from([2, 0, 0, i >> 16, (i >> 8) & 255, i & 255]), address }] as const;
  });
  const pools = specs.map((_, s) => Array.from({ length: perService }, (_, j) => ({ real: s * perService + j, key: `backend-${s * perService + j}`, weight: 100 })));
  const loadAtStart = loadavg()[0];
  const cpu0 = process.cpuUsage();
  let t = performance.now();
  const t0 = t;
  const lap = (): number => {
    const now = performance.now();
    const d = now - t;
    t = now;
    return d;
  };
  // The kernel allocates the maps on the thread pool (the 1 M-entry
  // connection table takes most of it): this thread builds every service's
  // Maglev table meanwhile, into the cache setBackends() takes them from.
  const maglev = new MaglevTableCache(services * ringSize(perService));
  const opening = Dataplane.open({ object, sizes, ringQuiesceMs: 0, maglev });
  for (const pool of pools) maglev.build(pool, ringSize(perService));
  const buildMs = performance.now() - t0;
  const dp = await opening;
  try {
    const openMs = lap();
    dp.setVips(vips.map((vip) => [vip, 0] as const)); // one batch
    const vipsMs = lap();
    // One batched write (setReals), as the daemon writes a config's reals.
    dp.setReals(realSpecs);
    const realsMs = lap();
    dp.addServices(specs); // one batch per services map, as the daemon does
    const addServicesMs = lap();
    for (let s = 0; s < services; s++) {
      await dp.setBackends(specs[s], pools[s]);
      if (s % 2000 === 1999) progress(`controlPlane: scale apply: ${s + 1}/${services} services forwarding`);
    }
    const setBackendsMs = lap();
    const totalMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const totalCpuMs = (cpu.user + cpu.system) / 1000;
    const loadAtEnd = loadavg()[0];
    // One backend change (a drain) among them: the service's table rebuilt and swapped.
    const changed = Math.floor(services / 2);
    const c0 = performance.now();
    await dp.setBackends(specs[changed], pools[changed].slice(1));
    const oneChangeMs = performance.now() - c0;
    const estimate = mapMemory(dp.sizes, possibleCpuCount());
    return {
      services,
      backendsPerService: perService,
      vips: vips.length,
      reals,
      ringSize: ringSize(perService),
      sizes: dp.sizes,
      mapsEstimatedBytes: estimate.total,
      mapsKernelBytes: mapsMemlock(),
      openMs,
      buildMs,
      vipsMs,
      realsMs,
      addServicesMs,
      setBackendsMs,
      totalMs,
      totalCpuMs,
      loadAtStart,
      loadAtEnd,
      oneChangeMs,
      rssBytes: process.memoryUsage().rss,
    };
  } finally {
    dp.close();
  }
}

export const controlPlane: Section = {
  key: 'controlPlane',
  title: 'Control plane (tinybench)',
  requires: {},
  async run(ctx: BenchContext): Promise<SectionOutcome> {
    const bench = new Bench({ time: ctx.quick ? 200 : 1000, warmupTime: ctx.quick ? 50 : 200 });
    for (const n of [10, 100, 1000]) {
      const input = backends(n);
      bench.add(`maglev build, ${n} backends`, () => {
        buildMaglevTable(input, MAGLEV_DEFAULT_SIZE);
      });
    }
    const skipped: Skip[] = [];
    const vipdObject = 'out/bpf/vipd.bpf.o';
    const missing = missingPrerequisites(ctx.root, { root: true, native: true, objects: [vipdObject] });
    let dp: Dataplane | undefined;
    if (missing) {
      skipped.push({ what: 'map update and table swap', why: missing });
    } else {
      dp = await Dataplane.open({ object: join(ctx.root, vipdObject), sizes: { services: 2, ringSlots: 2 * ringSize(1000) + 2 * ringSize(10) }, ringQuiesceMs: 0 });
      const live = dp;
      // ifindex 1 (lo): an instance entry names its interface; nothing is attached.
      live.enableInterface(1, '02:00:00:00:00:01');
      // The largest ring (65537 slots: 656+ backends) and a 10-backend one (1021).
      const largest = { vip: '203.0.113.42', port: 80, protocol: 'tcp' as const, instance: 0, backends: 1000 };
      const small = { vip: '203.0.113.42', port: 81, protocol: 'tcp' as const, instance: 0, backends: 10 };
      live.addService(largest);
      live.addService(small);
      const largeTables = [1000, 999].map((n) => buildMaglevTable(backends(n), ringSize(1000)));
      const smallTables = [10, 9].map((n) => buildMaglevTable(backends(n), ringSize(10)));
      // The reals each table names (its backends' positions), as setBackends() passes them from the build.
      const largeReals = [1000, 999].map((n) => Array.from({ length: n }, (_, i) => i));
      const smallReals = [10, 9].map((n) => Array.from({ length: n }, (_, i) => i));
      let flip = 0;
      bench.add('map update (lease renewal)', () => live.activate(0, 3, 1));
      bench.add(`table swap (${ringSize(1000)} slots + flip; goal <= 1 ms)`, async () => {
        flip ^= 1;
        await live.installTable(largest, largeTables[flip], largeReals[flip]);
      });
      bench.add(`table swap (${ringSize(10)} slots + flip; goal <= 1 ms)`, async () => {
        flip ^= 1;
        await live.installTable(small, smallTables[flip], smallReals[flip]);
      });
    }
    // Failover: one write of the instance entry, with 10 000 VIPs referring to it.
    const FAILOVER_VIPS = 10_000;
    let big: Dataplane | undefined;
    let vipsSetMs = Number.NaN;
    if (!missing) {
      big = await Dataplane.open({ object: join(ctx.root, vipdObject), sizes: { services: 1, vips: 16384 }, ringQuiesceMs: 0 });
      const t0 = performance.now();
      for (let i = 0; i < FAILOVER_VIPS; i++) big.setVip(addr(`10.${102 + (i >> 16)}`, i), 7);
      vipsSetMs = performance.now() - t0;
      big.enableInterface(1, '02:00:00:00:00:01');
      ctx.progress(`controlPlane: ${FAILOVER_VIPS} VIPs written for instance 7 in ${fmt(vipsSetMs, 0)} ms`);
      const b = big;
      let up = false;
      bench.add(`failover: activate(), instance with ${FAILOVER_VIPS} VIPs`, () => {
        // Alternating take-over and release: each is the one write of the instance entry.
        if ((up = !up)) b.activate(7, 3, 1);
        else b.deactivate(7);
      });
    }
    bench.addEventListener('cycle', (e) => {
      const task = (e as Event & { task?: { name: string } }).task;
      if (task) ctx.progress(`controlPlane: ${task.name} done`);
    });
    ctx.progress(`controlPlane: ${bench.tasks.length} tasks, ~${ctx.quick ? 0.25 : 1.2} s each`);
    const tasksLoad = loadavg().map((l) => fmt(l, 2)).join(' ');
    try {
      await bench.run();
    } finally {
      dp?.close();
      big?.close();
    }

    // Config apply at scale: a one-shot, timed step by step.
    let apply: ConfigApply | undefined;
    if (!missing) {
      const [n, per] = ctx.quick ? [1000, 10] : [10_000, 10];
      ctx.progress(`controlPlane: scale apply: ${n} services x ${per} backends (TCP/UDP, IPv4/IPv6), maps sized from that config`);
      apply = await configApply(join(ctx.root, vipdObject), n, per, ctx.progress);
      ctx.progress(
        `controlPlane: scale apply: every service forwarding after ${fmt(apply.totalMs, 0)} ms; one backend change ${fmt(apply.oneChangeMs, 2)} ms`,
      );
    }

    // libbpf-ts map call cost (bench/libbpf.ts).
    let mapCalls: MapCallCost[] | undefined;
    const mapMissing = missingPrerequisites(ctx.root, { root: true, native: true, objects: ['out/test/progs/libbpf_ts_test.bpf.o'] });
    if (mapMissing) skipped.push({ what: 'libbpf-ts map call cost', why: mapMissing });
    else {
      ctx.progress('controlPlane: libbpf-ts map call cost (bench/libbpf.ts), 5 tasks x 0.4 s');
      mapCalls = await benchMapCalls();
    }

    const figures: TaskFigure[] = bench.tasks.map((task) => {
      const r = task.result;
      if (!r || r.error) throw new Error(`controlPlane: ${task.name} failed: ${String(r?.error ?? 'no result')}`);
      return {
        name: task.name,
        meanMs: r.latency.mean,
        medianMs: r.latency.p50 ?? r.latency.mean,
        minMs: r.latency.min,
        maxMs: r.latency.max,
        p99Ms: r.latency.p99 ?? r.latency.max,
        samples: r.latency.samples.length,
        opsPerSecond: r.throughput.mean,
      };
    });

    const svgFile = join(ctx.resultsDir, 'controlplane.svg');
    writeFileSync(
      svgFile,
      barChart({
        title: 'vipd control plane',
        subtitle: `tinybench, Maglev table of ${MAGLEV_DEFAULT_SIZE} slots; median, whiskers min..max`,
        unit: 'ms per operation',
        digits: 2,
        bars: figures.map((f) => ({ label: f.name, value: f.medianMs, min: f.minMs, max: f.maxMs, group: 'vipd' })),
      }),
    );
    const table = formatTable(
      [
        ['task', 'median', 'mean', 'min', 'max', 'p99', 'ops/s', 'samples'],
        ...figures.map((f) => [
          f.name,
          time(f.medianMs),
          time(f.meanMs),
          time(f.minMs),
          time(f.maxMs),
          time(f.p99Ms),
          fmt(f.opsPerSecond, 0),
          String(f.samples),
        ]),
      ],
      [false, true, true, true, true, true, true, true],
    );
    const files = [svgFile];
    let extra = `\n(tinybench tasks started at load average ${tasksLoad})`;
    if (apply) {
      const a = apply;
      const load = loadavg().map((l) => fmt(l, 2)).join(' ');
      extra +=
        `\n\nconfig apply at scale (one run, manager API; load average ${load}): ${a.services} services x ${a.backendsPerService} backends, rings of ${a.ringSize} slots\n` +
        formatTable(
          [
            ['step', 'ms'],
            [`open + load (maps sized from the config: ${a.sizes.services} services, ${a.sizes.reals} reals, ${a.sizes.ringSlots} ring slots)`, fmt(a.openMs, 1)],
            [`  of which the ${a.services} Maglev builds, on this thread while the kernel allocates the maps`, fmt(a.buildMs, 1)],
            [`${a.vips} VIPs (setVips, one batch)`, fmt(a.vipsMs, 1)],
            [`${a.reals} real servers (setReals, one batch)`, fmt(a.realsMs, 1)],
            [`${a.services} services added (empty ring each)`, fmt(a.addServicesMs, 1)],
            [`${a.services} x setBackends(${a.backendsPerService}): table from the cache + ring + flip`, fmt(a.setBackendsMs, 1)],
            [`parsed config -> every service forwarding (goal <= 2000 ms at 10 000 x 10; load ${fmt(a.loadAtStart, 2)} -> ${fmt(a.loadAtEnd, 2)})`, fmt(a.totalMs, 0)],
            ['  CPU time of it (user + system, this process)', fmt(a.totalCpuMs, 0)],
            ['one backend change among them (goal <= 10 ms)', fmt(a.oneChangeMs, 2)],
          ],
          [false, true],
        ) +
        `\nmemory: maps ${formatBytes(a.mapsKernelBytes ?? a.mapsEstimatedBytes)} (kernel memlock${a.mapsKernelBytes === null ? ' unknown; estimate' : `; sizing.ts estimate ${formatBytes(a.mapsEstimatedBytes)}`}), this process's RSS ${formatBytes(a.rssBytes)}`;
    }
    if (big) extra += `\nfailover setup: ${FAILOVER_VIPS} VIPs written (setVip) in ${fmt(vipsSetMs, 0)} ms; activate() is one write whatever the VIP count`;
    if (mapCalls) {
      extra +=
        '\n\nlibbpf-ts map call cost (bench/libbpf.ts, tinybench mean):\n' +
        formatTable(
          [['call', 'ns/call', 'ops/s'], ...mapCalls.map((m) => [m.name, String(m.nsPerCall), String(m.opsPerSec)])],
          [false, true, true],
        );
      const mapSvg = join(ctx.resultsDir, 'libbpf-map-calls.svg');
      writeFileSync(
        mapSvg,
        barChart({
          title: 'libbpf-ts map call cost',
          subtitle: 'tinybench mean per call, typed (codec + native + syscall) vs raw native',
          unit: 'ns per call',
          digits: 0,
          bars: mapCalls.map((m) => ({ label: m.name, value: m.nsPerCall, group: m.name.includes('raw') ? 'raw native' : 'typed' })),
        }),
      );
      files.push(mapSvg);
    }
    return {
      json: { tasks: figures, configApply: apply, failover: big ? { vips: FAILOVER_VIPS, vipsSetMs } : undefined, mapCalls },
      table: table + extra,
      files,
      skipped,
    };
  },
};
