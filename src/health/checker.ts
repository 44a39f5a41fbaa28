/**
 * One health check on a schedule, with rise/fall hysteresis: a probe on the
 * shared scheduler (src/checks/rise-fall.ts, which says how runs are timed),
 * reporting flips as HealthChange.
 */
import { RiseFallScheduler } from '../checks/rise-fall.js';
import { systemClock, type Clock } from './clock.js';
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
  readonly #scheduler: RiseFallScheduler;
  readonly #listeners = new Set<ChangeListener>();

  constructor(spec: CheckSpec, options: CheckerOptions = {}) {
    validateSpec(spec);
    this.spec = spec;
    const probe = options.probe ?? runProbe;
    this.#scheduler = new RiseFallScheduler(
      { ...spec, initialState: options.initialState ?? spec.initialState ?? 'up' },
      (signal) => probe(spec.probe, signal),
      {
        clock: options.clock ?? systemClock,
        what: describeProbe(spec.probe),
        onFlip: (up, result, streak) => this.#flip(up, result, streak),
      },
    );
  }

  get up(): boolean {
    return this.#scheduler.up;
  }

  get running(): boolean {
    return this.#scheduler.running;
  }

  status(): CheckerStatus {
    const hysteresis = this.#scheduler.hysteresis;
    const last = this.#scheduler.last;
    return {
      up: hysteresis.up,
      provisional: hysteresis.provisional,
      consecutiveSuccesses: hysteresis.successes,
      consecutiveFailures: hysteresis.failures,
      runs: this.#scheduler.runs,
      ...(last ? { last } : {}),
    };
  }

  /** Returns an unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The first run starts at once. Idempotent. */
  start(): void {
    this.#scheduler.start();
  }

  /** Cancels the pending run and aborts one in flight; its result is ignored. */
  stop(): void {
    this.#scheduler.stop();
  }

  #flip(up: boolean, result: ProbeResult, streak: number): void {
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
