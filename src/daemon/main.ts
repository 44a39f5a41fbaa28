import { Command, CommanderError } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { checkConfigFile } from '../config/check.js';

const DESCRIPTION = `Keeps virtual IP addresses alive with VRRP (v2/v3, IPv4/IPv6) and forwards
their services to real servers from an XDP program (LVS-DR style, Maglev).`;

export function buildDaemonCommand(): Command {
  const program = new Command('vipd')
    .description(DESCRIPTION)
    .option('-c, --config <file>', 'run the daemon in the foreground with this YAML config')
    .option('--check <file>', 'validate a config file: exit 0, or exit 2 listing every error')
    .option('--log <format>', 'log format: json (default, one object per line) or pretty', 'json')
    .addHelpText(
      'after',
      `
Exit codes:
  0  ok
  1  runtime failure
  2  usage or config error (every error printed with its key path and file:line)
  3  missing privilege or kernel feature (the message names what is missing)

Signals:
  SIGHUP   re-read the config and apply only what changed (a bad config is rejected)
  SIGTERM  graceful stop: priority-0 advertisement, VIPs released

Examples:
  vipd --check /etc/vipd/vipd.yaml
  vipd --config /etc/vipd/vipd.yaml --log pretty`,
    );
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildDaemonCommand().exitOverride();
  try {
    program.parse(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage);
    throw err;
  }
  const opts = program.opts<{ config?: string; check?: string; log: string }>();
  if (!opts.config && !opts.check) {
    program.outputHelp();
    process.exit(ExitCode.Usage);
  }
  if (opts.check) process.exit(await checkConfigFile(opts.check));
  console.error('vipd: the daemon is not built yet in this version');
  process.exit(ExitCode.Failure);
}
