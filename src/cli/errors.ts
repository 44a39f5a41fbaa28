/**
 * Failures of a vipctl command, each with the exit code DESIGN.md gives it:
 * 1 runtime failure, 2 usage or config error, 3 missing privilege or kernel
 * feature. Everything a command throws is turned into one message and one
 * exit code here.
 */
import { ControlError, ControlErrorCode } from '../daemon/control/index.js';
import { VipdError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';

/** A vipctl failure: VIPD_CLI_USAGE (exit 2), VIPD_CLI_PRIVILEGE (3) or VIPD_CLI_FAILURE (1). */
export class CliError extends VipdError {
  override name = 'CliError';
  /** Extra lines printed after the message (e.g. every config error). */
  readonly details: readonly string[];

  constructor(message: string, exitCode: ExitCode, details: readonly string[] = []) {
    const code = exitCode === ExitCode.Usage ? 'VIPD_CLI_USAGE' : exitCode === ExitCode.MissingPrivilege ? 'VIPD_CLI_PRIVILEGE' : 'VIPD_CLI_FAILURE';
    super(code, message, { exitCode });
    this.details = details;
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, ExitCode.Usage);
}

/** Handler error codes (src/daemon/api.ts) that mean "you asked for something wrong". */
const USAGE_CODES: ReadonlySet<string> = new Set(['NOT_FOUND', 'INVALID', 'CONFIG', ControlErrorCode.BadRequest]);

export interface Failure {
  readonly lines: readonly string[];
  readonly exitCode: ExitCode;
}

/** The message lines and exit code for anything a command threw. */
export function describeFailure(err: unknown): Failure {
  if (err instanceof CliError) return { lines: [err.message, ...err.details], exitCode: err.exitCode };
  if (err instanceof ControlError) {
    const [first = '', ...rest] = err.message.split('\n');
    if (err.code === ControlErrorCode.ConnectionClosed) {
      return { lines: ['vipd closed the connection before answering (did it stop or restart?)'], exitCode: ExitCode.Failure };
    }
    if (err.code === ControlErrorCode.UnknownMethod) {
      return { lines: [`${first} (is vipd older than this vipctl?)`, ...rest], exitCode: ExitCode.Failure };
    }
    return { lines: [first, ...rest], exitCode: USAGE_CODES.has(err.code) ? ExitCode.Usage : ExitCode.Failure };
  }
  // Every other vipd error carries its own exit code (BpfError, NetError, ConfigRejected, ...).
  if (err instanceof VipdError) return { lines: [err.message], exitCode: err.exitCode };
  return { lines: [err instanceof Error ? err.message : String(err)], exitCode: ExitCode.Failure };
}
