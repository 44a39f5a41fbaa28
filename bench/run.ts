/**
 * `npm run bench [-- --json] [-- --quick] [-- --only dataplane,controlPlane]`
 *
 * Runs every section whose prerequisites are met, says what it skipped and
 * why, prints a table per section (or, with --json, one JSON object keyed by
 * section), and writes each section's chart under bench/results/.
 * Adding a section: write bench/<name>.ts exporting a `Section`, add it to
 * SECTIONS below.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { bgp } from './bgp.js';
import { controlPlane } from './controlplane.js';
import { daemon } from './daemon-resources.js';
import { dataplane } from './dataplane.js';
import { connectionSync } from './connection-sync.js';
import { failover } from './failover.js';
import { failoverBfd } from './failover-bfd.js';
import { firstSyn } from './first-syn.js';
import { type BenchContext, type Section, type Skip, missingPrerequisites, repoRoot } from './lib.js';
import { pacing } from './pacing.js';
import { scale } from './scale.js';
import { throughput } from './throughput.js';

/** In run order. Failover, throughput: add here. */
const SECTIONS: readonly Section[] = [
  dataplane,
  throughput,
  failover,
  failoverBfd,
  connectionSync,
  firstSyn,
  controlPlane,
  scale,
  daemon,
  pacing,
  bgp,
];

const USAGE = `usage: npm run bench -- [--json] [--quick] [--only KEY[,KEY...]]
sections: ${SECTIONS.map((s) => s.key).join(', ')}`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        json: { type: 'boolean', default: false },
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const only = args.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((k) => !SECTIONS.some((s) => s.key === k)) ?? [];
  if (unknown.length) {
    console.error(`unknown section(s): ${unknown.join(', ')}\n${USAGE}`);
    return 2;
  }

  const root = repoRoot();
  // --quick figures are not worth keeping: they go to a scratch folder.
  const resultsDir = args.quick ? join(tmpdir(), 'vipd-bench-quick') : join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const started = Date.now();
  const ctx: BenchContext = {
    root,
    resultsDir,
    quick: args.quick,
    progress: (line) => console.error(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`),
  };

  const json: Record<string, unknown> = {};
  const skipped: Array<Skip & { section: string }> = [];
  const tables: string[] = [];
  let failed = false;
  for (const section of SECTIONS) {
    if (only && !only.includes(section.key)) continue;
    const missing = missingPrerequisites(root, section.requires);
    if (missing) {
      ctx.progress(`${section.key}: skipped: ${missing}`);
      skipped.push({ section: section.key, what: 'the whole section', why: missing });
      json[section.key] = { skipped: missing };
      continue;
    }
    ctx.progress(`${section.key}: ${section.title}`);
    try {
      const out = await section.run(ctx);
      json[section.key] = { ...(out.json as object), skipped: out.skipped };
      for (const s of out.skipped) skipped.push({ section: section.key, ...s });
      tables.push(
        `== ${section.title} ==\n${out.table}` +
          (out.files.length ? `\nchart: ${out.files.map((f) => (args.quick ? f : relative(root, f))).join(', ')}` : ''),
      );
    } catch (err) {
      failed = true;
      const msg = (err as Error).stack ?? String(err);
      ctx.progress(`${section.key}: FAILED: ${msg}`);
      json[section.key] = { error: (err as Error).message };
    }
  }

  const seconds = (Date.now() - started) / 1000;
  const report = JSON.stringify({ ...json, skipped, seconds, date: new Date().toISOString() }, jsonReplacer, 2);
  const jsonFile = join(resultsDir, 'bench.json');
  writeFileSync(jsonFile, report + '\n');
  if (args.json) {
    console.log(report);
  } else {
    console.log(tables.join('\n\n'));
    if (skipped.length) {
      console.log('\nskipped:');
      for (const s of skipped) console.log(`  ${s.section}: ${s.what}: ${s.why}`);
    }
    console.log(`\nevery figure: ${args.quick ? jsonFile : relative(root, jsonFile)}\nbench finished in ${seconds.toFixed(1)} s`);
  }
  return failed ? 1 : 0;
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  return value;
}

process.exitCode = await main();
