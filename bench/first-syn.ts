/**
 * First SYN after an election (issue 11, item 4): a lone vipd (priority
 * 255: MASTER as soon as it starts, no peer) on a host that has never
 * talked to its real servers, and a client that connects to the VIP the
 * moment it sees the first ARP frame from the VIP (the new MASTER's
 * gratuitous ARP or ARP reply). The run counts when the first SYN was
 * forwarded: greeted by a real server before the client's first SYN
 * retransmission (1 s).
 *
 * Goal: 100 runs out of 100. Before the fix, vipd announced the VIP ~2 s
 * before its Maglev table existed (MACs polled every 2 s).
 *
 * Each run starts from nothing: no pins (a fresh election, not a restart
 * that inherits the lease), the LB's and the client's neighbour tables
 * flushed.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Site, SERVICE_PORT, VIP } from '../scripts/topology.js';
import { Dataplane } from '../src/dataplane/manager.js';
import { haveCommand, netnsUnavailable } from '../test/helpers/netns.js';
import { type BenchContext, type Section, type SectionOutcome, fmt, formatTable, summarize } from './lib.js';

const RUNS = 100;
const QUICK_RUNS = 5;
/** Below the first SYN retransmission (1 s): a greeting within this was the first SYN's. */
const GREETING_WITHIN_MS = 900;

interface Run {
  forwarded: boolean;
  /** The first ARP frame from the VIP seen by the client -> SYN sent (client clock). */
  synAfterArpMs: number | null;
  error: string | null;
}

async function oneRun(site: Site, probeScript: string): Promise<Run> {
  await site.stopDaemon(0, 'SIGTERM');
  Dataplane.unpinAll(site.pins[0]);
  site.lbs[0].ip(['neigh', 'flush', 'dev', 'eth0']);
  site.client.ip(['neigh', 'flush', 'dev', 'eth0']);
  const probe: ChildProcess = site.client.spawn(process.execPath, [probeScript, 'eth0', VIP, String(SERVICE_PORT), String(GREETING_WITHIN_MS)]);
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    probe.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('ready\n')) resolve();
    });
    probe.once('exit', (code) => reject(new Error(`probe exited ${code} before listening`)));
  });
  const done = new Promise<{ server: string | null; error: string | null; synAfterArpMs?: number }>((resolve) => {
    probe.once('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      resolve(line ? JSON.parse(line) : { server: null, error: `probe gave no result: ${out.trim()}` });
    });
  });
  await ready;
  site.startDaemon(0);
  const kill = setTimeout(() => probe.kill(), 20_000);
  const r = await done;
  clearTimeout(kill);
  const forwarded = r.error === null && /^rs[12]$/.test(r.server ?? '');
  return {
    forwarded,
    synAfterArpMs: r.synAfterArpMs ?? null,
    error: forwarded ? null : (r.error ?? `greeted by ${r.server}`),
  };
}

export const firstSyn: Section = {
  key: 'firstSyn',
  title: 'First SYN after an election on a lone vipd',
  requires: { root: true, native: true, objects: ['out/bpf/vipd.bpf.o', 'out/test/progs/xdp_pass.bpf.o'] },
  async run(ctx: BenchContext): Promise<SectionOutcome> {
    const why = netnsUnavailable() ?? (haveCommand('tcpdump') ? undefined : 'tcpdump is not installed');
    if (why) throw new Error(`firstSyn: ${why}`);
    const runs = ctx.quick ? QUICK_RUNS : RUNS;
    const probeScript = join(ctx.root, 'test', 'netns', 'fixtures', 'first-syn.mjs');
    ctx.progress('firstSyn: building the site');
    const site = await Site.create({ label: 'fsy', priorities: [255, 100], healthCheck: 'none' });
    const results: Run[] = [];
    try {
      for (let i = 0; i < runs; i++) {
        const r = await oneRun(site, probeScript);
        results.push(r);
        if (!r.forwarded || (i + 1) % 10 === 0) ctx.progress(`firstSyn: ${i + 1}/${runs}: ${results.filter((x) => x.forwarded).length} forwarded${r.error ? ` (last: ${r.error})` : ''}`);
      }
    } finally {
      await site.cleanup();
      Dataplane.unpinAll(site.pins[0]);
    }
    const ok = results.filter((r) => r.forwarded).length;
    const syn = summarize(results.flatMap((r) => (r.synAfterArpMs === null ? [] : [r.synAfterArpMs])));
    const met = ok === runs;
    const table = [
      formatTable(
        [
          ['runs', 'first SYN forwarded', 'VIP announced -> SYN sent (ms, median (min-max))'],
          [String(runs), `${ok}/${runs}`, `${fmt(syn.median, 2)} (${fmt(syn.min, 2)}-${fmt(syn.max, 2)})`],
        ],
        [true, true, false],
      ),
      `forwarded = greeted by a real server within ${GREETING_WITHIN_MS} ms, before the client's first SYN retransmission;`,
      'each run: vipd started with no pins and empty neighbour tables, priority 255 (MASTER at once), no peer.',
      `goal: first SYN ~1 ms after an election is forwarded, ${runs} runs out of ${runs}: ${met ? 'MET' : 'NOT MET'}${ctx.quick ? ' (--quick: not the goal\'s 100 runs)' : ''}`,
      ...results.flatMap((r, i) => (r.error ? [`run ${i + 1}: ${r.error}`] : [])),
    ].join('\n');
    return {
      json: {
        runs,
        forwarded: ok,
        goalMet: met,
        announcedToSynMs: syn,
        failures: results.flatMap((r, i) => (r.error ? [{ run: i + 1, error: r.error }] : [])),
        method: {
          trigger: 'client tcpdump -l, first ARP frame whose sender IP is the VIP; then net.connect at once',
          forwardedWithinMs: GREETING_WITHIN_MS,
          site: 'scripts/topology.ts, lb1 alone (priority 255), TCP service on two real servers, health check none',
        },
      },
      table,
      files: [],
      skipped: [],
    };
  },
};
