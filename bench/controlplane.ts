/**
 * Control plane (tinybench): what the daemon computes and writes when
 * backends or mastership change. The Maglev table build for 10 / 100 / 1000
 * real servers (65537 slots); with root and out/bpf/vipd.bpf.o, also one map
 * update (a lease renewal, what every advertisement costs) and a full table
 * swap (src/dataplane/manager.ts installTable: 65537 slots written to the idle
 * ring, then one flip), failover (activate(): one write, for an instance
 * with 10 000 VIPs), a config apply (1000 VIPs on one instance, 1000 real
 * servers, 50 services x 10 real servers, with room for 1000 services), and
 * the per-call cost of libbpf-ts map operations (bench/libbpf.ts). Daemon
 * RSS and idle CPU: bench/daemon-resources.ts.
 */
import { performance } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { RING_SIZE } from '../src/dataplane/abi.js';
import { MAGLEV_DEFAULT_SIZE, buildMaglevTable } from '../src/dataplane/maglev.js';
import { Dataplane } from '../src/dataplane/manager.js';
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

/** One timed config apply through src/dataplane/manager.ts, step by step (ms). */
interface ConfigApply {
  /** What the limits were and what was written. */
  servicesLimit: number;
  vips: number;
  reals: number;
  services: number;
  backendsPerService: number;
  ringsMiB: number;
  openMs: number;
  vipsMs: number;
  realsMs: number;
  /** addService (the empty ring written) for every service. */
  addServicesMs: number;
  /** setBackends (Maglev build + idle ring written + flip) for every service. */
  setBackendsMs: number;
  perServiceMs: number;
  /** openMs + vipsMs + realsMs + servicesLimit x perServiceMs: an extrapolation, not a measurement. */
  extrapolatedFullMs: number;
}

function addr(prefix: string, i: number): string {
  return `${prefix}.${(i >> 8) & 255}.${i & 255}`;
}

async function configApply(object: string, servicesLimit: number, services: number): Promise<ConfigApply> {
  const VIPS = 1000;
  const PER = 10;
  const reals = services * PER;
  let t = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const d = now - t;
    t = now;
    return d;
  };
  const dp = await Dataplane.open({ object, limits: { services: servicesLimit, reals: Math.max(reals, 1024) }, ringQuiesceMs: 0 });
  try {
    const openMs = lap();
    for (let i = 0; i < VIPS; i++) dp.setVip(addr('10.100', i), 0);
    const vipsMs = lap();
    for (let i = 0; i < reals; i++) dp.setReal(i, { mac: Buffer.from([2, 0, 0, 0, i >> 8, i & 255]), address: addr('10.101', i) });
    const realsMs = lap();
    const specs = Array.from({ length: services }, (_, s) => ({ vip: addr('10.100', s), port: 80, protocol: 'tcp' as const, instance: 0 }));
    for (const spec of specs) dp.addService(spec);
    const addServicesMs = lap();
    for (let s = 0; s < services; s++) {
      await dp.setBackends(
        specs[s],
        Array.from({ length: PER }, (_, j) => ({ real: s * PER + j, key: addr('10.101', s * PER + j), weight: 100 })),
      );
    }
    const setBackendsMs = lap();
    const perServiceMs = (addServicesMs + setBackendsMs) / services;
    return {
      servicesLimit,
      vips: VIPS,
      reals,
      services,
      backendsPerService: PER,
      ringsMiB: (2 * servicesLimit * RING_SIZE * 4) / 2 ** 20,
      openMs,
      vipsMs,
      realsMs,
      addServicesMs,
      setBackendsMs,
      perServiceMs,
      extrapolatedFullMs: openMs + vipsMs + realsMs * (servicesLimit / services) + servicesLimit * perServiceMs,
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
      dp = await Dataplane.open({ object: join(ctx.root, vipdObject), limits: { services: 1 }, ringQuiesceMs: 0 });
      const live = dp;
      // ifindex 1 (lo): an instance entry names its interface; nothing is attached.
      live.enableInterface(1, '02:00:00:00:00:01');
      const service = { vip: '203.0.113.42', port: 80, protocol: 'tcp' as const, instance: 0 };
      await live.addService(service);
      const tables = [100, 99].map((n) => buildMaglevTable(backends(n)));
      let flip = 0;
      bench.add('map update (lease renewal)', () => live.renewLease(0, 3, 1));
      bench.add(`table swap (${MAGLEV_DEFAULT_SIZE} slots + flip)`, async () => {
        await live.installTable(service, tables[(flip ^= 1)]);
      });
    }
    // Failover: one write of the instance entry, with 10 000 VIPs referring to it.
    const FAILOVER_VIPS = 10_000;
    let big: Dataplane | undefined;
    let vipsSetMs = Number.NaN;
    if (!missing) {
      big = await Dataplane.open({ object: join(ctx.root, vipdObject), limits: { services: 1, vips: 16384 }, ringQuiesceMs: 0 });
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
    try {
      await bench.run();
    } finally {
      dp?.close();
      big?.close();
    }

    // Config apply: a one-shot, timed step by step.
    let apply: ConfigApply | undefined;
    if (!missing) {
      // 50 services, not 1000: each costs two 65537-slot ring writes (~0.1-0.3 s here), and
      // the whole `npm run bench` has 5 minutes; the table gives the 1000-service extrapolation.
      const [limit, n] = ctx.quick ? [100, 10] : [1000, 50];
      ctx.progress(
        `controlPlane: config apply: room for ${limit} services (rings ${fmt((2 * limit * RING_SIZE * 4) / 2 ** 20, 0)} MiB), 1000 VIPs, ${n * 10} reals, ${n} services x 10 reals`,
      );
      apply = await configApply(join(ctx.root, vipdObject), limit, n);
      ctx.progress(
        `controlPlane: config apply: ${fmt(apply.perServiceMs, 1)} ms per service; ${limit} services would take ~${fmt(apply.extrapolatedFullMs / 1000, 1)} s (extrapolated)`,
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
    let extra = '';
    if (apply) {
      const a = apply;
      extra +=
        `\n\nconfig apply (one run, manager API, Dataplane.open with room for ${a.servicesLimit} services: rings ${fmt(a.ringsMiB, 0)} MiB):\n` +
        formatTable(
          [
            ['step', 'ms'],
            [`open + load (limits: ${a.servicesLimit} services)`, fmt(a.openMs, 1)],
            [`${a.vips} VIPs on one instance (setVip)`, fmt(a.vipsMs, 1)],
            [`${a.reals} real servers (setReal)`, fmt(a.realsMs, 1)],
            [`${a.services} services added (empty ring each)`, fmt(a.addServicesMs, 1)],
            [`${a.services} x setBackends(${a.backendsPerService} reals): Maglev + ring + flip`, fmt(a.setBackendsMs, 1)],
            ['per service (add + setBackends)', fmt(a.perServiceMs, 2)],
            [`${a.servicesLimit} services x ${a.backendsPerService} reals (extrapolated)`, fmt(a.extrapolatedFullMs, 0)],
          ],
          [false, true],
        );
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
