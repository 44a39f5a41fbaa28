/**
 * The one way vipd runs an external command (health command checks, track
 * scripts): argv only, never a shell, in its own process group.
 *
 * Why a process group: a check is often a shell script whose `curl` or
 * `sleep` is a grandchild. Killing only the direct child at the time limit
 * leaves that grandchild running (and, for a check every second, piling up).
 * Here the child is started detached (a new session, so a new group whose id
 * is its pid) and the stop sequence signals the whole group: SIGTERM, then
 * SIGKILL after a grace for whatever ignored it.
 *
 * spawn, not execFile: execFile drops `detached`, so it cannot do this.
 */
import { spawn } from 'node:child_process';

/** stderr kept for the failure reason (the tail); the rest is discarded. */
const STDERR_KEEP = 4096;
/**
 * After the child exits, how long to wait for its stderr to close. A
 * grandchild that inherited it may hold it open forever; the exit status is
 * what counts.
 */
const CLOSE_GRACE_MS = 200;
/** Between SIGTERM and SIGKILL to the group. */
export const DEFAULT_KILL_GRACE_MS = 1000;

export interface RunProgramOptions {
  /** Aborting stops the command (the caller's time limit): SIGTERM to the group, SIGKILL after the grace. */
  readonly signal?: AbortSignal;
  /** A time limit of its own, for callers without a scheduler; same stop sequence. */
  readonly timeoutMs?: number;
  /** Default DEFAULT_KILL_GRACE_MS. */
  readonly killGraceMs?: number;
  /** Added to the daemon's environment. */
  readonly env?: Readonly<Record<string, string>>;
}

/** How a run ended. Never an exception: a command that cannot start is an outcome too. */
export type ProgramOutcome =
  | { readonly kind: 'exited'; readonly code: number; readonly stderr: string }
  | { readonly kind: 'signaled'; readonly signal: NodeJS.Signals; readonly stderr: string }
  /** Stopped by the abort signal or the time limit; `stderr` is what it wrote until then. */
  | { readonly kind: 'stopped'; readonly stderr: string }
  /** Never ran: ENOENT, EACCES, ... */
  | { readonly kind: 'spawn-error'; readonly code: string };

export function programSucceeded(outcome: ProgramOutcome): boolean {
  return outcome.kind === 'exited' && outcome.code === 0;
}

/** Runs argv once and resolves when it has ended (or been stopped). Never rejects. */
export function runProgram(argv: readonly string[], options: RunProgramOptions = {}): Promise<ProgramOutcome> {
  return new Promise((resolve) => {
    const [file, ...args] = argv;
    if (file === undefined) return resolve({ kind: 'spawn-error', code: 'EINVAL' });
    if (options.signal?.aborted) return resolve({ kind: 'stopped', stderr: '' });

    const child = spawn(file, args, {
      env: options.env ? { ...process.env, ...options.env } : process.env,
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
      shell: false,
    });
    let stderr = '';
    let stopped = false;
    let settled = false;
    let closeTimer: ReturnType<typeof setTimeout> | undefined;
    const limitTimer = options.timeoutMs === undefined ? undefined : setTimeout(() => stop(), options.timeoutMs);

    const finish = (outcome: ProgramOutcome): void => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', stop);
      if (limitTimer) clearTimeout(limitTimer);
      if (closeTimer) clearTimeout(closeTimer);
      child.stderr?.destroy();
      resolve(outcome);
    };
    const fromExit = (code: number | null, signalName: NodeJS.Signals | null): ProgramOutcome => {
      if (stopped) return { kind: 'stopped', stderr };
      if (code !== null) return { kind: 'exited', code, stderr };
      return { kind: 'signaled', signal: signalName ?? 'SIGKILL', stderr };
    };
    function stop(): void {
      if (stopped || child.pid === undefined) return;
      stopped = true;
      stopGroup(child.pid, options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
    }
    options.signal?.addEventListener('abort', stop, { once: true });

    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });
    child.once('error', (err: NodeJS.ErrnoException) => finish({ kind: 'spawn-error', code: err.code ?? err.message }));
    child.once('exit', (code, signalName) => {
      closeTimer = setTimeout(() => finish(fromExit(code, signalName)), CLOSE_GRACE_MS);
      closeTimer.unref();
    });
    child.once('close', (code: number | null, signalName: NodeJS.Signals | null) => finish(fromExit(code, signalName)));
  });
}

/**
 * SIGTERM to the group now, SIGKILL to it after the grace. The SIGKILL goes
 * even when the leader is gone by then: a grandchild that ignored SIGTERM
 * keeps the group (and so its id, which the kernel does not hand out while
 * the group exists) alive; when nothing is left, ESRCH says so.
 */
function stopGroup(pgid: number, graceMs: number): void {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  // Not unref'd: in a daemon that is about to exit, the SIGKILL must still go.
  setTimeout(() => signalGroup(pgid, 'SIGKILL'), graceMs);
}

/** False when the group no longer exists. */
function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: every member is gone.
  }
}
