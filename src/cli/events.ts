/**
 * `vipctl events [--follow] [--json] [--limit N] [--type T,...]`: the
 * daemon's history of changes (state, failovers, backends, drains,
 * priorities, reloads with their diff and who asked).
 */
import type { Command } from 'commander';
import type { VipdEvent, VipdEventType } from '../daemon/api.js';
import { describeEvent } from '../daemon/events.js';
import { ExitCode } from '../exit-codes.js';
import { optionsOf, parsePositiveInteger, runAction, untilInterrupted } from './action.js';
import { withDaemon } from './daemon.js';
import { usageError } from './errors.js';
import { DAEMON_EXIT_CODES, helpFooter } from './help.js';
import { formatJsonLine } from './json.js';
import { processOutput, type CliOutput } from './output.js';
import type { GlobalOptions } from './target.js';

const EVENT_TYPES: readonly VipdEventType[] = ['state', 'failover', 'backend', 'flows-lost', 'drain', 'drain-complete', 'drain-host', 'priority', 'reload'];

export interface EventsOptions extends GlobalOptions {
  readonly json?: boolean;
  readonly follow?: boolean;
  readonly limit?: number;
  /** Comma-separated event types to show. */
  readonly type?: string;
  /** --follow: ends the stream cleanly when aborted (Ctrl-C). */
  readonly signal?: AbortSignal;
}

function parseTypes(value: string | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const types = value.split(',').map((t) => t.trim()).filter((t) => t !== '');
  const unknown = types.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
  if (unknown.length > 0 || types.length === 0) {
    throw usageError(`--type takes a comma-separated list of ${EVENT_TYPES.join(', ')}; got '${value}'`);
  }
  return new Set(types);
}

/** One event for people: time, number, type, what happened; a reload's changed lines below it. */
export function formatEvent(e: VipdEvent): string {
  const head = `${e.at}  #${e.seq}  ${e.type.padEnd(8)}  ${describeEvent(e)}\n`;
  if (e.type !== 'reload' || e.diff.length === 0) return head;
  return head + e.diff.map((line) => `      ${line}\n`).join('');
}

export async function runEvents(options: EventsOptions, output: CliOutput = processOutput): Promise<ExitCode> {
  const types = parseTypes(options.type);
  const show = (e: VipdEvent): void => {
    if (types && !types.has(e.type)) return;
    output.out(options.json === true ? formatJsonLine(e) : formatEvent(e));
  };
  await withDaemon(options, async (daemon) => {
    const params = { follow: options.follow === true, ...(options.limit !== undefined ? { limit: options.limit } : {}) };
    const stream = daemon.client.stream('events', params, (item) => show(item as VipdEvent));
    const cancel = (): void => stream.cancel();
    options.signal?.addEventListener('abort', cancel, { once: true });
    if (options.signal?.aborted === true) cancel();
    try {
      await stream.done;
    } finally {
      options.signal?.removeEventListener('abort', cancel);
    }
  });
  return ExitCode.Ok;
}

/** Runs `events`, ending a stream cleanly on Ctrl-C or SIGTERM. */
function eventsAction(options: EventsOptions): Promise<ExitCode> {
  return untilInterrupted((signal) => runEvents({ ...options, signal }));
}

export function addEventsCommand(program: Command): void {
  program
    .command('events')
    .description('show the history of changes: state changes, failovers, backends, drains, priorities, reloads')
    .option('--follow', 'after the history, print new events as they happen until Ctrl-C')
    .option('--limit <n>', 'only the newest n events of the history', parsePositiveInteger)
    .option('--type <types>', `only these types (comma-separated: ${EVENT_TYPES.join(', ')})`)
    .option('--json', 'print one JSON object per event, one per line')
    .addHelpText(
      'after',
      helpFooter({
        details: [
          'vipd keeps its last 1000 events in memory (a restart empties the history) and writes every\n' +
            'event to its log as well ("msg":"event: ..."), so the full trail is in the journal.',
          'Types: state (a VRRP state change, with the reason), failover (BACKUP->MASTER: seconds from\n' +
            'the election to the first announcement), backend (a health-check result changed), drain\n' +
            '(drain/undrain), drain-host (drain-host/undrain-host), priority (vipctl priority), reload (applied or rejected, with what changed,\n' +
            'the changed lines of the config file as -LINE/+LINE, secrets masked, and the errors of a\n' +
            'rejected one). drain, drain-host, priority and reload say who asked: the uid of the process on the\n' +
            'control socket, or "by signal" for SIGHUP.',
          'Each event has a sequence number, 1 up from the daemon\'s start: a gap means the ring\n' +
            'overflowed before the events were read. --json fields: {seq, at, type, ...}, "by":\n' +
            '{via: "control"|"signal", uid, pid} on drain, drain-host, priority and reload.',
        ],
        examples: [
          'vipctl events',
          'vipctl events --follow',
          'vipctl events --type reload,drain --limit 20',
          'vipctl events --json | jq \'select(.type == "failover") | .seconds\'',
        ],
        exitCodes: DAEMON_EXIT_CODES,
      }),
    )
    .action(async (_options: unknown, command: Command) => runAction(() => eventsAction(optionsOf<EventsOptions>(command))));
}
