/**
 * An external command (argv, never a shell); exit 0 is healthy. Run by the
 * shared command runner, so the checker's timeout stops the command's whole
 * process group, a shell script's `sleep` or `curl` included.
 */
import { runProgram, type ProgramOutcome } from '../checks/run-program.js';
import { describeProbe } from './describe.js';
import type { CommandProbeSpec, ProbeResult } from './types.js';

/** Characters of stderr quoted in a failure reason. */
const REASON_STDERR = 200;

export async function probeCommand(spec: CommandProbeSpec, signal: AbortSignal): Promise<ProbeResult> {
  const what = describeProbe(spec);
  if (spec.argv.length === 0) return { ok: false, detail: `${what}: empty argv` };
  const outcome = await runProgram(spec.argv, { signal, env: spec.env });
  return { ok: outcome.kind === 'exited' && outcome.code === 0, detail: `${what}: ${outcomeText(outcome)}` };
}

function outcomeText(outcome: ProgramOutcome): string {
  switch (outcome.kind) {
    case 'spawn-error':
      return outcome.code;
    case 'stopped':
      return 'aborted';
    case 'exited':
      return `exit ${outcome.code}${stderrSuffix(outcome.code === 0 ? '' : outcome.stderr)}`;
    case 'signaled':
      return `killed by ${outcome.signal}${stderrSuffix(outcome.stderr)}`;
  }
}

function stderrSuffix(stderr: string): string {
  const lines = stderr.trim().split('\n');
  const line = (lines[lines.length - 1] ?? '').trim();
  if (line === '') return '';
  return `: ${line.length > REASON_STDERR ? `${line.slice(0, REASON_STDERR)}…` : line}`;
}
