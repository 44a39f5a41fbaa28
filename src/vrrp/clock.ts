/**
 * Time, injected. The engine never reads the system clock or calls setTimeout
 * itself, so tests drive it with a fake clock and the daemon decides what
 * "now" means (one monotonic base shared with advert arrival timestamps).
 */

import type { Clock, TimerId } from '../clock.js';

export type { Clock, TimerId } from '../clock.js';

/**
 * One re-armable timer with its due time. `armNoLaterThan` lets a hot path
 * (an advert every 10 ms) leave an earlier pending timer alone instead of
 * clearing and setting one per packet: when that timer fires, its owner
 * re-checks the real deadline and re-arms for the rest.
 */
export class TimerSlot {
  readonly #clock: Clock;
  readonly #fire: () => void;
  #id: TimerId | null = null;
  #dueAt = Infinity;

  constructor(clock: Clock, fire: () => void) {
    this.#clock = clock;
    this.#fire = fire;
  }

  get armed(): boolean {
    return this.#id !== null;
  }

  /** Fires at `dueAt`, replacing any pending timer. */
  armAt(dueAt: number): void {
    this.cancel();
    this.#dueAt = dueAt;
    this.#id = this.#clock.setTimer(dueAt - this.#clock.now(), () => {
      this.#id = null;
      this.#dueAt = Infinity;
      this.#fire();
    });
  }

  /** Makes sure the slot fires at `dueAt` or earlier. */
  armNoLaterThan(dueAt: number): void {
    if (this.#id !== null && this.#dueAt <= dueAt) return;
    this.armAt(dueAt);
  }

  cancel(): void {
    if (this.#id !== null) this.#clock.clearTimer(this.#id);
    this.#id = null;
    this.#dueAt = Infinity;
  }
}
