/**
 * Track scripts (keepalived's vrrp_script): a command run every interval
 * whose exit status, filtered by rise/fall, marks a tracked object up or
 * down. The daemon passes each change to VrrpInstance.setTrackState(name, up),
 * which applies the weight. Tracked interfaces need no runner: the daemon
 * passes link up/down from rtnetlink straight to setTrackState.
 */
import type { Clock } from '../clock.js';
import { RiseFallScheduler } from './rise-fall.js';
import { programSucceeded, runProgram } from './run-program.js';

/**
 * Runs argv once; resolves true on exit status 0. Must stop the command when
 * `signal` aborts (the scheduler aborts it at `timeoutMs`). Never rejects.
 */
export type ScriptExec = (argv: readonly string[], timeoutMs: number, signal: AbortSignal) => Promise<boolean>;

/** The real ScriptExec: runProgram, so a timeout stops the script's whole process group. */
export const runScript: ScriptExec = async (argv, _timeoutMs, signal) =>
  programSucceeded(await runProgram(argv, { signal }));

export interface TrackScriptSpec {
  name: string;
  argv: readonly string[];
  intervalMs: number;
  /** Default: the interval. */
  timeoutMs?: number;
  rise: number;
  fall: number;
  /** Applied by the instance (see TrackWeight); kept here so config maps 1:1. */
  weight: number;
  /** keepalived starts scripts as up unless `init_fail`; default true. */
  initialUp?: boolean;
}

export interface TrackScriptDeps {
  clock: Clock;
  exec?: ScriptExec;
  onChange: (name: string, up: boolean) => void;
}

/** Runs one track script until stopped, on the shared rise/fall scheduler. */
export class TrackScript {
  readonly spec: TrackScriptSpec;
  readonly #scheduler: RiseFallScheduler;

  constructor(spec: TrackScriptSpec, deps: TrackScriptDeps) {
    if (spec.argv.length === 0) throw new RangeError(`track script ${spec.name}: empty command`);
    this.spec = spec;
    const exec = deps.exec ?? runScript;
    const timeoutMs = spec.timeoutMs ?? spec.intervalMs;
    const what = `track script ${spec.name}`;
    this.#scheduler = new RiseFallScheduler(
      {
        intervalMs: spec.intervalMs,
        timeoutMs,
        rise: spec.rise,
        fall: spec.fall,
        // Settled, as keepalived: leaving the initial state takes rise/fall results.
        initialState: (spec.initialUp ?? true) ? 'fully-up' : 'fully-down',
      },
      async (signal) => {
        const ok = await exec(spec.argv, timeoutMs, signal);
        return { ok, detail: `${what}: ${ok ? 'exit 0' : 'failed'}` };
      },
      { clock: deps.clock, what, onFlip: (up) => deps.onChange(spec.name, up) },
    );
  }

  get up(): boolean {
    return this.#scheduler.up;
  }

  /** First run right away. */
  start(): void {
    this.#scheduler.start();
  }

  /** A run in flight is stopped and its result dropped. */
  stop(): void {
    this.#scheduler.stop();
  }
}
