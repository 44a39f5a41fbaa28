import { describe, expect, it } from 'vitest';
import { Checker } from '../../../src/health/checker.js';
import type { ProbeFn } from '../../../src/health/probe.js';
import type { CheckSpec, HealthChange, ProbeResult } from '../../../src/health/types.js';
import { FakeClock } from './fake-clock.js';

const base: CheckSpec = {
  service: 'web',
  backend: '10.0.0.11',
  probe: { type: 'tcp', host: '10.0.0.11', port: 80 },
  intervalMs: 1000,
  timeoutMs: 500,
  rise: 2,
  fall: 3,
};

/** A probe that answers from a script of results, one per run. */
function scripted(results: boolean[]): { probe: ProbeFn; calls: () => number } {
  let calls = 0;
  const probe: ProbeFn = async () => {
    const ok = results[Math.min(calls, results.length - 1)] ?? false;
    calls++;
    return { ok, detail: ok ? 'tcp connect 10.0.0.11:80: connected' : 'tcp connect 10.0.0.11:80: ECONNREFUSED' };
  };
  return { probe, calls: () => calls };
}

function setup(spec: Partial<CheckSpec>, results: boolean[]) {
  const clock = new FakeClock();
  const { probe, calls } = scripted(results);
  const checker = new Checker({ ...base, ...spec }, { clock, probe });
  const changes: HealthChange[] = [];
  checker.onChange((c) => changes.push(c));
  return { clock, checker, changes, calls };
}

