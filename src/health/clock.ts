/**
 * Time, injected, so rise/fall behaviour is tested with a fake clock.
 *
 * The interface is src/clock.ts, shared with the VRRP engine.
 */

import type { Clock } from '../clock.js';

export type { Clock, TimerId } from '../clock.js';

/**
 * performance.now and Node timers. Timers are unref'd: a pending health check
 * must never be the only thing keeping a process (or a test run) alive.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer: (delayMs, fire) => setTimeout(fire, Math.max(0, delayMs)).unref(),
  clearTimer: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};
