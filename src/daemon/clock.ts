/**
 * The daemon's clock for the VRRP engine: CLOCK_MONOTONIC milliseconds, the
 * same base as the kernel arrival stamps of received adverts (src/net), so
 * the engine can compare "when did the last advert arrive" with "now".
 */
import type { Clock } from '../vrrp/index.js';
import { monotonicMs } from '../net/clock.js';

export const monotonicClock: Clock = {
  now: monotonicMs,
  setTimer: (delayMs, fire) => setTimeout(fire, Math.max(0, delayMs)),
  clearTimer: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};
