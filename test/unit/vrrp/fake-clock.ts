/** A Clock for tests: time moves only when the test says, and timers fire in due order. */
import type { Clock, TimerId } from '../../../src/vrrp/clock.js';

interface PendingTimer {
  id: number;
  dueAt: number;
  fire: () => void;
}

export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers: PendingTimer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(delayMs: number, fire: () => void): TimerId {
    const id = this.#nextId++;
    this.#timers.push({ id, dueAt: this.#now + Math.max(0, delayMs), fire });
    return id;
  }

  clearTimer(id: TimerId): void {
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }

  /** Due time of the earliest pending timer, or null. */
  nextDue(): number | null {
    return this.#timers.reduce<number | null>((min, t) => (min === null || t.dueAt < min ? t.dueAt : min), null);
  }

  /** Moves time to `to`, firing every timer due by then, each at its own due time. */
  advanceTo(to: number): void {
    for (;;) {
      const next = this.#earliest();
      if (next === undefined || next.dueAt > to) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = Math.max(this.#now, next.dueAt);
      next.fire();
    }
    this.#now = Math.max(this.#now, to);
  }

  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  /**
   * An event-loop stall: time jumps to `to` with no timer firing; then the
   * overdue timers fire late, all at `to`, as Node would run them.
   */
  stallUntil(to: number): void {
    this.#now = to;
  }

  /** Fires the overdue timers at the current time (after a stall). */
  fireOverdue(): void {
    this.advanceTo(this.#now);
  }

  #earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.#timers) if (best === undefined || t.dueAt < best.dueAt || (t.dueAt === best.dueAt && t.id < best.id)) best = t;
    return best;
  }
}
