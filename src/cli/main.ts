/** vipctl: one file per command, registered here. */
import { Command, CommanderError } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { addDrainCommands } from './drain.js';
import { addDrainHostCommands } from './drain-host.js';
import { addEventsCommand } from './events.js';
import { addImportKeepalivedCommand } from './import-keepalived.js';
import { addMapsCommand } from './maps/command.js';
import { addPriorityCommand } from './priority.js';
import { addReloadCommand } from './reload.js';
import { addStatsCommand } from './stats.js';
import { addStatusCommand } from './status.js';
import { DEFAULT_SOCKET } from './target.js';

export function buildCliCommand(): Command {
  const program = new Command('vipctl')
    .description('Inspect and steer a running vipd, and read its pinned BPF maps.')
    // Set before the subcommands are added, so that they inherit it.
    .exitOverride()
    .showHelpAfterError('(vipctl COMMAND --help shows the command\'s options)')
    .option('--socket <path>', `control socket of the daemon (default ${DEFAULT_SOCKET})`)
    .option('--config <file>', 'vipd config to take control.socket and bpf.pin from')
    .addHelpText(
      'after',
      `
The daemon is found by --socket, else by --config's control.socket, else at ${DEFAULT_SOCKET}.
--socket and --config may come before or after the command. The control socket is 0600:
run vipctl as root. Every read command takes --json for machines.

Examples:
  vipctl status
  vipctl stats --watch
  vipctl events --follow
  vipctl drain 203.0.113.42:80/tcp 10.0.0.11
  vipctl priority web 50
  vipctl drain-host
  vipctl maps services --pin /run/vipd-bpf

Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 missing privilege or kernel feature.
See docs/vipctl.md and \`vipctl COMMAND --help\`.`,
    );
  addStatusCommand(program);
  addStatsCommand(program);
  addDrainCommands(program);
  addDrainHostCommands(program);
  addPriorityCommand(program);
  addReloadCommand(program);
  addEventsCommand(program);
  addMapsCommand(program);
  addImportKeepalivedCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildCliCommand();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    // Commander has printed its message (or the help/version) already.
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage);
    throw err;
  }
  if (program.args.length === 0) {
    program.outputHelp();
    process.exitCode = ExitCode.Usage;
  }
}
