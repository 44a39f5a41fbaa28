/**
 * The one rise/fall scheduler: runs a check on a clock, enforces its time
 * limit, and flips up/down only after `rise` successes or `fall` failures in
 * a row. Health checks (src/health) and track scripts (track-script.ts) are
 * this plus what they run and whom they tell.
 *
 * Runs never overlap: the next run is scheduled only when the current one has
 * finished (or timed out), `intervalMs` after the previous start or at once if
 * the run took longer. A run still going at `timeoutMs` is aborted and counts
 * as a failure, whatever the run does with the abort.
 */
import type { Clock, TimerId } from '../clock.js';

/**
 * How a check starts, before its first result (HAProxy's `init-state`):
 * - `up` / `down`: provisional; the first result alone decides.
 * - `fully-up` / `fully-down`: settled; leaving it takes `fall` / `rise` results.
 */
export type InitialState = 'up' | 'down' | 'fully-up' | 'fully-down';

/** The outcome of one run. Runs never throw: failures are data. */
export interface RunResult {
  readonly ok: boolean;
  /** Human text naming what ran, e.g. `tcp connect 10.0.0.11:80: ECONNREFUSED`. */
  readonly detail: string;
}

/** One run; must resolve and should stop its work when `signal` aborts. */
export type RunOnce = (signal: AbortSignal) => Promise<RunResult>;

/**
 * The up/down state and the streaks. Flips only after `rise` consecutive
 * successes (down -> up) or `fall` consecutive failures (up -> down), so one
 * slow check does not move a VIP or drain a backend; a provisional state
 * yields to the first result.
 */
export class Hysteresis {
  readonly #rise: number;
  readonly #fall: number;
  #up: boolean;
  #provisional: boolean;
  #successes = 0;
  #failures = 0;

  constructor(rise: number, fall: number, initialUp: boolean, provisional = false) {
    if (!(rise >= 1 && fall >= 1)) throw new RangeError('rise and fall must be >= 1');
    this.#rise = rise;
    this.#fall = fall;
    this.#up = initialUp;
    this.#provisional = provisional;
  }

  get up(): boolean {
    return this.#up;
  }

  get provisional(): boolean {
    return this.#provisional;
  }

  get successes(): number {
    return this.#successes;
  }

  get failures(): number {
    return this.#failures;
  }

  /** The streak the last result belongs to. */
  get streak(): number {
    return Math.max(this.#successes, this.#failures);
  }

  /** Records one result; returns true when the state flipped. */
  record(success: boolean): boolean {
    const provisional = this.#provisional;
    this.#provisional = false;
    if (success) {
      this.#failures = 0;
      this.#successes++;
    } else {
      this.#successes = 0;
      this.#failures++;
    }
    if (success === this.#up) return false;
    if (!provisional && (success ? this.#successes < this.#rise : this.#failures < this.#fall)) return false;
    this.#up = success;
    return true;
  }
}

export interface RiseFallSpec {
  /** Between the starts of two runs; a run that takes longer delays the next. */
  readonly intervalMs: number;
  /** A run not finished by then is aborted and counts as a failure. */
  readonly timeoutMs: number;
  readonly rise: number;
  readonly fall: number;
  readonly initialState: InitialState;
}

export interface RiseFallOptions {
  readonly clock: Clock;
  /** Names what runs, for the timeout and error details. */
  readonly what: string;
  /** Called on every flip with the result that tipped it. */
  readonly onFlip: (up: boolean, result: RunResult, streak: number) => void;
}

export class RiseFallScheduler {
  readonly #spec: RiseFallSpec;
  readonly #run: RunOnce;
  readonly #options: RiseFallOptions;
  readonly #hysteresis: Hysteresis;
  #runs = 0;
  #last: (RunResult & { at: number }) | undefined;
  #timer: TimerId | null = null;
  #inFlight: AbortController | null = null;
  #started = false;

  constructor(spec: RiseFallSpec, run: RunOnce, options: RiseFallOptions) {
    this.#spec = spec;
    this.#run = run;
    this.#options = options;
    const initial = spec.initialState;
    this.#hysteresis = new Hysteresis(
      spec.rise,
      spec.fall,
      initial === 'up' || initial === 'fully-up',
      initial === 'up' || initial === 'down',
    );
  }

  get hysteresis(): Hysteresis {
    return this.#hysteresis;
  }

  get up(): boolean {
    return this.#hysteresis.up;
  }

  get running(): boolean {
    return this.#started;
  }

  get runs(): number {
    return this.#runs;
  }

  get last(): (RunResult & { readonly at: number }) | undefined {
    return this.#last ? { ...this.#last } : undefined;
  }

  /** The first run starts at once. Idempotent. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#schedule(0);
  }

  /** Cancels the pending run and aborts one in flight; its result is ignored. */
  stop(): void {
    this.#started = false;
    if (this.#timer !== null) this.#options.clock.clearTimer(this.#timer);
    this.#timer = null;
    this.#inFlight?.abort();
    this.#inFlight = null;
  }

  #schedule(delayMs: number): void {
    this.#timer = this.#options.clock.setTimer(delayMs, () => {
      this.#timer = null;
      void this.#runScheduled();
    });
  }

  async #runScheduled(): Promise<void> {
    if (!this.#started || this.#inFlight) return;
    const clock = this.#options.clock;
    const startedAt = clock.now();
    const controller = new AbortController();
    this.#inFlight = controller;
    const result = await this.#runOnce(controller);
    // stop() (or a newer run after stop/start) owns the state now.
    if (this.#inFlight !== controller) return;
    this.#inFlight = null;
    this.#record(result);
    if (!this.#started) return;
    const elapsed = clock.now() - startedAt;
    this.#schedule(Math.max(0, this.#spec.intervalMs - elapsed));
  }

  /** The run's result, or a timeout failure if it is not back in time. */
  #runOnce(controller: AbortController): Promise<RunResult> {
    const clock = this.#options.clock;
    const what = this.#options.what;
    return new Promise((resolve) => {
      let done = false;
      const timeout = clock.setTimer(this.#spec.timeoutMs, () => {
        if (done) return;
        done = true;
        controller.abort();
        resolve({ ok: false, detail: `${what}: timed out after ${formatMs(this.#spec.timeoutMs)}` });
      });
      const settle = (result: RunResult): void => {
        if (done) return;
        done = true;
        clock.clearTimer(timeout);
        resolve(result);
      };
      // A run must not reject (nor throw); if a custom one does, it is a failure.
      const fail = (err: unknown): void => settle({ ok: false, detail: `${what}: ${String(err)}` });
      try {
        this.#run(controller.signal).then(settle, fail);
      } catch (err) {
        fail(err);
      }
    });
  }

  #record(result: RunResult): void {
    this.#runs++;
    this.#last = { ...result, at: this.#options.clock.now() };
    if (this.#hysteresis.record(result.ok)) this.#options.onFlip(this.#hysteresis.up, result, this.#hysteresis.streak);
  }
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
}
