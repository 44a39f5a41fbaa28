/**
 * Time, injected, so rise/fall behaviour is tested with a fake clock.
 *
 * The shape is the same as src/vrrp/clock.ts on purpose: the daemon can hand
 * one clock object to both, yet neither module imports the other.
 */

/** Opaque handle of a pending timer. */
export type TimerId = unknown;

export interface Clock {
  /** Milliseconds on a monotonic base. */
  now(): number;
  /** Calls `fire` once, after `delayMs` (0 or less: as soon as possible). */
  setTimer(delayMs: number, fire: () => void): TimerId;
  clearTimer(id: TimerId): void;
}

/**
 * performance.now and Node timers. Timers are unref'd: a pending health check
 * must never be the only thing keeping a process (or a test run) alive.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer: (delayMs, fire) => setTimeout(fire, Math.max(0, delayMs)).unref(),
  clearTimer: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};
