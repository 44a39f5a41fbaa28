/** `vipctl priority INSTANCE N`: change an instance's VRRP priority at run time. */
import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { optionsOf, runAction } from './action.js';
import { withDaemon } from './daemon.js';
import { usageError } from './errors.js';
import { DAEMON_EXIT_CODES, helpFooter } from './help.js';
import { formatJson } from './json.js';
import { processOutput, type CliOutput } from './output.js';
import type { GlobalOptions } from './target.js';

export const MIN_PRIORITY = 1;
/** 255 belongs to the address owner and 0 to a master that is leaving: neither is settable. */
export const MAX_PRIORITY = 254;

export interface PriorityOptions extends GlobalOptions {
  readonly json?: boolean;
}

/** The priority as an integer in 1..254, or a usage error that says so. */
export function parsePriority(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < MIN_PRIORITY || n > MAX_PRIORITY) {
    throw usageError(
      `priority must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY} (255 is the address owner's, 0 means leaving); got '${text}'`,
    );
  }
  return n;
}

export async function runPriority(instance: string, priorityText: string, options: PriorityOptions, output: CliOutput = processOutput): Promise<ExitCode> {
  const priority = parsePriority(priorityText);
  const result = await withDaemon(options, (daemon) => daemon.call('priority', { instance, priority }));
  if (options.json === true) output.out(formatJson(result));
  else if (result.previous === result.priority) output.out(`instance ${result.instance} already has priority ${result.priority}; nothing changed\n`);
  else output.out(`instance ${result.instance}: priority ${result.previous} -> ${result.priority}\n`);
  return ExitCode.Ok;
}

export function addPriorityCommand(program: Command): void {
  program
    .command('priority')
    .description('set the VRRP priority of an instance (1..254) until reload or restart')
    .argument('<instance>', 'instance name as in the config')
    .argument('<n>', `new priority, ${MIN_PRIORITY}..${MAX_PRIORITY}`)
    .option('--json', 'print the result as JSON: {instance, previous, priority}')
    .addHelpText(
      'after',
      helpFooter({
        details: [
          'The next advertisement carries the new priority (minus track weights). With preempt on, a\n' +
            'BACKUP raised above the MASTER takes over; a MASTER lowered below a BACKUP hands over.\n' +
            'The change is not written to the config: reload or restart restores the configured value.',
        ],
        examples: ['vipctl priority web 50      # hand web over to the peer', 'vipctl priority web 150'],
        exitCodes: DAEMON_EXIT_CODES.map(([code, meaning]) =>
          code === 2 ? [code, 'N is not an integer in 1..254, or no such instance'] : [code, meaning],
        ),
      }),
    )
    .action(async (instance: string, n: string, _options: unknown, command: Command) =>
      runAction(() => runPriority(instance, n, optionsOf<PriorityOptions>(command))),
    );
}
