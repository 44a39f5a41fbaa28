import { describe, expect, it } from 'vitest';
import { Hysteresis } from '../../../src/checks/rise-fall.js';
import { TrackScript, type ScriptExec } from '../../../src/checks/track-script.js';
import { FakeClock } from '../vrrp/fake-clock.js';

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Hysteresis', () => {
  it('flips only after rise successes / fall failures in a row', () => {
    const h = new Hysteresis(2, 3, true);
    // Two failures, a success (resets the count), three failures -> DOWN,
    // two successes -> UP, then a lone failure that changes nothing.
    const flips = [false, false, true, false, false, false, true, true, false, true, true].map((ok) => h.record(ok));
    expect(flips).toEqual([false, false, false, false, false, true, false, true, false, false, false]);
    expect(h.up).toBe(true);
  });

  it('can start down (keepalived init_fail)', () => {
    const h = new Hysteresis(1, 1, false);
    expect(h.up).toBe(false);
    expect(h.record(true)).toBe(true);
  });
});

describe('TrackScript', () => {
  function scripted(results: boolean[]): { exec: ScriptExec; calls: number[] } {
    const calls: number[] = [];
    const exec: ScriptExec = (argv, timeoutMs) => {
      calls.push(timeoutMs);
      expect(argv).toEqual(['/usr/bin/true']);
      return Promise.resolve(results.shift() ?? true);
    };
    return { exec, calls };
  }

  it('runs every interval and reports up/down through rise/fall', async () => {
    const clock = new FakeClock(0);
    const { exec, calls } = scripted([false, false, true, true, true]);
    const changes: string[] = [];
    const script = new TrackScript(
      { name: 'chk', argv: ['/usr/bin/true'], intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 2, weight: -50 },
      { clock, exec, onChange: (name, up) => changes.push(`${clock.now()} ${name} ${up ? 'up' : 'down'}`) },
    );
    script.start();
    for (let t = 0; t <= 4000; t += 1000) {
      clock.advanceTo(t);
      await settle();
    }
    expect(calls).toEqual([500, 500, 500, 500, 500]);
    expect(changes).toEqual(['1000 chk down', '3000 chk up']);
    script.stop();
    clock.advanceTo(10000);
    await settle();
    expect(calls).toHaveLength(5);
  });

  it('never overlaps runs: a slow script delays the next one', async () => {
    const clock = new FakeClock(0);
    let finish: (ok: boolean) => void = () => {};
    let started = 0;
    const exec: ScriptExec = () => {
      started++;
      return new Promise((resolve) => (finish = resolve));
    };
    const script = new TrackScript(
      { name: 'slow', argv: ['x'], intervalMs: 100, rise: 1, fall: 1, weight: 0 },
      { clock, exec, onChange: () => {} },
    );
    script.start();
    clock.advanceTo(1000);
    await settle();
    expect(started).toBe(1);
    finish(false);
    await settle();
    expect(script.up).toBe(false);
    clock.advanceTo(1100);
    await settle();
    expect(started).toBe(2);
  });

  it('a result that lands after stop() is dropped', async () => {
    const clock = new FakeClock(0);
    let finish: (ok: boolean) => void = () => {};
    const changes: boolean[] = [];
    const script = new TrackScript(
      { name: 's', argv: ['x'], intervalMs: 100, rise: 1, fall: 1, weight: 0 },
      { clock, exec: () => new Promise((resolve) => (finish = resolve)), onChange: (_n, up) => changes.push(up) },
    );
    script.start();
    clock.advanceTo(0);
    script.stop();
    finish(false);
    await settle();
    expect(changes).toEqual([]);
    expect(script.up).toBe(true);
  });
});
