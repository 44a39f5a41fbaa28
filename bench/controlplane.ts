/**
 * Control plane (tinybench): what the daemon computes and writes when
 * backends or mastership change. The Maglev table build for 10 / 100 / 1000
 * real servers (65537 slots); with root and out/bpf/vipd.bpf.o, also one map
 * update (a lease renewal, what every advertisement costs) and a full table
 * swap (src/dataplane/manager.ts installTable: 65537 slots written to the idle
 * ring, then one flip). Config apply and daemon RSS / idle CPU are to be added.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { MAGLEV_DEFAULT_SIZE, buildMaglevTable } from '../src/dataplane/maglev.js';
import { Dataplane } from '../src/dataplane/manager.js';
import { type BenchContext, type Section, type SectionOutcome, type Skip, fmt, formatTable, missingPrerequisites } from './lib.js';
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
      const service = { vip: '203.0.113.42', port: 80, protocol: 'tcp' as const, instance: 0 };
      await live.addService(service);
      const tables = [100, 99].map((n) => buildMaglevTable(backends(n)));
      let flip = 0;
      bench.add('map update (lease renewal)', () => live.renewLease(0, 3));
      bench.add(`table swap (${MAGLEV_DEFAULT_SIZE} slots + flip)`, async () => {
        await live.installTable(service, tables[(flip ^= 1)]);
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
    return { json: { tasks: figures }, table, files: [svgFile], skipped };
  },
};
