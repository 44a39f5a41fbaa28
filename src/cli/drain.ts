/**
 * `vipctl drain|undrain SERVICE BACKEND`: a drained backend takes no new
 * flows (docs/vipctl.md, "Drain", says what happens to its existing ones).
 */
import type { Command } from 'commander';
import type { DrainResult } from '../daemon/api.js';
import { ExitCode } from '../exit-codes.js';
import { optionsOf, runAction } from './action.js';
import { withDaemon } from './daemon.js';
import { DAEMON_EXIT_CODES, helpFooter } from './help.js';
import { formatJson } from './json.js';
import { processOutput, type CliOutput } from './output.js';
import type { GlobalOptions } from './target.js';

export interface DrainOptions extends GlobalOptions {
  readonly json?: boolean;
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
  const result = await withDaemon(options, (daemon) => daemon.call(drain ? 'drain' : 'undrain', { service, backend }));
  output.out(options.json === true ? formatJson(result) : `${describe(result)}\n`);
  return ExitCode.Ok;
}

function addOne(program: Command, drain: boolean): void {
  const name = drain ? 'drain' : 'undrain';
  program
    .command(name)
    .description(drain ? 'stop sending new flows to a backend' : 'let a drained backend take new flows again')
    .argument('<service>', 'service name as `vipctl status` shows it (e.g. 203.0.113.42:80/tcp)')
    .argument('<backend>', 'backend address')
    .option('--json', 'print the result as JSON: {service, backend, drained, changed}')
    .addHelpText(
      'after',
      helpFooter({
        details: drain
          ? [
              'The backend leaves the service\'s Maglev table (one atomic swap) and new flows go to the\n' +
                'other backends; its health checks go on. The XDP program keeps no per-flow state, so\n' +
                'packets of flows it already had follow the new table too: see docs/vipctl.md, "Drain".\n' +
                'The drain lasts until undrain or a restart of vipd; it is not written to the config.\n' +
                'Draining twice is not an error.',
            ]
          : ['The backend returns to the Maglev table if it is healthy. Undraining twice is not an error.'],
        examples: [`vipctl ${name} 203.0.113.42:80/tcp 10.0.0.11`, `vipctl ${name} web-https 2001:db8::11 --json`],
        exitCodes: DAEMON_EXIT_CODES,
      }),
    )
    .action(async (service: string, backend: string, _options: unknown, command: Command) =>
      runAction(() => runDrain(drain, service, backend, optionsOf<DrainOptions>(command))),
    );
}

export function addDrainCommands(program: Command): void {
  addOne(program, true);
  addOne(program, false);
}
