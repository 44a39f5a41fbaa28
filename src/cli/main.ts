import { Command, CommanderError } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { addImportKeepalivedCommand } from './import-keepalived.js';

export function buildCliCommand(): Command {
  const program = new Command('vipctl')
    .description('Inspect and steer a running vipd, and read its pinned BPF maps.')
    .option('--socket <path>', 'control socket of the daemon', undefined)
    .option('--config <file>', 'find the control socket from this vipd config')
    .addHelpText(
      'after',
      `
The daemon is found by --socket, else by --config, else at /run/vipd/vipd.sock.
Every read command takes --json for machines.

Exit codes: 0 ok, 1 runtime failure, 2 usage error, 3 missing privilege or kernel feature.`,
    );
  addImportKeepalivedCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildCliCommand().exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage);
    throw err;
  }
  if (program.args.length === 0) program.outputHelp();
}
