/** `vipctl drain-host` / `undrain-host`: withdraw (announce again) every BGP route of this host. */
import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { optionsOf, runAction } from './action.js';
import { withDaemon } from './daemon.js';
import { DAEMON_EXIT_CODES, helpFooter } from './help.js';
import { formatJson } from './json.js';
import { processOutput, type CliOutput } from './output.js';
import type { GlobalOptions } from './target.js';

export interface DrainHostOptions extends GlobalOptions {
  readonly json?: boolean;
}

export async function runDrainHost(drained: boolean, options: DrainHostOptions, output: CliOutput = processOutput): Promise<ExitCode> {
  const result = await withDaemon(options, (daemon) => daemon.call(drained ? 'drainHost' : 'undrainHost', {}));
  if (options.json === true) output.out(formatJson(result));
  else if (!result.changed) output.out(`host already ${drained ? 'drained' : 'undrained'}; nothing changed\n`);
  else output.out(drained ? 'host drained: BGP routes withdrawn (the data plane keeps forwarding)\n' : 'host undrained: BGP routes announced again\n');
  return ExitCode.Ok;
}

export function addDrainHostCommands(program: Command): void {
  for (const drained of [true, false]) {
    const name = drained ? 'drain-host' : 'undrain-host';
    program
      .command(name)
      .description(drained ? 'withdraw every BGP route of this host (maintenance); forwarding goes on' : 'announce this host\'s BGP routes again')
      .option('--json', 'print the result as JSON: {drained, changed}')
      .addHelpText(
        'after',
        helpFooter({
          details: [
            'Only VIPs announced over BGP (announce: bgp, or [vrrp, bgp]) are affected: the routers move\n' +
              'their flows to the other hosts while this one still forwards what arrives. Not kept across\n' +
              'a restart of vipd.',
          ],
          examples: [`vipctl ${name}`],
          exitCodes: DAEMON_EXIT_CODES,
        }),
      )
      .action(async (_options: unknown, command: Command) => runAction(() => runDrainHost(drained, optionsOf<DrainHostOptions>(command))));
  }
}
