/**
 * `vipctl stats [--watch] [--interval S] [--json]`: per-service and
 * per-backend packet and bit rates, from two snapshots of the daemon's
 * cumulative counters (the per-CPU BPF counters, summed by vipd).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StatsSnapshot } from '../daemon/api.js';
import { ExitCode } from '../exit-codes.js';
import { optionsOf, parsePositiveInteger, runAction, untilInterrupted } from './action.js';
import { withDaemon, type DaemonConnection } from './daemon.js';
import { usageError } from './errors.js';
import { DAEMON_EXIT_CODES, helpFooter } from './help.js';
import { formatJson, formatJsonLine } from './json.js';
import { processOutput, type CliOutput } from './output.js';
import { formatStats } from './stats-format.js';
import { computeRates, type StatsRates } from './stats-rates.js';
import type { GlobalOptions } from './target.js';
import { formatDuration } from './units.js';

export const DEFAULT_INTERVAL_SECONDS = 1;
const MIN_INTERVAL_SECONDS = 0.01;
/** Clears a terminal and puts the cursor home, so --watch redraws in place. */
const CLEAR_SCREEN = '\x1b[H\x1b[2J';

export interface StatsOptions extends GlobalOptions {
  readonly json?: boolean;
  readonly watch?: boolean;
  /** Seconds between the two snapshots (or between --watch updates). */
  readonly interval?: number;
  /** --watch: stop after this many updates. */
  readonly count?: number;
  /** --watch: ends the stream cleanly when aborted (Ctrl-C). */
  readonly signal?: AbortSignal;
}

function checkInterval(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds < MIN_INTERVAL_SECONDS) {
    throw usageError(`--interval must be a number of seconds, at least ${MIN_INTERVAL_SECONDS}; got ${seconds}`);
  }
  return seconds;
}

function checkCount(count: number | undefined): number | undefined {
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw usageError(`--count must be a positive integer; got ${count}`);
  return count;
}

async function oneShot(daemon: DaemonConnection, seconds: number, options: StatsOptions, output: CliOutput): Promise<void> {
  const before = await daemon.call('stats', {});
  await sleep(seconds * 1000);
  const rates = computeRates(before, await daemon.call('stats', {}));
  if (options.json === true) {
    output.out(formatJson(rates));
    return;
  }
  const span = formatDuration(rates.intervalSeconds);
  output.out(formatStats(rates, `Rates over ${span} (two snapshots ${span} apart; --interval S to change, --watch to follow)`));
}

function watchHeader(rates: StatsRates): string {
  return `Rates over the last ${formatDuration(rates.intervalSeconds)} at ${rates.at.slice(11, 19)} UTC (Ctrl-C to stop)`;
}

async function watch(daemon: DaemonConnection, seconds: number, options: StatsOptions, output: CliOutput): Promise<void> {
  const count = checkCount(options.count);
  let previous: StatsSnapshot | undefined;
  let shown = 0;
  const stream = daemon.client.stream('stats', { watch: true, intervalMs: Math.round(seconds * 1000) }, (item) => {
    const snapshot = item as StatsSnapshot;
    if (previous === undefined && options.json !== true && output.isTty) {
      output.out(`${CLEAR_SCREEN}Waiting ${formatDuration(seconds)} for a second snapshot: rates need two (Ctrl-C to stop)\n`);
    }
    if (previous !== undefined && (count === undefined || shown < count)) {
      const rates = computeRates(previous, snapshot);
      if (options.json === true) output.out(formatJsonLine(rates));
      else output.out(`${output.isTty ? CLEAR_SCREEN : shown > 0 ? '\n' : ''}${formatStats(rates, watchHeader(rates))}`);
      shown++;
      if (count !== undefined && shown >= count) stream.cancel();
    }
    previous = snapshot;
  });
  const cancel = (): void => stream.cancel();
  options.signal?.addEventListener('abort', cancel, { once: true });
  if (options.signal?.aborted === true) cancel();
  try {
    await stream.done;
  } finally {
    options.signal?.removeEventListener('abort', cancel);
  }
}

export async function runStats(options: StatsOptions, output: CliOutput = processOutput): Promise<ExitCode> {
  const seconds = checkInterval(options.interval ?? DEFAULT_INTERVAL_SECONDS);
  await withDaemon(options, (daemon) => (options.watch === true ? watch(daemon, seconds, options, output) : oneShot(daemon, seconds, options, output)));
  return ExitCode.Ok;
}

function parsePositiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

/** Runs `stats`, ending a stream cleanly on Ctrl-C or SIGTERM. */
function statsAction(options: StatsOptions): Promise<ExitCode> {
  return untilInterrupted((signal) => runStats({ ...options, signal }));
}

export function addStatsCommand(program: Command): void {
  program
    .command('stats')
    .description('show packet and bit rates per service and per backend, and XDP verdicts by reason')
    .option('--watch', 'keep updating every interval until Ctrl-C')
    .option('--interval <seconds>', `seconds between snapshots (default ${DEFAULT_INTERVAL_SECONDS})`, parsePositiveNumber)
    .option('--count <n>', 'with --watch: stop after n updates', parsePositiveInteger)
    .option('--json', 'print JSON (with --watch: one object per line)')
    .addHelpText(
      'after',
      helpFooter({
        details: [
          'vipd sums the data plane\'s per-CPU counters; rates need two readings, so a plain `vipctl stats`\n' +
            'takes two snapshots --interval seconds apart (1 s by default) and prints the difference.\n' +
            'PPS is packets per second, BPS bits per second (frame bytes as the XDP program saw them).\n' +
            'A counter that is new or went backwards (the daemon re-created its maps) shows "-".',
          '--watch streams a snapshot from vipd every interval and redraws the table (on a terminal), or\n' +
            'prints one JSON object per line with --json: {"at", "intervalSeconds", "services": [{name,\n' +
            'packets, bytes, pps, bps, backends: [{address, packets, bytes, pps, bps}]}], "verdicts":\n' +
            '[{reason, packets, pps}]}. Ctrl-C ends it cleanly (exit 0).',
        ],
        examples: [
          'vipctl stats',
          'vipctl stats --interval 5',
          'vipctl stats --watch',
          'vipctl stats --watch --json --interval 10 | tee stats.jsonl',
        ],
        exitCodes: DAEMON_EXIT_CODES,
      }),
    )
    .action(async (_options: unknown, command: Command) => runAction(() => statsAction(optionsOf<StatsOptions>(command))));
}
