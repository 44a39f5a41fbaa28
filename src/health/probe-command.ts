/**
 * An external command (argv, never a shell); exit 0 is healthy.
 *
 * spawn, not execFile: execFile cannot start the child in its own process
 * group (it drops `detached`), and without one a timeout kills only the
 * direct child while a shell script's `sleep` or `curl` lives on. Here the
 * abort kills the whole group. No shell is involved either way.
 */
import { spawn } from 'node:child_process';
import { describeProbe, errorText } from './describe.js';
import type { CommandProbeSpec, ProbeResult } from './types.js';

/** stderr kept for the failure reason (the tail); the rest is discarded. */
const STDERR_KEEP = 4096;
/** Characters of stderr quoted in a failure reason. */
const REASON_STDERR = 200;
/**
 * After the child exits, how long to wait for its stderr to close. A
 * grandchild that inherited it may hold it open forever; the exit status is
 * what counts.
 */
const CLOSE_GRACE_MS = 200;

export function probeCommand(spec: CommandProbeSpec, signal: AbortSignal): Promise<ProbeResult> {
  const what = describeProbe(spec);
  return new Promise((resolve) => {
    if (signal.aborted) return resolve({ ok: false, detail: `${what}: aborted` });
    const [file, ...args] = spec.argv;
    if (file === undefined) return resolve({ ok: false, detail: `${what}: empty argv` });

    const child = spawn(file, args, {
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
      shell: false,
    });
    let stderr = '';
    let settled = false;
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const finish = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (graceTimer) clearTimeout(graceTimer);
      child.stderr?.destroy();
      resolve(result);
    };
    const fromExit = (code: number | null, signalName: NodeJS.Signals | null): ProbeResult => {
      if (code === 0) return { ok: true, detail: `${what}: exit 0` };
      const tail = lastLine(stderr);
      const suffix = tail === '' ? '' : `: ${tail}`;
      if (code !== null) return { ok: false, detail: `${what}: exit ${code}${suffix}` };
      return { ok: false, detail: `${what}: killed by ${signalName ?? 'signal'}${suffix}` };
    };
    const onAbort = (): void => {
      killGroup(child.pid);
      finish({ ok: false, detail: `${what}: aborted` });
    };
    signal.addEventListener('abort', onAbort, { once: true });

    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });
    child.once('error', (err) => finish({ ok: false, detail: `${what}: ${errorText(err)}` }));
    child.once('exit', (code, signalName) => {
      graceTimer = setTimeout(() => finish(fromExit(code, signalName)), CLOSE_GRACE_MS);
      graceTimer.unref();
    });
    child.once('close', (code: number | null, signalName: NodeJS.Signals | null) =>
      finish(fromExit(code, signalName)),
    );
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone (ESRCH): nothing to do.
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  const line = (lines[lines.length - 1] ?? '').trim();
  return line.length > REASON_STDERR ? `${line.slice(0, REASON_STDERR)}…` : line;
}
