/** VRRP timer arithmetic (RFC 9568 section 6.1, RFC 3768 section 6.1), in milliseconds. */
import type { VrrpVersion } from './codec.js';

/**
 * Skew_Time: lower priorities wait longer, so the best backup wins the race.
 * v3 scales it with the master's interval; v2 fixes it at (256-priority)/256 s.
 */
export function skewTimeMs(version: VrrpVersion, priority: number, masterAdverIntervalMs: number): number {
  const scale = version === 3 ? masterAdverIntervalMs : 1000;
  return ((256 - priority) * scale) / 256;
}

/** Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time. */
export function masterDownIntervalMs(version: VrrpVersion, priority: number, masterAdverIntervalMs: number): number {
  return 3 * masterAdverIntervalMs + skewTimeMs(version, priority, masterAdverIntervalMs);
}
