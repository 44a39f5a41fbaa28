/**
 * One full garbage collection once the daemon is up. Starting with a big
 * config leaves the parsed YAML tree, the config text and the build-time
 * tables behind (10 000 services: ~100 MiB of garbage); V8 would collect
 * them on its own schedule, ~20-30 s later (its memory reducer), which
 * shows as a burst of CPU in what is otherwise a steady state and holds
 * that memory until then. One collection at the end of start costs a few
 * tens of milliseconds and returns it at once.
 *
 * `gc()` exists only with --expose-gc; the flag applies to contexts made
 * after it is set, so a fresh vm context hands the function over. Nothing
 * else sees the flag.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { memoryUsage } from 'node:process';

export interface StartupGcResult {
  ms: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
}

/** Runs one full collection; undefined when this Node offers no gc(). */
export function collectStartupGarbage(): StartupGcResult | undefined {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
  if (typeof gc !== 'function') return undefined;
  const rssBeforeBytes = memoryUsage.rss();
  const t0 = performance.now();
  (gc as () => void)();
  return { ms: performance.now() - t0, rssBeforeBytes, rssAfterBytes: memoryUsage.rss() };
}
