/**
 * Time, injected: the VRRP engine, track scripts and health checks never
 * read the system clock or call setTimeout themselves, so tests drive them
 * with a fake clock and the daemon decides what "now" means.
 */

/** Opaque handle of a pending timer. */
export type TimerId = unknown;

export interface Clock {
  /** Milliseconds on a monotonic base; arrival timestamps must use the same base. */
  now(): number;
  /** Calls `fire` once, after `delayMs` (0 or less: as soon as possible). */
  setTimer(delayMs: number, fire: () => void): TimerId;
  clearTimer(id: TimerId): void;
}
