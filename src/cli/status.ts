/** `vipctl status [--json]`: instances, services and backends as vipd sees them. */
import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { optionsOf, runAction } from './action.js';
import { withDaemon } from './daemon.js';
import { DAEMON_EXIT_CODES, helpFooter } from './help.js';
import { formatJson } from './json.js';
import { processOutput, type CliOutput } from './output.js';
import { filterStatus, statusSummary, type StatusFilter } from './status-filter.js';
import { formatStatus } from './status-format.js';
import type { GlobalOptions } from './target.js';

export interface StatusOptions extends GlobalOptions, StatusFilter {
  readonly json?: boolean;
  /** Only the summary line. */
  readonly summary?: boolean;
  /** For tests: the "now" that relative times are computed from. */
  readonly now?: Date;
}

export async function runStatus(options: StatusOptions, output: CliOutput = processOutput): Promise<ExitCode> {
  const whole = await withDaemon(options, (daemon) => daemon.call('status', {}));
  const status = filterStatus(whole, options);
  if (options.json === true) output.out(formatJson(status));
  else if (options.summary === true) output.out(statusSummary(status));
  else output.out(`${statusSummary(status)}\n${formatStatus(status, options.now ?? new Date())}`);
  return ExitCode.Ok;
}

export function addStatusCommand(program: Command): void {
  program
    .command('status')
    .description('show VRRP instances (state, priority, master since, transitions), services and backends')
    .option('--json', 'print the daemon\'s status as JSON (see docs/vipctl.md for the keys)')
    .option('--service <text>', 'only services whose name contains TEXT')
    .option('--vip <address>', 'only the services of this VIP')
    .option('--instance <name>', 'only this VRRP instance and its services')
    .option('--summary', 'only the summary line: instances, services forwarding here, backends up/drained/unresolved')
    .addHelpText(
      'after',
      helpFooter({
        details: [
          'Instances: configured and effective priority (after track weights), VRID, VRRP version, interface,\n' +
            'how long this host has been MASTER, and the number of state changes since vipd started.',
          'The first line sums up the host (or what the filters kept): instances and how many are MASTER,\n' +
            'services and how many this host forwards, backends up, drained and without a resolved MAC.\n' +
            '--service, --vip and --instance keep only what matches (they combine); with 10 000 services, filter.',
          'Services: whether this host forwards them now (their instance is MASTER) and each backend with\n' +
            'its health (UP/DOWN), DRAINED (takes no new flows), Maglev weight, resolved MAC and last check.',
          '--json prints {"daemon", "instances": [{name, state, priority, effectivePriority, vrid,\n' +
            'masterSince, transitions, ...}], "services": [{name, vip, port, protocol, backends: [{address,\n' +
            'up, weight, drained, mac, reason}]}]}; masterSince is ISO 8601 or null.',
        ],
        examples: ['vipctl status', 'vipctl status --summary', 'vipctl status --vip 203.0.113.42', 'vipctl status --instance web --service api', 'vipctl status --json | jq \'.instances[] | {name, state}\'', 'vipctl --config /etc/vipd/vipd.yaml status'],
        exitCodes: DAEMON_EXIT_CODES,
      }),
    )
    .action(async (_options: unknown, command: Command) => runAction(() => runStatus(optionsOf<StatusOptions>(command))));
}
