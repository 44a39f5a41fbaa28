/** A manual clock for the checker: time moves only in advance(). */
import type { Clock, TimerId } from '../../../src/health/clock.js';

interface Pending {
  readonly id: number;
  readonly at: number;
  readonly fire: () => void;
}

export class FakeClock implements Clock {
  #now = 0;
  #nextId = 1;
  #pending: Pending[] = [];

  now(): number {
    return this.#now;
  }

  setTimer(delayMs: number, fire: () => void): TimerId {
    const id = this.#nextId++;
    this.#pending.push({ id, at: this.#now + Math.max(0, delayMs), fire });
    return id;
  }

  clearTimer(id: TimerId): void {
    this.#pending = this.#pending.filter((p) => p.id !== id);
  }

  get pendingCount(): number {
    return this.#pending.length;
  }

  /** Fires every timer due within `ms`, in order, letting promises settle between. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    await settle();
    for (;;) {
      const next = [...this.#pending].sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!next || next.at > until) break;
      this.#pending = this.#pending.filter((p) => p !== next);
      this.#now = next.at;
      next.fire();
      await settle();
    }
    this.#now = until;
  }
}

/** Lets chained promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
