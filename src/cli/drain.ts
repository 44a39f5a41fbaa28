/**
 * `vipctl drain|undrain SERVICE BACKEND`: a drained backend takes no new
 * flows and keeps its established ones (quiescent, like IPVS weight 0;
 * docs/operations.md "Draining a backend"). `drain --wait` returns when
 * the connection table holds none of its connections any more.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { DrainResult } from '../daemon/api.js';
import { ExitCode } from '../exit-codes.js';
import { optionsOf, runAction, untilInterrupted } from './action.js';
import { CliError } from './errors.js';
import { withDaemon } from './daemon.js';
import { DAEMON_EXIT_CODES, helpFooter } from './help.js';
import { formatJson } from './json.js';
import { processOutput, type CliOutput } from './output.js';
import type { GlobalOptions } from './target.js';

export interface DrainOptions extends GlobalOptions {
  readonly json?: boolean;
  /** drain only: wait until the backend has no connection left. */
  readonly wait?: boolean;
  /** With wait: give up after this many seconds (exit 1). Default: no limit. */
  readonly timeout?: number;
  /** Poll period (ms), for tests. */
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
}

function describe(result: DrainResult): string {
  const what = `backend ${result.backend} of service ${result.service}`;
  if (!result.changed) return `${what} was already ${result.drained ? 'drained' : 'taking new flows'}; nothing changed`;
  return result.drained
    ? `drained ${what}: it takes no new flows`
    : `undrained ${what}: it takes new flows again`;
}

export async function runDrain(
  drain: boolean,
  service: string,
  backend: string,
  options: DrainOptions,
  output: CliOutput = processOutput,
): Promise<ExitCode> {
  return withDaemon(options, async (daemon) => {
    const result = await daemon.call(drain ? 'drain' : 'undrain', { service, backend });
    if (!(drain && options.wait === true)) {
      output.out(options.json === true ? formatJson(result) : `${describe(result)}\n`);
      return ExitCode.Ok;
    }
    if (options.json !== true) output.out(`${describe(result)}\n`);
    const started = Date.now();
    const deadline = options.timeout === undefined ? Infinity : started + options.timeout * 1000;
    const poll = options.pollMs ?? 1000;
    for (;;) {
      const c = await daemon.call('connections', { service, backend });
      const waited = (Date.now() - started) / 1000;
      if (c.connections === 0) {
        if (output.isTty) output.out('\r\x1b[K');
        output.out(
          options.json === true
            ? formatJson({ ...result, connections: 0, waitedSeconds: waited })
            : `no connection left on backend ${backend} after ${waited.toFixed(1)} s\n`,
        );
        return ExitCode.Ok;
      }
      if (!c.drained) throw new CliError(`backend ${backend} of service ${service} was undrained while waiting`, ExitCode.Failure);
      if (Date.now() >= deadline || options.signal?.aborted === true) {
        if (output.isTty) output.out('\n');
        if (options.json === true) output.out(formatJson({ ...result, connections: c.connections, waitedSeconds: waited }));
        throw new CliError(
          `backend ${backend} still has ${c.connections} connection(s) after ${waited.toFixed(1)} s; it stays drained`,
          ExitCode.Failure,
        );
      }
      if (output.isTty) output.out(`\r\x1b[Kwaiting: ${c.connections} connection(s) left on ${backend} (${waited.toFixed(0)} s)`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(poll, Math.max(0, deadline - Date.now())));
        options.signal?.addEventListener('abort', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  });
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of seconds above 0');
  return n;
}

function addOne(program: Command, drain: boolean): void {
  const name = drain ? 'drain' : 'undrain';
  const cmd = program
    .command(name)
    .description(drain ? 'stop sending new flows to a backend' : 'let a drained backend take new flows again')
    .argument('<service>', 'service name as `vipctl status` shows it (e.g. 203.0.113.42:80/tcp)')
    .argument('<backend>', 'backend address')
    .option('--json', 'print the result as JSON: {service, backend, drained, changed}');
  if (drain) {
    cmd
      .option('--wait', 'return when the backend has no connection left (its established flows ended or timed out)')
      .option('--timeout <seconds>', 'with --wait: give up after this long (exit 1; the backend stays drained)', parseSeconds);
  }
  cmd
    .addHelpText(
      'after',
      helpFooter({
        details: drain
          ? [
              'The backend leaves the service\'s Maglev table (one atomic swap) and new flows go to the\n' +
                'other backends at once; its established connections stay on it until they end (the\n' +
                'connection table keeps them: docs/operations.md, "Draining a backend"). Its health\n' +
                'checks go on. --wait returns when none is left (status shows them: "conns").\n' +
                'The drain lasts until undrain or a restart of vipd; it is not written to the config.\n' +
                'Draining twice is not an error.',
            ]
          : ['The backend returns to the Maglev table if it is healthy. Undraining twice is not an error.'],
        examples: [
          `vipctl ${name} 203.0.113.42:80/tcp 10.0.0.11`,
          `vipctl ${name} web-https 2001:db8::11 --json`,
          ...(drain ? [`vipctl drain web-https 10.0.0.11 --wait --timeout 600`] : []),
        ],
        exitCodes: DAEMON_EXIT_CODES,
      }),
    )
    .action(async (service: string, backend: string, _options: unknown, command: Command) =>
      runAction(() => untilInterrupted((signal) => runDrain(drain, service, backend, { ...optionsOf<DrainOptions>(command), signal }))),
    );
}

export function addDrainCommands(program: Command): void {
  addOne(program, true);
  addOne(program, false);
}
