import { describe, expect, it } from 'vitest';
import { HealthMonitor, type KeyedHealthChange } from '../../../src/health/monitor.js';
import type { ProbeFn } from '../../../src/health/probe.js';
import type { CheckSpec } from '../../../src/health/types.js';
import { FakeClock } from './fake-clock.js';

function spec(backend: string, extra: Partial<CheckSpec> = {}): CheckSpec {
  return {
    service: 'web',
    backend,
    probe: { type: 'tcp', host: backend, port: 80 },
    intervalMs: 1000,
    timeoutMs: 500,
    rise: 2,
    fall: 2,
    ...extra,
  };
}

/** Backends listed in `down` fail; the rest succeed. Counts runs per host. */
function world() {
  const down = new Set<string>();
  const runs = new Map<string, number>();
  const probe: ProbeFn = async (p) => {
    const host = p.type === 'command' ? 'cmd' : p.host;
    runs.set(host, (runs.get(host) ?? 0) + 1);
    return down.has(host) ? { ok: false, detail: `tcp connect ${host}:80: ECONNREFUSED` } : { ok: true, detail: 'ok' };
  };
  return { down, runs, probe };
}

describe('HealthMonitor', () => {
  it('runs many checkers and reports changes by key', async () => {
    const clock = new FakeClock();
    const w = world();
    const monitor = new HealthMonitor({ clock, probe: w.probe });
    const changes: KeyedHealthChange[] = [];
    monitor.onChange((c) => changes.push(c));
    monitor.set('web/a', spec('10.0.0.1'));
    monitor.set('web/b', spec('10.0.0.2'));
    monitor.start();
    await clock.advance(1000);
    expect(changes).toEqual([]);
    w.down.add('10.0.0.2');
    await clock.advance(2000);
    expect(changes).toEqual([
      { key: 'web/b', service: 'web', backend: '10.0.0.2', up: false, reason: 'tcp connect 10.0.0.2:80: ECONNREFUSED (2 in a row)' },
    ]);
    expect(monitor.isUp('web/a')).toBe(true);
    expect(monitor.isUp('web/b')).toBe(false);
    expect(monitor.isUp('nope')).toBeUndefined();
    monitor.stop();
    expect(clock.pendingCount).toBe(0);
  });

  it('set with an identical spec changes nothing (the checker keeps running)', async () => {
    const clock = new FakeClock();
    const w = world();
    const monitor = new HealthMonitor({ clock, probe: w.probe });
    monitor.set('a', spec('10.0.0.1'));
    monitor.start();
    await clock.advance(500);
    expect(monitor.set('a', spec('10.0.0.1'))).toBe(false);
    await clock.advance(500);
    // Runs at 0 and 1000 only: no restart at 500.
    expect(w.runs.get('10.0.0.1')).toBe(2);
    monitor.stop();
  });

  it('sync adds, updates and removes, and an updated check keeps its state', async () => {
    const clock = new FakeClock();
    const w = world();
    const monitor = new HealthMonitor({ clock, probe: w.probe });
    const changes: KeyedHealthChange[] = [];
    monitor.onChange((c) => changes.push(c));
    w.down.add('10.0.0.2');
    monitor.sync(new Map([['a', spec('10.0.0.1')], ['b', spec('10.0.0.2')]]));
    monitor.start();
    await clock.advance(0);
    expect(monitor.isUp('b')).toBe(false);

    const diff = monitor.sync(
      new Map([
        ['b', spec('10.0.0.2', { intervalMs: 2000 })],
        ['c', spec('10.0.0.3')],
      ]),
    );
    expect(diff).toEqual({ added: ['c'], updated: ['b'], removed: ['a'] });
    expect(monitor.keys().sort()).toEqual(['b', 'c']);
    // Still down after the update: no flap to the default initial state.
    expect(monitor.isUp('b')).toBe(false);
    // ...and settled: one success does not bring it back, two do (rise 2).
    w.down.delete('10.0.0.2');
    await clock.advance(0);
    expect(monitor.isUp('b')).toBe(false);
    await clock.advance(2000);
    expect(monitor.isUp('b')).toBe(true);
    expect(changes.map((c) => [c.key, c.up])).toEqual([['b', false], ['b', true]]);
    monitor.stop();
  });

  it('a removed checker stops running and emits nothing more', async () => {
    const clock = new FakeClock();
    const w = world();
    const monitor = new HealthMonitor({ clock, probe: w.probe });
    const changes: KeyedHealthChange[] = [];
    monitor.onChange((c) => changes.push(c));
    monitor.set('a', spec('10.0.0.1'));
    monitor.start();
    await clock.advance(0);
    expect(monitor.remove('a')).toBe(true);
    expect(monitor.remove('a')).toBe(false);
    w.down.add('10.0.0.1');
    await clock.advance(10_000);
    expect(w.runs.get('10.0.0.1')).toBe(1);
    expect(changes).toEqual([]);
    expect(clock.pendingCount).toBe(0);
  });

  it('a listener that throws is logged, not fatal', async () => {
    const clock = new FakeClock();
    const w = world();
    const errors: unknown[] = [];
    const logger = { info: () => undefined, warn: () => undefined, error: (o: unknown) => void errors.push(o) };
    const monitor = new HealthMonitor({ clock, probe: w.probe, logger: logger as never });
    let seen = 0;
    monitor.onChange(() => {
      throw new Error('bug');
    });
    monitor.onChange(() => void seen++);
    w.down.add('10.0.0.1');
    monitor.set('a', spec('10.0.0.1'));
    monitor.start();
    await clock.advance(0);
    expect(seen).toBe(1);
    expect(errors).toHaveLength(1);
    monitor.stop();
  });
});
