/**
 * The sweep's pace (ConnectionTable): every SWEEP_INTERVAL_MS while there is
 * work, backing off to SWEEP_IDLE_MAX_MS while the tables are empty and every
 * ring clean, and back at once when a ring changes. The data plane is a fake
 * here (the sweep itself runs on real maps in the netns daemon tests); the
 * timers are vitest's fake ones.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { ConnectionTable, SWEEP_IDLE_MAX_MS, SWEEP_INTERVAL_MS } from '../../../src/daemon/connections.js';
import type { Dataplane, SweepResult } from '../../../src/dataplane/manager.js';
import type { ServiceTable } from '../../../src/daemon/services.js';

class FakeDataplane {
  sweeps: number[] = [];
  entries = 0;
  clean = true;
  listener: (() => void) | undefined;
  async sweepFlows(): Promise<SweepResult> {
    this.sweeps.push(Date.now());
    return {
      startedAt: Date.now(),
      durationMs: 1,
      read: this.entries,
      expired: 0,
      byReal: new Map(),
      byState: { pending: 0 } as SweepResult['byState'],
      capacity: { flows: 1000, pending: 1000 },
      slots: new Map(),
    };
  }
  namedReals(): Set<number> {
    return new Set();
  }
  serviceSlots(): [] {
    return [];
  }
  quiet(): boolean {
    return this.clean;
  }
  onRingsChanged(listener: (() => void) | undefined): void {
    this.listener = listener;
  }
  /** A ring install, as Dataplane.setBackends() reports it. */
  install(clean: boolean): void {
    this.clean = clean;
    this.listener?.();
  }
}

const services = {
  persistenceByIndex: () => new Map(),
  afterSweep: () => undefined,
  invalidReals: () => new Set(),
  longestPersistence: () => 0,
} as unknown as ServiceTable;

/** The gaps between the sweeps so far, in seconds. */
const gaps = (dp: FakeDataplane): number[] => dp.sweeps.slice(1).map((t, i) => (t - dp.sweeps[i]) / 1000);

describe('ConnectionTable sweep pace', () => {
  let dp: FakeDataplane;
  let table: ConnectionTable;
  beforeEach(() => {
    vi.useFakeTimers();
    dp = new FakeDataplane();
    table = new ConnectionTable({
      dataplane: dp as unknown as Dataplane,
      services,
      logger: pino({ level: 'silent' }),
      config: { tcpTimeout: 300, udpTimeout: 60 } as never,
    });
  });
  afterEach(() => {
    table.stop();
    vi.useRealTimers();
  });

  it('backs off to once a minute while the tables are empty and every ring clean', async () => {
    table.start();
    await vi.advanceTimersByTimeAsync(200_000);
    expect(SWEEP_INTERVAL_MS).toBe(5000);
    expect(gaps(dp)).toEqual([10, 20, 40, 60, 60]);
  });

  it('keeps the 5 s pace while the tables hold flows, or a ring has slots to clean', async () => {
    dp.entries = 3;
    table.start();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(gaps(dp)).toEqual([5, 5, 5, 5]);
    dp.entries = 0;
    dp.clean = false;
    await vi.advanceTimersByTimeAsync(20_000);
    expect(gaps(dp).slice(4)).toEqual([5, 5, 5, 5]);
  });

  it('is back to the 5 s pace as soon as a ring changes, and backs off again once it is clean', async () => {
    table.start();
    await vi.advanceTimersByTimeAsync(80_000); // sweeps at 0, 10, 30, 70 s; the next is due at 130 s
    expect(dp.sweeps.length).toBe(4);
    dp.install(false);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(dp.sweeps.length, 'a sweep 5 s after the change, not at 130 s').toBe(5);
    await vi.advanceTimersByTimeAsync(10_000); // sweeps at 90 and 95 s, the ring still unclean
    dp.clean = true; // the sweep cleaned it: from the next sweep on (100 s), quiet again
    await vi.advanceTimersByTimeAsync(60_000);
    expect(gaps(dp)).toEqual([10, 20, 40, 15, 5, 5, 5, 10, 20]);
    expect(SWEEP_IDLE_MAX_MS).toBe(60_000);
  });
});
