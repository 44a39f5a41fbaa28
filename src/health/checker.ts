/**
 * One health check on a schedule, with rise/fall hysteresis.
 *
 * Runs never overlap: the next run is scheduled only when the current one has
 * finished (or timed out), `intervalMs` after the previous start or at once if
 * the run took longer. A run still going at `timeoutMs` is aborted and counts
 * as a failure, whatever the probe does with the abort.
 */
import { systemClock, type Clock, type TimerId } from './clock.js';
import { describeProbe } from './describe.js';
import { runProbe, type ProbeFn } from './probe.js';
import type { CheckSpec, HealthChange, InitialState, ProbeResult } from './types.js';

export type ChangeListener = (change: HealthChange) => void;

export interface CheckerOptions {
  readonly clock?: Clock;
  readonly probe?: ProbeFn;
  /** Overrides `spec.initialState`; the monitor uses it to keep state across reloads. */
  readonly initialState?: InitialState;
}

/** A snapshot for `vipctl status` and logs. */
export interface CheckerStatus {
  readonly up: boolean;
  /** True until the first result when the initial state was provisional. */
  readonly provisional: boolean;
  readonly consecutiveSuccesses: number;
  readonly consecutiveFailures: number;
  readonly runs: number;
  readonly last?: ProbeResult & { readonly at: number };
}

export class Checker {
  readonly spec: CheckSpec;
  readonly #clock: Clock;
  readonly #probe: ProbeFn;
  readonly #listeners = new Set<ChangeListener>();
  #up: boolean;
  #provisional: boolean;
  #successes = 0;
  #failures = 0;
  #runs = 0;
  #last: (ProbeResult & { at: number }) | undefined;
  #timer: TimerId | null = null;
  #inFlight: AbortController | null = null;
  #started = false;

  constructor(spec: CheckSpec, options: CheckerOptions = {}) {
    validateSpec(spec);
    this.spec = spec;
    this.#clock = options.clock ?? systemClock;
    this.#probe = options.probe ?? runProbe;
    const initial = options.initialState ?? spec.initialState ?? 'up';
    this.#up = initial === 'up' || initial === 'fully-up';
    this.#provisional = initial === 'up' || initial === 'down';
  }

  get up(): boolean {
    return this.#up;
  }

  get running(): boolean {
    return this.#started;
  }

  status(): CheckerStatus {
    return {
      up: this.#up,
      provisional: this.#provisional,
      consecutiveSuccesses: this.#successes,
      consecutiveFailures: this.#failures,
      runs: this.#runs,
      ...(this.#last ? { last: { ...this.#last } } : {}),
    };
  }

  /** Returns an unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
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
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
    this.#timer = null;
    this.#inFlight?.abort();
    this.#inFlight = null;
  }

  #schedule(delayMs: number): void {
    this.#timer = this.#clock.setTimer(delayMs, () => {
      this.#timer = null;
      void this.#run();
    });
  }

  async #run(): Promise<void> {
    if (!this.#started || this.#inFlight) return;
    const startedAt = this.#clock.now();
    const controller = new AbortController();
    this.#inFlight = controller;
    const result = await this.#runOnce(controller);
    // stop() (or a newer run after stop/start) owns the state now.
    if (this.#inFlight !== controller) return;
    this.#inFlight = null;
    this.#record(result);
    if (!this.#started) return;
    const elapsed = this.#clock.now() - startedAt;
    this.#schedule(Math.max(0, this.spec.intervalMs - elapsed));
  }

  /** The probe's result, or a timeout failure if it is not back in time. */
  #runOnce(controller: AbortController): Promise<ProbeResult> {
    return new Promise((resolve) => {
      let done = false;
      const timeout = this.#clock.setTimer(this.spec.timeoutMs, () => {
        if (done) return;
        done = true;
        controller.abort();
        resolve({
          ok: false,
          detail: `${describeProbe(this.spec.probe)}: timed out after ${formatMs(this.spec.timeoutMs)}`,
        });
      });
      this.#probe(this.spec.probe, controller.signal).then(
        (result) => {
          if (done) return;
          done = true;
          this.#clock.clearTimer(timeout);
          resolve(result);
        },
        (err: unknown) => {
          // A probe must not reject; if a custom one does, it is a failure.
          if (done) return;
          done = true;
          this.#clock.clearTimer(timeout);
          resolve({ ok: false, detail: `${describeProbe(this.spec.probe)}: ${String(err)}` });
        },
      );
    });
  }

  #record(result: ProbeResult): void {
    this.#runs++;
    this.#last = { ...result, at: this.#clock.now() };
    const provisional = this.#provisional;
    this.#provisional = false;
    if (result.ok) {
      this.#failures = 0;
      this.#successes++;
      if (!this.#up && (provisional || this.#successes >= this.spec.rise)) {
        this.#flip(true, result, this.#successes);
      }
    } else {
      this.#successes = 0;
      this.#failures++;
      if (this.#up && (provisional || this.#failures >= this.spec.fall)) {
        this.#flip(false, result, this.#failures);
      }
    }
  }

  #flip(up: boolean, result: ProbeResult, streak: number): void {
    this.#up = up;
    const change: HealthChange = {
      service: this.spec.service,
      backend: this.spec.backend,
      up,
      reason: streak > 1 ? `${result.detail} (${streak} in a row)` : result.detail,
    };
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch {
        // A listener's bug must not stop the checks; the monitor logs its own.
      }
    }
  }
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
}

function validateSpec(spec: CheckSpec): void {
  const positive = (name: string, value: number, integer: boolean): void => {
    if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
      throw new RangeError(`health check ${spec.service}/${spec.backend}: ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
    }
  };
  positive('intervalMs', spec.intervalMs, false);
  positive('timeoutMs', spec.timeoutMs, false);
  positive('rise', spec.rise, true);
  positive('fall', spec.fall, true);
  if (spec.probe.type === 'command' && spec.probe.argv.length === 0) {
    throw new RangeError(`health check ${spec.service}/${spec.backend}: command argv is empty`);
  }
}
