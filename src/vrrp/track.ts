/**
 * Track scripts (keepalived's vrrp_script): a command run every interval whose
 * exit status, filtered by rise/fall hysteresis, marks a tracked object up or
 * down. The result goes to VrrpInstance.setTrackState(name, up), which applies
 * the weight. Tracked interfaces need no runner: the daemon passes link
 * up/down from rtnetlink straight to setTrackState.
 */
import { execFile } from 'node:child_process';
import type { Clock } from './clock.js';
import { TimerSlot } from './clock.js';

/**
 * Flips only after `rise` consecutive successes (down -> up) or `fall`
 * consecutive failures (up -> down), so one slow check does not move a VIP.
 */
export class Hysteresis {
  readonly #rise: number;
  readonly #fall: number;
  #up: boolean;
  #streak = 0;

  constructor(rise: number, fall: number, initialUp: boolean) {
    if (!(rise >= 1 && fall >= 1)) throw new RangeError('rise and fall must be >= 1');
    this.#rise = rise;
    this.#fall = fall;
    this.#up = initialUp;
  }

  get up(): boolean {
    return this.#up;
  }

  /** Records one result; returns true when the state flipped. */
  record(success: boolean): boolean {
    if (success === this.#up) {
      this.#streak = 0;
      return false;
    }
    this.#streak++;
    if (this.#streak < (this.#up ? this.#fall : this.#rise)) return false;
    this.#up = success;
    this.#streak = 0;
    return true;
  }
}

/** Runs argv once; resolves true on exit status 0 within the time limit. Never rejects. */
export type ScriptExec = (argv: readonly string[], timeoutMs: number) => Promise<boolean>;

/** The real ScriptExec: execFile, no shell, killed at the time limit. */
export const execFileSucceeds: ScriptExec = (argv, timeoutMs) =>
  new Promise((resolve) => {
    try {
      execFile(argv[0], argv.slice(1), { timeout: timeoutMs, killSignal: 'SIGKILL' }, (error) =>
        resolve(error === null),
      );
    } catch {
      resolve(false);
    }
  });

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

/** Runs one track script forever: run, wait for it, wait the interval, again. Runs never overlap. */
export class TrackScript {
  readonly spec: TrackScriptSpec;
  readonly #exec: ScriptExec;
  readonly #onChange: (name: string, up: boolean) => void;
  readonly #hysteresis: Hysteresis;
  readonly #timer: TimerSlot;
  readonly #clock: Clock;
  #running = false;
  /** Bumped by stop(), so a run in flight when stopped reports nothing. */
  #generation = 0;

  constructor(spec: TrackScriptSpec, deps: TrackScriptDeps) {
    if (spec.argv.length === 0) throw new RangeError(`track script ${spec.name}: empty command`);
    this.spec = spec;
    this.#exec = deps.exec ?? execFileSucceeds;
    this.#onChange = deps.onChange;
    this.#clock = deps.clock;
    this.#hysteresis = new Hysteresis(spec.rise, spec.fall, spec.initialUp ?? true);
    this.#timer = new TimerSlot(deps.clock, () => void this.#runOnce());
  }

  get up(): boolean {
    return this.#hysteresis.up;
  }

  /** First run right away. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#timer.armAt(this.#clock.now());
  }

  stop(): void {
    this.#running = false;
    this.#generation++;
    this.#timer.cancel();
  }

  async #runOnce(): Promise<void> {
    const generation = this.#generation;
    let success: boolean;
    try {
      success = await this.#exec(this.spec.argv, this.spec.timeoutMs ?? this.spec.intervalMs);
    } catch {
      success = false;
    }
    if (generation !== this.#generation || !this.#running) return;
    if (this.#hysteresis.record(success)) this.#onChange(this.spec.name, this.#hysteresis.up);
    this.#timer.armAt(this.#clock.now() + this.spec.intervalMs);
  }
}
