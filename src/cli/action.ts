/**
 * Glue between commander and the command functions: every command function
 * returns an exit code or throws; this prints the failure once and sets the
 * process exit code (never exit(): stdout may still be flushing to a pipe).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ExitCode } from '../exit-codes.js';
import { describeFailure } from './errors.js';
import { processOutput, type CliOutput } from './output.js';
import type { GlobalOptions } from './target.js';

/** Runs a command function and reports what it threw as `vipctl: message` with its exit code. */
export async function runCommand(fn: () => Promise<ExitCode>, output: CliOutput = processOutput): Promise<ExitCode> {
  try {
    return await fn();
  } catch (err) {
    const failure = describeFailure(err);
    const [first, ...rest] = failure.lines;
    output.err(`vipctl: ${first}`);
    for (const line of rest) output.err(`  ${line}`);
    return failure.exitCode;
  }
}

export async function runAction(fn: () => Promise<ExitCode>): Promise<void> {
  process.exitCode = await runCommand(fn);
}

/** The command's own options merged with vipctl's (--socket, --config). */
export function optionsOf<T>(command: Command): T & GlobalOptions {
  return command.optsWithGlobals<T & GlobalOptions>();
}

/**
 * Runs a streaming command (`stats --watch`, `events --follow`) with a
 * signal that Ctrl-C or SIGTERM aborts, so the stream ends cleanly.
 */
export async function untilInterrupted(run: (signal: AbortSignal) => Promise<ExitCode>): Promise<ExitCode> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await run(controller.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** commander option parser: a whole number >= 1. */
export function parsePositiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}
