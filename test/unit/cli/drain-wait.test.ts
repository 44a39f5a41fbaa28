/** vipctl drain --wait through the daemon's real handlers: returns at 0 connections, exit 1 after --timeout. */
import { afterEach, describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/cli/action.js';
import { runDrain } from '../../../src/cli/drain.js';
import { controlHandlers, type ControlTarget } from '../../../src/daemon/control-handlers.js';
import { EventLog } from '../../../src/daemon/events.js';
import { recordOutput, startDaemon, type TestDaemon } from './helpers.js';

const quiet = { info: () => undefined };

function unused(): never {
  throw new Error('not used by drain --wait');
}

const daemons: TestDaemon[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.close();
});

/** A daemon whose backend 10.0.0.11 has `left()` connections each time it is asked. */
async function daemonWith(left: () => number): Promise<TestDaemon> {
  let drained = false;
  const target: ControlTarget = {
    status: unused,
    stats: unused,
    reload: unused,
    setPriority: unused,
    hasService: (s) => s === 'web',
    setDrained: async (_s, b, want) => {
      if (b !== '10.0.0.11') return undefined;
      const changed = want !== drained;
      drained = want;
      return { changed };
    },
    connections: async (_s, b) => (b === '10.0.0.11' ? { connections: left(), drained, at: Date.now() } : undefined),
    setHostDrained: unused,
    events: new EventLog({ logger: quiet }),
  };
  const d = await startDaemon(controlHandlers(target));
  daemons.push(d);
  return d;
}

describe('vipctl drain --wait', () => {
  it('returns once the backend has no connection left', async () => {
    const counts = [3, 2, 0];
    let asked = 0;
    const d = await daemonWith(() => counts[Math.min(asked++, counts.length - 1)] ?? 0);
    const out = recordOutput();
    expect(await runDrain(true, 'web', '10.0.0.11', { socket: d.socket, wait: true, pollMs: 10 }, out)).toBe(0);
    expect(asked).toBe(3);
    expect(out.stdout()).toMatch(/^drained backend 10\.0\.0\.11 of service web: it takes no new flows\nno connection left on backend 10\.0\.0\.11 after [\d.]+ s\n$/);
  });

  it('gives up after --timeout with exit 1; the backend stays drained', async () => {
    const d = await daemonWith(() => 4);
    const out = recordOutput();
    expect(await runCommand(() => runDrain(true, 'web', '10.0.0.11', { socket: d.socket, wait: true, timeout: 0.2, pollMs: 20 }, out), out)).toBe(1);
    expect(out.stderr()).toMatch(/backend 10\.0\.0\.11 still has 4 connection\(s\) after [\d.]+ s; it stays drained/);
  });

  it('--json prints one object with the connections and the time waited', async () => {
    const d = await daemonWith(() => 0);
    const out = recordOutput();
    expect(await runDrain(true, 'web', '10.0.0.11', { socket: d.socket, wait: true, json: true }, out)).toBe(0);
    expect(JSON.parse(out.stdout())).toMatchObject({ service: 'web', backend: '10.0.0.11', drained: true, changed: true, connections: 0 });
  });
});
