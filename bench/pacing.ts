/**
 * The `pacing` section: runs bench/vrrp-pacing.ts (its own process, as it
 * spawns itself into two namespaces) with --json and reports its figures:
 * a MASTER's native advert sender at 10 ms while its JS event loop is
 * blocked 100 ms every second, and what a BACKUP in another namespace saw.
 * Goal (printed, not asserted): sender max gap < 15 ms, no Master_Down gaps.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchContext, type Section, type SectionOutcome, fmt, formatTable } from './lib.js';
import { barChart } from './svg.js';

interface PacingOut {
  intervalMs: number;
  blockMs: number;
  seconds: number;
  sender: { sent: number; maxGapUs: number; late: number; blocks: number; realtime: boolean };
  receiver: { received: number; maxGapMs: number; masterDownGaps: number };
}

export const pacing: Section = {
  key: 'pacing',
  title: 'VRRP advert pacing under event-loop stalls',
  requires: { root: true, native: true },
  async run(ctx: BenchContext): Promise<SectionOutcome> {
    const script = join(dirname(fileURLToPath(import.meta.url)), 'vrrp-pacing.js');
    const seconds = ctx.quick ? 3 : 6;
    // SCHED_FIFO 10: the priority vipd itself gives its sender threads (src/daemon/daemon.ts).
    const args = [script, '--json', '--seconds', String(seconds), '--interval-ms', '10', '--block-ms', '100', '--sched-fifo', '10'];
    ctx.progress(`pacing: 10 ms adverts, 100 ms loop block every 1 s, ${seconds} s (node ${args.slice(1).join(' ')})`);
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, args, { timeout: (seconds + 30) * 1000, maxBuffer: 1 << 20 }, (err, out, errOut) => {
        if (err) reject(new Error(`vrrp-pacing failed: ${err.message}\n${errOut}`));
        else resolve(out);
      });
    });
    const line = stdout
      .trim()
      .split('\n')
      .reverse()
      .find((l) => l.startsWith('{'));
    if (!line) throw new Error(`vrrp-pacing printed no JSON: ${stdout}`);
    const r = JSON.parse(line) as PacingOut;
    const senderMaxMs = r.sender.maxGapUs / 1000;
    const met = senderMaxMs < 15 && r.receiver.masterDownGaps === 0;
    const svgFile = join(ctx.resultsDir, 'pacing.svg');
    writeFileSync(
      svgFile,
      barChart({
        title: 'VRRP advert pacing (10 ms adverts, 100 ms JS stall every 1 s)',
        subtitle: `max gap between adverts over ${seconds} s; goal: sender < 15 ms, no Master_Down gap (> 3 x interval + skew)`,
        unit: 'ms',
        digits: 2,
        bars: [
          { label: 'sender max inter-send gap', value: senderMaxMs, group: 'sender' },
          { label: 'receiver max inter-arrival gap', value: r.receiver.maxGapMs, group: 'receiver' },
          { label: 'advert interval', value: r.intervalMs, group: 'reference' },
        ],
      }),
    );
    const table =
      formatTable(
        [
          ['figure', 'value'],
          ['adverts sent / received', `${r.sender.sent} / ${r.receiver.received}`],
          ['sender max gap', `${fmt(senderMaxMs, 3)} ms`],
          ['sender late sends', String(r.sender.late)],
          ['receiver max inter-arrival', `${fmt(r.receiver.maxGapMs, 3)} ms`],
          ['Master_Down gaps at the receiver', String(r.receiver.masterDownGaps)],
          ['event-loop blocks', String(r.sender.blocks)],
          ['SCHED_FIFO', String(r.sender.realtime)],
        ],
        [false, true],
      ) + `\ngoal (sender max gap < 15 ms, no Master_Down gap): ${met ? 'MET' : 'NOT MET'}`;
    return { json: { ...r, goalMet: met }, table, files: [svgFile], skipped: [] };
  },
};
