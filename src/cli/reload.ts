/** `vipctl reload`: vipd re-reads its config and applies only the difference. */
import type { Command } from 'commander';
import { ControlError } from '../daemon/control/index.js';
import { ExitCode } from '../exit-codes.js';
import { optionsOf, runAction } from './action.js';
import { withDaemon } from './daemon.js';
import { CliError } from './errors.js';
import { DAEMON_EXIT_CODES, helpFooter } from './help.js';
import { formatJson } from './json.js';
import { processOutput, type CliOutput } from './output.js';
import type { GlobalOptions } from './target.js';

/** Applying a config may build Maglev tables and wait on the kernel: give it time. */
const RELOAD_TIMEOUT_MS = 60_000;

export interface ReloadOptions extends GlobalOptions {
  readonly json?: boolean;
}

export async function runReload(options: ReloadOptions, output: CliOutput = processOutput): Promise<ExitCode> {
  const result = await withDaemon(options, async (daemon) => {
    try {
      return await daemon.call('reload', {}, RELOAD_TIMEOUT_MS);
    } catch (err) {
      if (err instanceof ControlError && err.code === 'CONFIG') {
        const errors = err.message.split('\n').filter((line) => line.trim() !== '');
        throw new CliError('the new config was rejected; vipd keeps running the old one:', ExitCode.Usage, errors);
      }
      throw err;
    }
  });
  if (options.json === true) output.out(formatJson(result));
  else if (result.changes.length === 0) output.out('config reloaded: nothing changed\n');
  else output.out(`config reloaded:\n${result.changes.map((line) => `  ${line}\n`).join('')}`);
  return ExitCode.Ok;
}

export function addReloadCommand(program: Command): void {
  program
    .command('reload')
    .description('make vipd re-read its config file and apply what changed (like SIGHUP, but with an answer)')
    .option('--json', 'print the result as JSON: {changes: [...]}')
    .addHelpText(
      'after',
      helpFooter({
        details: [
          'Prints what was added, removed or changed. A config with errors is rejected as a whole: vipd\n' +
            'keeps running the old one, and every error is printed (file:line:column: key: message).',
        ],
        examples: ['vipctl reload', 'vipd --check /etc/vipd/vipd.yaml && vipctl reload', 'vipctl reload --json'],
        exitCodes: DAEMON_EXIT_CODES.map(([code, meaning]) => (code === 2 ? [code, 'the new config was rejected (errors on stderr)'] : [code, meaning])),
      }),
    )
    .action(async (_options: unknown, command: Command) => runAction(() => runReload(optionsOf<ReloadOptions>(command))));
}