describe('Checker rise/fall', () => {
  it('runs once per interval, first run at once', async () => {
    const { clock, checker, calls } = setup({}, [true]);
    checker.start();
    await clock.advance(0);
    expect(calls()).toBe(1);
    await clock.advance(999);
    expect(calls()).toBe(1);
    await clock.advance(1);
    expect(calls()).toBe(2);
    await clock.advance(10_000);
    expect(calls()).toBe(12);
    checker.stop();
  });

  it('default initial state is provisional up: the first failure alone takes it down', async () => {
    const { clock, checker, changes } = setup({}, [false]);
    expect(checker.up).toBe(true);
    checker.start();
    await clock.advance(0);
    expect(checker.up).toBe(false);
    expect(changes).toEqual([
      { service: 'web', backend: '10.0.0.11', up: false, reason: 'tcp connect 10.0.0.11:80: ECONNREFUSED' },
    ]);
    checker.stop();
  });

  it('provisional up confirmed by a success emits nothing', async () => {
    const { clock, checker, changes } = setup({}, [true]);
    checker.start();
    await clock.advance(5000);
    expect(checker.up).toBe(true);
    expect(changes).toEqual([]);
    expect(checker.status().provisional).toBe(false);
    checker.stop();
  });

  it('after the first result, fall consecutive failures take it down, with the streak in the reason', async () => {
    // ok, fail, fail, ok (resets), fail, fail, fail -> down on run 7
    const { clock, checker, changes } = setup({}, [true, false, false, true, false, false, false]);
    checker.start();
    await clock.advance(5000); // runs 1..6
    expect(checker.up).toBe(true);
    await clock.advance(1000); // run 7
    expect(checker.up).toBe(false);
    expect(changes).toHaveLength(1);
    expect(changes[0]?.reason).toBe('tcp connect 10.0.0.11:80: ECONNREFUSED (3 in a row)');
    checker.stop();
  });

  it('rise consecutive successes bring it back', async () => {
    const { clock, checker, changes } = setup({ initialState: 'fully-down' }, [true, false, true, true]);
    checker.start();
    await clock.advance(2000); // runs 1..3: ok, fail, ok
    expect(checker.up).toBe(false);
    await clock.advance(1000); // run 4: second ok in a row
    expect(checker.up).toBe(true);
    expect(changes.map((c) => c.up)).toEqual([true]);
    expect(changes[0]?.reason).toBe('tcp connect 10.0.0.11:80: connected (2 in a row)');
    checker.stop();
  });

  it('fully-up needs fall failures even at the start', async () => {
    const { clock, checker } = setup({ initialState: 'fully-up' }, [false]);
    checker.start();
    await clock.advance(1000); // 2 runs
    expect(checker.up).toBe(true);
    await clock.advance(1000); // 3rd failure
    expect(checker.up).toBe(false);
    checker.stop();
  });

  it('provisional down comes up on the first success', async () => {
    const { clock, checker, changes } = setup({ initialState: 'down' }, [true]);
    expect(checker.up).toBe(false);
    checker.start();
    await clock.advance(0);
    expect(checker.up).toBe(true);
    expect(changes).toHaveLength(1);
    checker.stop();
  });

  it('a probe that does not answer in time is aborted and counts as a failure', async () => {
    const clock = new FakeClock();
    let aborted = 0;
    const probe: ProbeFn = (_spec, signal) =>
      new Promise<ProbeResult>((resolve) => {
        signal.addEventListener('abort', () => {
          aborted++;
          // Answers late; the checker must ignore it.
          resolve({ ok: true, detail: 'late' });
        });
      });
    const checker = new Checker({ ...base, fall: 1 }, { clock, probe, initialState: 'fully-up' });
    const changes: HealthChange[] = [];
    checker.onChange((c) => changes.push(c));
    checker.start();
    await clock.advance(499);
    expect(changes).toEqual([]);
    await clock.advance(1);
    expect(aborted).toBe(1);
    expect(changes).toEqual([
      { service: 'web', backend: '10.0.0.11', up: false, reason: 'tcp connect 10.0.0.11:80: timed out after 500ms' },
    ]);
    checker.stop();
  });

  it('never overlaps runs: a slow run delays the next one', async () => {
    const clock = new FakeClock();
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const probe: ProbeFn = () => {
      active++;
      runs++;
      maxActive = Math.max(maxActive, active);
      return new Promise<ProbeResult>((resolve) => {
        // Takes 1500 ms of fake time, longer than the 1000 ms interval.
        clock.setTimer(1500, () => {
          active--;
          resolve({ ok: true, detail: 'ok' });
        });
      });
    };
    const checker = new Checker({ ...base, timeoutMs: 2000 }, { clock, probe });
    checker.start();
    await clock.advance(6000);
    expect(maxActive).toBe(1);
    // runs start at 0, 1500, 3000, 4500, 6000
    expect(runs).toBe(5);
    checker.stop();
  });

  it('stop cancels the schedule and ignores a run in flight', async () => {
    const clock = new FakeClock();
    let resolveRun: ((r: ProbeResult) => void) | undefined;
    const probe: ProbeFn = () => new Promise<ProbeResult>((resolve) => (resolveRun = resolve));
    const checker = new Checker({ ...base, fall: 1 }, { clock, probe, initialState: 'fully-up' });
    const changes: HealthChange[] = [];
    checker.onChange((c) => changes.push(c));
    checker.start();
    await clock.advance(100);
    checker.stop();
    resolveRun?.({ ok: false, detail: 'too late' });
    await clock.advance(10_000);
    expect(changes).toEqual([]);
    expect(clock.pendingCount).toBe(0);
  });

  it('a rejecting probe counts as a failure instead of breaking the loop', async () => {
    const clock = new FakeClock();
    const probe: ProbeFn = () => Promise.reject(new Error('boom'));
    const checker = new Checker({ ...base, fall: 2 }, { clock, probe, initialState: 'fully-up' });
    checker.start();
    await clock.advance(1000);
    expect(checker.up).toBe(false);
    expect(checker.status().last?.detail).toBe('tcp connect 10.0.0.11:80: Error: boom');
    checker.stop();
  });

  it('a throwing listener does not stop the checks', async () => {
    const { clock, checker, calls } = setup({ initialState: 'fully-down', rise: 1 }, [true]);
    checker.onChange(() => {
      throw new Error('listener bug');
    });
    checker.start();
    await clock.advance(3000);
    expect(checker.up).toBe(true);
    expect(calls()).toBe(4);
    checker.stop();
  });

  it('rejects nonsense timing', () => {
    expect(() => new Checker({ ...base, rise: 0 })).toThrow(/rise/);
    expect(() => new Checker({ ...base, intervalMs: Number.NaN })).toThrow(/intervalMs/);
    expect(() => new Checker({ ...base, probe: { type: 'command', argv: [] } })).toThrow(/argv/);
  });
});
