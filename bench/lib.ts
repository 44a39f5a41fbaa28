/**
 * What every benchmark section shares: the section contract, progress
 * output, statistics and table formatting. bench/run.ts lists the sections.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The checkout root (the folder with binding.gyp), from bench/ or dist-tools/bench/. */
export { packageRoot as repoRoot } from '../src/native.js';

export interface BenchContext {
  root: string;
  /** Where charts go: bench/results/ of the checkout. */
  resultsDir: string;
  /** Fewer rounds and shorter runs: a smoke test of the harness, not figures to quote. */
  quick: boolean;
  /** One line per step, on stderr (stdout carries the table or the JSON). */
  progress(line: string): void;
}

/** Something a section could not measure, and why. */
export interface Skip {
  what: string;
  why: string;
}

export interface SectionOutcome {
  /** Everything measured, for --json (under the section's key). */
  json: unknown;
  /** The human summary printed at the end. */
  table: string;
  /** Files written (charts), relative to the checkout. */
  files: string[];
  skipped: Skip[];
}

export interface Prerequisites {
  /** Needs root (BPF_PROG_TEST_RUN, namespaces). */
  root?: boolean;
  /** Needs these compiled objects, relative to the checkout (out/bpf/, out/bench/bpf/, out/test/progs/). */
  objects?: string[];
  /** Needs the native addon (build/Release/vipd_native.node). */
  native?: boolean;
}

export interface Section {
  /** Key in the --json output (dataplane, throughput, failover, controlPlane). */
  key: string;
  title: string;
  requires: Prerequisites;
  run(ctx: BenchContext): Promise<SectionOutcome>;
}

/** Why the prerequisites are not met, or undefined when they are. */
export function missingPrerequisites(root: string, req: Prerequisites): string | undefined {
  const missing: string[] = [];
  if (req.root && process.getuid?.() !== 0) missing.push('root (BPF_PROG_TEST_RUN needs CAP_BPF and CAP_NET_ADMIN)');
  if (req.native && !existsSync(join(root, 'build/Release/vipd_native.node'))) {
    missing.push('build/Release/vipd_native.node (run `npm run build`)');
  }
  const objs = (req.objects ?? []).filter((o) => !existsSync(join(root, o)));
  if (objs.length) missing.push(`${objs.join(', ')} (run \`make -C bpf\`)`);
  return missing.length ? `missing ${missing.join('; ')}` : undefined;
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function summarize(xs: readonly number[]): Summary {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/** A plain text table: first row is the header; numbers right-aligned. */
export function formatTable(rows: readonly (readonly string[])[], rightAlign: readonly boolean[] = []): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r
      .map((cell, c) => (rightAlign[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}
