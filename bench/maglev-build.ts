/**
 * Maglev build micro loops, native (native/maglev.cc) against the TypeScript
 * reference (docs/maglev.md, "Native build"):
 *   node dist-tools/bench/maglev-build.js [rounds]
 * - 10 000 builds of distinct 10-backend pools (weight 100 each) at 1021
 *   slots: a daemon's start-up with 10 000 services;
 * - one 1000-backend pool at 65537 slots, weights 100/200/300 (the weighted
 *   schedule).
 * Each figure is the median of `rounds` runs (default 5), after one warm-up.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  type MaglevBackend,
  buildMaglevTableNative,
  buildMaglevTableReference,
} from '../src/dataplane/maglev.js';

type Build = (backends: readonly MaglevBackend[], size: number) => Uint32Array;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function time(rounds: number, run: () => void): { median: number; min: number } {
  run(); // warm-up
  const ms: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    run();
    ms.push(performance.now() - t);
  }
  return { median: median(ms), min: Math.min(...ms) };
}

const rounds = Number(process.argv[2] ?? 5);
const pools: MaglevBackend[][] = Array.from({ length: 10_000 }, (_, s) =>
  Array.from({ length: 10 }, (_, j) => ({ key: `backend-${s * 10 + j}`, weight: 100 })),
);
const large: MaglevBackend[] = Array.from({ length: 1000 }, (_, i) => ({
  key: `10.1.${i >> 8}.${i & 255}`,
  weight: 100 * ((i % 3) + 1),
}));

console.log(`Maglev builds, median (min) of ${rounds} runs; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const [name, build] of [
  ['TypeScript reference', buildMaglevTableReference],
  ['native', buildMaglevTableNative],
] as Array<[string, Build]>) {
  const small = time(rounds, () => {
    for (const pool of pools) build(pool, 1021);
  });
  const big = time(rounds, () => build(large, 65537));
  console.log(
    `${name.padEnd(22)} 10 000 x 10 backends @ 1021: ${small.median.toFixed(1)} ms (${small.min.toFixed(1)}), ` +
      `${((small.median / 10_000) * 1000).toFixed(2)} us each; ` +
      `1000 backends @ 65537, 100/200/300: ${big.median.toFixed(2)} ms (${big.min.toFixed(2)})`,
  );
}
