import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { exitCodeOf } from '../errors.js';
import { Daemon } from './daemon.js';
import { ConfigRejected } from './read-config.js';
import { createLogger, type LogFormat } from './logger.js';
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
  2  usage or config error (every error printed with its key path and file:line),
     or another vipd holds the pin directory (bpf.pin; the message names its pid)
  3  missing privilege or kernel feature (the message names what is missing)

Signals:
  SIGHUP   re-read the config and apply only what changed (a bad config is rejected)
  SIGTERM  graceful stop: priority-0 advertisement, VIPs released, program detached
  SIGUSR2  handoff: exit leaving program, maps and leases pinned, so a vipd
           started within the lease carries on without an election (hitless
           restart or upgrade); with bgp, BIRD keeps its sessions and routes
           for 9 s for the next vipd to adopt

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
  if (opts.log !== 'json' && opts.log !== 'pretty') {
    console.error(`vipd: --log must be json or pretty, not '${opts.log}'`);
    process.exit(ExitCode.Usage);
  }
  process.exit(await runDaemon(opts.config as string, opts.log));
}

/** Exit code for a failure at start: 2 for config, 3 for privilege or kernel feature, else 1. */
export function exitCodeFor(err: unknown): ExitCode {
  // Every vipd error carries its exit code (src/errors.ts).
  return exitCodeOf(err);
}

/**
 * The capabilities vipd cannot run without that the effective set lacks
 * (CapEff of /proc/self/status): CAP_NET_ADMIN (XDP, addresses), CAP_NET_RAW
 * (VRRP sockets), CAP_BPF (or CAP_SYS_ADMIN, before 5.8).
 *
 * Fix (found by test/netns/daemon-election): started as a non-root user,
 * vipd failed at whichever step came first, e.g. "cannot create the pin
 * directory ...: EACCES", without naming what was missing. It now checks
 * first and says which privilege it needs (exit 3).
 */
export function missingCapabilities(procStatus?: string): string[] {
  let text = procStatus;
  try {
    text ??= readFileSync('/proc/self/status', 'utf8');
  } catch {
    return [];
  }
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(text);
  if (!m) return [];
  const eff = BigInt(`0x${m[1]}`);
  const has = (bit: number) => ((eff >> BigInt(bit)) & 1n) === 1n;
  const missing: string[] = [];
  if (!has(12)) missing.push('CAP_NET_ADMIN');
  if (!has(13)) missing.push('CAP_NET_RAW');
  if (!has(39) && !has(21)) missing.push('CAP_BPF');
  return missing;
}

async function runDaemon(configFile: string, format: LogFormat): Promise<ExitCode> {
  const log = createLogger(format);
  const missing = missingCapabilities();
  if (missing.length > 0) {
    console.error(`vipd: missing privilege: needs ${missing.join(', ')} (run as root)`);
    return ExitCode.MissingPrivilege;
  }
  let daemon: Daemon;
  try {
    daemon = await Daemon.start({ configFile, logger: log });
  } catch (err) {
    const code = exitCodeFor(err);
    if (err instanceof ConfigRejected) {
      for (const line of err.errors) console.error(line);
      console.error(`vipd: ${configFile}: ${err.errors.length} error(s)`);
    } else {
      log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'vipd could not start');
      console.error(`vipd: ${err instanceof Error ? err.message : String(err)}`);
    }
    return code;
  }
  return new Promise<ExitCode>((resolve) => {
    let ending = false;
    const end = (how: 'stop' | 'handoff', signal: string) => {
      if (ending) return;
      ending = true;
      log.info({ signal }, how === 'stop' ? 'stopping' : 'handing off to the next vipd');
      const done = how === 'stop' ? daemon.stop() : daemon.handoff();
      done.then(
        () => resolve(ExitCode.Ok),
        (err: unknown) => {
          log.error({ err: (err as Error).message }, 'stop failed');
          resolve(ExitCode.Failure);
        },
      );
    };
    process.on('SIGTERM', () => end('stop', 'SIGTERM'));
    process.on('SIGINT', () => end('stop', 'SIGINT'));
    process.on('SIGUSR2', () => end('handoff', 'SIGUSR2'));
    process.on('SIGHUP', () => {
      daemon.reload().then(
        (r) => log.info({ changes: r.changes }, r.changes.length ? 'reload applied' : 'reload: nothing changed'),
        (err: unknown) => {
          const lines = err instanceof ConfigRejected ? err.errors : [(err as Error).message];
          log.error({ errors: lines }, 'reload rejected: the running config stays');
        },
      );
    });
  });
}
