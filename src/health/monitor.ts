/**
 * Many checkers, keyed, for the daemon and for config reload.
 *
 * `sync()` takes the whole wanted set and applies only the difference: an
 * unchanged check keeps running untouched; a changed one is replaced but
 * keeps its current up/down state (settled), so a reload never flaps a
 * backend; a removed one stops.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { Checker, type CheckerStatus } from './checker.js';
import type { Clock } from './clock.js';
import type { ProbeFn } from './probe.js';
import type { CheckSpec, HealthChange } from './types.js';

export interface KeyedHealthChange extends HealthChange {
  readonly key: string;
}

export type MonitorListener = (change: KeyedHealthChange) => void;

export interface HealthMonitorOptions {
  readonly clock?: Clock;
  readonly probe?: ProbeFn;
  readonly logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

interface Entry {
  readonly checker: Checker;
  readonly unsubscribe: () => void;
}

export class HealthMonitor {
  readonly #options: HealthMonitorOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<MonitorListener>();
  #running = false;

  constructor(options: HealthMonitorOptions = {}) {
    this.#options = options;
  }

  /** Returns an unsubscribe function. */
  onChange(listener: MonitorListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Starts every checker, and every one added later. */
  start(): void {
    this.#running = true;
    for (const { checker } of this.#entries.values()) checker.start();
  }

  /** Stops every checker; they keep their state and can be started again. */
  stop(): void {
    this.#running = false;
    for (const { checker } of this.#entries.values()) checker.stop();
  }

  /** Adds or updates one check. Returns false when nothing changed. */
  set(key: string, spec: CheckSpec): boolean {
    const old = this.#entries.get(key);
    if (old && isDeepStrictEqual(old.checker.spec, spec)) return false;
    let initialState = spec.initialState;
    if (old) {
      const status = old.checker.status();
      // Carry the state over; a still-provisional one stays provisional.
      initialState = status.provisional ? (status.up ? 'up' : 'down') : status.up ? 'fully-up' : 'fully-down';
      this.#drop(key, old);
    }
    const checker = new Checker(spec, {
      clock: this.#options.clock,
      probe: this.#options.probe,
      initialState,
    });
    const unsubscribe = checker.onChange((change) => this.#emit({ key, ...change }));
    this.#entries.set(key, { checker, unsubscribe });
    if (this.#running) checker.start();
    return true;
  }

  /** Stops and forgets one check. Returns false when there was none. */
  remove(key: string): boolean {
    const entry = this.#entries.get(key);
    if (!entry) return false;
    this.#drop(key, entry);
    return true;
  }

  /** Makes the set of checks exactly `wanted`. */
  sync(wanted: ReadonlyMap<string, CheckSpec>): { added: string[]; updated: string[]; removed: string[] } {
    const diff = { added: [] as string[], updated: [] as string[], removed: [] as string[] };
    for (const key of [...this.#entries.keys()]) {
      if (!wanted.has(key)) {
        this.remove(key);
        diff.removed.push(key);
      }
    }
    for (const [key, spec] of wanted) {
      const existed = this.#entries.has(key);
      if (this.set(key, spec)) (existed ? diff.updated : diff.added).push(key);
    }
    return diff;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  keys(): string[] {
    return [...this.#entries.keys()];
  }

  /** Undefined for an unknown key. */
  isUp(key: string): boolean | undefined {
    return this.#entries.get(key)?.checker.up;
  }

  status(key: string): CheckerStatus | undefined {
    return this.#entries.get(key)?.checker.status();
  }

  #drop(key: string, entry: Entry): void {
    entry.unsubscribe();
    entry.checker.stop();
    this.#entries.delete(key);
  }

  #emit(change: KeyedHealthChange): void {
    this.#options.logger?.info(
      { service: change.service, backend: change.backend, up: change.up, reason: change.reason },
      `backend ${change.backend} of ${change.service} is ${change.up ? 'up' : 'down'}: ${change.reason}`,
    );
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (err) {
        this.#options.logger?.error({ err, key: change.key }, 'health change listener threw');
      }
    }
  }
}
