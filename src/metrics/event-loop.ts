/**
 * The event loop's busy time as prom-client's nodejs_eventloop_lag_* series,
 * measured by the native addon at every turn of the loop (native/loop_watch.cc)
 * instead of by a sampling timer.
 *
 * prom-client's own histogram (Node's monitorEventLoopDelay) learns about the
 * loop only by waking it: at its default 10 ms that woke an idle daemon 100
 * times a second, and even at 1 s it was the one timer left in a steady
 * daemon, some 40% of its JS thread's CPU, while it saw a stall shorter than
 * a second only by chance. The native watch records the span from each
 * return from poll to the next wait, which is how long a timer that fell
 * due in it waited at most: every stall is seen, and an idle loop costs
 * nothing.
 */
import type { Registry } from 'prom-client';
import { Gauge } from 'prom-client';
import { nativeAddon } from '../native.js';

/** The busy spans of the loop since the last read, in ns (absent when count is 0). */
export interface LoopBusy {
  readonly count: number;
  readonly minNs?: number;
  readonly maxNs?: number;
  readonly meanNs?: number;
  readonly stddevNs?: number;
  readonly p50Ns?: number;
  readonly p90Ns?: number;
  readonly p99Ns?: number;
}

interface LoopWatchAddon {
  loopBusy(): LoopBusy;
}

/** Reads and resets the busy spans; the first call starts the watch. */
export function takeLoopBusy(): LoopBusy {
  return (nativeAddon() as LoopWatchAddon).loopBusy();
}

/** The series, by name: the field of LoopBusy each reports, and its help. */
const SERIES: readonly [name: string, field: keyof Omit<LoopBusy, 'count'>, help: string][] = [
  ['nodejs_eventloop_lag_min_seconds', 'minNs', 'The shortest turn of the event loop (callbacks run between two waits) since the last scrape.'],
  ['nodejs_eventloop_lag_max_seconds', 'maxNs', 'The longest turn of the event loop since the last scrape: the most a timer waited.'],
  ['nodejs_eventloop_lag_mean_seconds', 'meanNs', 'The mean turn of the event loop since the last scrape.'],
  ['nodejs_eventloop_lag_stddev_seconds', 'stddevNs', 'The standard deviation of the turns of the event loop since the last scrape.'],
  ['nodejs_eventloop_lag_p50_seconds', 'p50Ns', 'The median turn of the event loop since the last scrape (within 12.5%).'],
  ['nodejs_eventloop_lag_p90_seconds', 'p90Ns', 'The 90th percentile turn of the event loop since the last scrape (within 12.5%).'],
  ['nodejs_eventloop_lag_p99_seconds', 'p99Ns', 'The 99th percentile turn of the event loop since the last scrape (within 12.5%).'],
];

/** The names prom-client's own event-loop histogram registers, which these replace. */
export const EVENT_LOOP_SERIES: readonly string[] = SERIES.map(([name]) => name);

/**
 * Registers the series on `registry` (after removing any of the same name).
 * One read per scrape: the first series' collect takes the spans, the
 * others report from that read. A scrape with no turn since the last one
 * (none can happen: the scrape itself is one) would report zeros.
 */
export function registerEventLoopBusy(registry: Registry): void {
  takeLoopBusy();
  let last: LoopBusy = { count: 0 };
  for (const [index, [name, field, help]] of SERIES.entries()) {
    registry.removeSingleMetric(name);
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        if (index === 0) last = takeLoopBusy();
        this.set((last[field] ?? 0) / 1e9);
      },
    });
  }
}
