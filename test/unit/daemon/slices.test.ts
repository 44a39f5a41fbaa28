import { describe, expect, it } from 'vitest';
import { Slices } from '../../../src/daemon/slices.js';

/** Spins for ms (work that blocks the event loop, as a Maglev build does). */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('Slices', () => {
  it('lets timers run between slices of a burst of promise continuations', async () => {
    const slices = new Slices(5);
    let timerRanAfter = -1;
    let done = 0;
    setTimeout(() => (timerRanAfter = done), 0);
    // 100 steps of 1 ms started at once: without slices the timer would run after all of them.
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        while (slices.due()) await slices.pause();
        busy(1);
        done++;
      }),
    );
    expect(done).toBe(100);
    expect(timerRanAfter).toBeGreaterThanOrEqual(0);
    expect(timerRanAfter).toBeLessThan(100);
  });

  it('is not due inside a slice, and is again after a pause only once the slice is used up', async () => {
    const slices = new Slices(50);
    expect(slices.due()).toBe(false);
    busy(60);
    expect(slices.due()).toBe(true);
    await slices.pause();
    expect(slices.due()).toBe(false);
  });
});
