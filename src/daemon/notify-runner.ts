/**
 * Runs keepalived-compatible notify hooks. Each hook is an argv array (never
 * a shell) and gets `TYPE NAME STATE PRIORITY` appended (src/vrrp/notify.ts),
 * e.g. `INSTANCE VI_1 MASTER 150`, so existing keepalived scripts keep working.
 *
 * notify() returns at once; hooks run in the background, strictly one at a
 * time per instance (or group) and in the order the transitions happened,
 * so a script never sees BACKUP before the MASTER that preceded it. A hook
 * that outlives its time limit gets SIGTERM, then SIGKILL, with its whole
 * process group (src/checks/run-program.ts), and the queue moves on regardless.
 */
import type { ExecFileException } from 'node:child_process';
import { runProgram, type ProgramOutcome } from '../checks/run-program.js';
import { notifyArgs, type NotifyState, type NotifyType } from '../vrrp/notify.js';

export interface ExecFileOptions {
  timeout: number;
  killSignal: NodeJS.Signals;
  maxBuffer: number;
  encoding: 'utf8';
}

/** The slice of child_process.execFile the runner uses; injected in tests (the real one is runProgram). */
export type ExecFileFn = (
  file: string,
  args: readonly string[],
  options: ExecFileOptions,
  callback: (error: ExecFileException | null, stdout: string, stderr: string) => void,
) => { kill(signal?: NodeJS.Signals): boolean };

export interface NotifyOutcome {
  type: NotifyType;
  name: string;
  state: NotifyState;
  /** The full argv that ran, appended arguments included. */
  argv: readonly string[];
  result: 'ok' | 'failed' | 'timeout' | 'spawn_error';
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  /** The end of stderr, for the log line. */
  stderr: string;
}

export interface NotifyRunnerOptions {
  /** Time limit per hook. */
  timeoutMs: number;
  /** After SIGTERM, how long before SIGKILL and giving up on the hook (default 1000). */
  killGraceMs?: number;
  execFile?: ExecFileFn;
  /** Called once per hook run, for logs and metrics. */
  onOutcome?: (outcome: NotifyOutcome) => void;
}

/**
 * The real ExecFileFn, execFile-shaped over runProgram: the time limit and
 * kill() stop the hook's whole process group (SIGTERM, SIGKILL after the
 * grace), so a hook's grandchild does not outlive it.
 */
const realExecFile: ExecFileFn = (file, args, options, callback) => {
  const stop = new AbortController();
  void runProgram([file, ...args], { timeoutMs: options.timeout, signal: stop.signal }).then((outcome) =>
    callback(execFileError(file, outcome), '', 'stderr' in outcome ? outcome.stderr : ''),
  );
  return {
    kill: () => {
      stop.abort();
      return true;
    },
  };
};

/** What execFile would report for the outcome: null for exit 0. */
function execFileError(file: string, outcome: ProgramOutcome): ExecFileException | null {
  switch (outcome.kind) {
    case 'exited':
      return outcome.code === 0 ? null : Object.assign(new Error(`${file}: exit ${outcome.code}`), { code: outcome.code, killed: false });
    case 'signaled':
      return Object.assign(new Error(`${file}: ${outcome.signal}`), { killed: false, signal: outcome.signal });
    case 'stopped':
      return Object.assign(new Error(`${file}: time limit`), { killed: true, signal: 'SIGTERM' as const });
    case 'spawn-error':
      return Object.assign(new Error(`spawn ${file} ${outcome.code}`), { code: outcome.code });
  }
}

const STDERR_TAIL = 2048;

export class NotifyRunner {
  readonly #timeoutMs: number;
  readonly #killGraceMs: number;
  readonly #execFile: ExecFileFn;
  readonly #onOutcome: (outcome: NotifyOutcome) => void;
  /** Tail of each instance's queue; absent when idle. */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(options: NotifyRunnerOptions) {
    this.#timeoutMs = options.timeoutMs;
    this.#killGraceMs = options.killGraceMs ?? 1000;
    this.#execFile = options.execFile ?? realExecFile;
    this.#onOutcome = options.onOutcome ?? (() => {});
  }

  /** Queues the hooks for one transition; returns immediately. */
  notify(
    type: NotifyType,
    name: string,
    state: NotifyState,
    priority: number,
    hooks: readonly (readonly string[])[],
  ): void {
    const runnable = hooks.filter((argv) => argv.length > 0);
    if (runnable.length === 0) return;
    const key = `${type} ${name}`;
    const appended = notifyArgs(type, name, state, priority);
    const previous = this.#queues.get(key) ?? Promise.resolve();
    const tail = previous.then(async () => {
      for (const argv of runnable) {
        this.#onOutcome(await this.#runOne(type, name, state, [...argv, ...appended]));
      }
    });
    this.#queues.set(key, tail);
    void tail.finally(() => {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    });
  }

  /** Resolves when every queued hook has finished (for shutdown and tests). */
  async whenIdle(): Promise<void> {
    while (this.#queues.size > 0) await Promise.all(this.#queues.values());
  }

  #runOne(type: NotifyType, name: string, state: NotifyState, argv: readonly string[]): Promise<NotifyOutcome> {
    const started = performance.now();
    return new Promise((resolve) => {
      let settled = false;
      let child: { kill(signal?: NodeJS.Signals): boolean } | undefined;
      // execFile's own timeout sends SIGTERM; this watchdog covers a hook that
      // ignores it or leaves a grandchild holding its output open.
      const watchdog = setTimeout(() => {
        child?.kill('SIGKILL');
        finish({ result: 'timeout', exitCode: null, signal: 'SIGKILL', stderr: '' });
      }, this.#timeoutMs + this.#killGraceMs);
      const finish = (fields: Pick<NotifyOutcome, 'result' | 'exitCode' | 'signal' | 'stderr'>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        resolve({ type, name, state, argv, durationMs: performance.now() - started, ...fields });
      };
      try {
        child = this.#execFile(
          argv[0],
          argv.slice(1),
          { timeout: this.#timeoutMs, killSignal: 'SIGTERM', maxBuffer: 64 * 1024, encoding: 'utf8' },
          (error, _stdout, stderr) => {
            const tail = String(stderr ?? '').slice(-STDERR_TAIL);
            if (error === null) return finish({ result: 'ok', exitCode: 0, signal: null, stderr: tail });
            const exitCode = typeof error.code === 'number' ? error.code : null;
            // ENOENT/EACCES: it never ran. (ERR_* codes are Node's, e.g. output too large.)
            const spawnFailed = typeof error.code === 'string' && !error.code.startsWith('ERR_');
            finish({
              result: error.killed ? 'timeout' : spawnFailed ? 'spawn_error' : 'failed',
              exitCode,
              signal: error.signal ?? null,
              stderr: spawnFailed ? error.message : tail,
            });
          },
        );
      } catch (error) {
        finish({ result: 'spawn_error', exitCode: null, signal: null, stderr: String(error) });
      }
    });
  }
}
