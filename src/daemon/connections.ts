/**
 * The connection table's housekeeping (docs/dataplane.md "Connection
 * table"): every 5 s (longer for a table so big that its sweep would take
 * more than SWEEP_DUTY of the time) one sweep of flows4/flows6 (src/dataplane
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
/**
 * The longest time between sweeps while there is nothing to sweep: the flow
 * tables empty, every ring clean, no persistence and no connection sync.
 * Then nothing but a ring change can put an entry in the tables (a packet
 * on a clean slot never touches them), so the pace doubles from
 * SWEEP_INTERVAL_MS up to this, and any ring change brings it back at once
 * (poke()). An idle daemon's JS thread then wakes for the sweep once a
 * minute instead of every 5 s.
 */
export const SWEEP_IDLE_MAX_MS = 60_000;
/**
 * A sweep takes at most this share of the time: a big table is swept less
 * often (1 M entries take ~0.7 s of CPU to read, so every ~7 s, not every
 * 5 s: under 10 % of a core).
 */
export const SWEEP_DUTY = 0.1;

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
  #started = false;
  #last: SweepResult | undefined;
  /** The wait before the next sweep while quiet (#isQuiet()); 0: the normal pace. */
  #idleWaitMs = 0;
  /** The sweep in progress (one at a time: the timer and `drain --wait` may both ask). */
  #running: Promise<SweepResult | undefined> | undefined;
  #stopped = false;

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
    if (this.#started) return;
    this.#started = true;
    this.#stopped = false;
    this.#idleWaitMs = 0;
    this.#dp.onRingsChanged(() => this.poke());
    void this.sweep().then((r) => this.#next(r));
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dp.onRingsChanged(undefined);
    this.#stopped = true;
    this.#started = false;
  }

  /** A ring changed: back to the normal pace if the sweep had backed off (SWEEP_IDLE_MAX_MS). */
  poke(): void {
    if (!this.#started || this.#idleWaitMs === 0) return;
    this.#idleWaitMs = 0;
    this.#schedule(this.#intervalMs);
  }

  /** Schedules the sweep after `result`: later for a long sweep, backing off while quiet. */
  #next(result: SweepResult | undefined): void {
    if (this.#stopped) return;
    this.#idleWaitMs = result && this.#isQuiet(result) ? Math.min(SWEEP_IDLE_MAX_MS, (this.#idleWaitMs || this.#intervalMs) * 2) : 0;
    this.#schedule(Math.max(this.#idleWaitMs || this.#intervalMs, (result?.durationMs ?? 0) / SWEEP_DUTY));
  }

  #schedule(waitMs: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.sweep().then((r) => this.#next(r)), waitMs);
    this.#timer.unref();
  }

  /** Nothing left to sweep until a ring changes (SWEEP_IDLE_MAX_MS). */
  #isQuiet(result: SweepResult): boolean {
    return result.read === 0 && result.byState.pending === 0 && this.#services.longestPersistence() === 0 && this.#dp.quiet();
  }

  /** Resolves when no sweep runs (before the data plane is closed). */
  async idle(): Promise<void> {
    await this.#running;
  }

  /** The timeouts the sweep applies (seconds). */
  timeouts(): FlowTimeouts {
    return { tcp: this.#config.tcpTimeout, udp: this.#config.udpTimeout, closing: CLOSE_TIMEOUT };
  }

  /** One sweep now (or the one running): expire, count, clean slots. Never rejects (logs). */
  sweep(): Promise<SweepResult | undefined> {
    this.#running ??= this.#sweep().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #sweep(): Promise<SweepResult | undefined> {
    if (this.#stopped) return undefined;
    try {
      const result = await this.#dp.sweepFlows(this.timeouts(), this.#services.persistenceByIndex());
      if (this.#stopped) return undefined;
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
    }
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
