/**
 * The connection table's housekeeping (docs/dataplane.md "Connection
 * table"): every few seconds one sweep of flows4/flows6 (src/dataplane
 * flows.ts) deletes idle entries and counts the rest; the counts go to the
 * services (connections per backend, held real indexes freed) and the
 * metrics; then each service's live ring is cleaned in place:
 *
 * - a changed slot (its fallback names the real it had) older than the
 *   longest timeout becomes TRACKED | real: a flow from before the change
 *   that sent nothing for that long is gone, and one that did is pinned;
 * - a tracked slot with no live entry becomes clean again (its packets skip
 *   the table), but only from a sweep that began CLEAN_GRACE_MS after the
 *   ring was installed: a handshake that began on the older table may be
 *   promoted just after the read.
 */
import type { ConnectionsConfig } from '../config/index.js';
import type { Dataplane, FlowTimeouts, SweepResult } from '../dataplane/manager.js';
import type { Logger } from './logger.js';
import type { ServiceTable } from './services.js';

/** Seconds a TCP flow whose client sent FIN or RST may stay idle (the kernel's TIME_WAIT is 60 s; a FIN_WAIT peer answers within this). */
export const CLOSE_TIMEOUT = 10;
/** How long after an install a tracked slot may be cleaned (a few handshakes' time; see above). */
export const CLEAN_GRACE_MS = 10_000;
/** Default time between sweeps. */
export const SWEEP_INTERVAL_MS = 5_000;

export interface ConnectionTableOptions {
  dataplane: Dataplane;
  services: ServiceTable;
  logger: Logger;
  config: ConnectionsConfig;
  intervalMs?: number;
  /** After every sweep (metrics). */
  onSweep?: (result: SweepResult) => void;
}

export class ConnectionTable {
  readonly #dp: Dataplane;
  readonly #services: ServiceTable;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #onSweep: ((r: SweepResult) => void) | undefined;
  #config: ConnectionsConfig;
  #timer: NodeJS.Timeout | undefined;
  #last: SweepResult | undefined;
  /** Callers of sweepSoon() waiting for the next sweep's end. */
  #waiters: (() => void)[] = [];

  constructor(opts: ConnectionTableOptions) {
    this.#dp = opts.dataplane;
    this.#services = opts.services;
    this.#log = opts.logger.child({ part: 'connections' });
    this.#config = opts.config;
    this.#intervalMs = opts.intervalMs ?? SWEEP_INTERVAL_MS;
    this.#onSweep = opts.onSweep;
  }

  /** Timeouts changed by a reload (connections.max needs a restart: it sizes the maps). */
  setConfig(config: ConnectionsConfig): void {
    this.#config = config;
  }

  get last(): SweepResult | undefined {
    return this.#last;
  }

  start(): void {
    if (this.#timer) return;
    this.sweep();
    this.#timer = setInterval(() => this.sweep(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** The timeouts the sweep applies (seconds). */
  timeouts(): FlowTimeouts {
    return { tcp: this.#config.tcpTimeout, udp: this.#config.udpTimeout, closing: CLOSE_TIMEOUT };
  }

  /** One sweep now: expire, count, clean slots. Never throws (logs). */
  sweep(): SweepResult | undefined {
    try {
      const result = this.#dp.sweepFlows(this.timeouts(), this.#services.persistenceByIndex());
      const named = this.#dp.namedReals();
      this.#services.afterSweep({ startedAt: result.startedAt, byReal: result.byReal, named });
      const cleaned = this.#clean(result);
      this.#last = result;
      if (result.expired > 0 || cleaned > 0) {
        this.#log.debug({ read: result.read, expired: result.expired, cleaned, ms: Math.round(result.durationMs) }, 'connection table swept');
      }
      this.#onSweep?.(result);
      return result;
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'sweeping the connection table failed');
      return undefined;
    } finally {
      for (const wake of this.#waiters.splice(0)) wake();
    }
  }

  /** Resolves after the next sweep (for `vipctl drain --wait`: counts fresher than the interval). */
  nextSweep(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The longest time a flow may stay idle in the table: a change older than this has no unknown flow left. */
  #longestTimeout(): number {
    return Math.max(this.#config.tcpTimeout, this.#config.udpTimeout, this.#services.longestPersistence());
  }

  #clean(result: SweepResult): number {
    const now = Date.now();
    const longestMs = this.#longestTimeout() * 1000;
    const invalid = this.#services.invalidReals();
    let rewritten = 0;
    for (const view of this.#dp.serviceSlots()) {
      const seen = result.slots.get(view.index);
      if (!seen || seen.ring !== view.ring) continue;
      const ageChanged = view.changedAt > 0 && now - view.changedAt > longestMs;
      const cleanTracked = view.installedAt + CLEAN_GRACE_MS < result.startedAt;
      if (!ageChanged && !cleanTracked && invalid.size === 0) continue;
      rewritten += this.#dp.cleanSlots(view.index, view.ring, seen.hasEntry, { ageChanged, cleanTracked, invalid });
    }
    return rewritten;
  }
}
