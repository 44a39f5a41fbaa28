/**
 * `vipctl events` against a real control socket served by the daemon's own
 * handlers over a real EventLog: the history, --type, --limit, --json and
 * --follow (new events arrive on the open stream; cancelling ends it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/cli/action.js';
import { runEvents } from '../../../src/cli/events.js';
import type { VipdEvent } from '../../../src/daemon/api.js';
import { controlHandlers, type ControlTarget } from '../../../src/daemon/control-handlers.js';
import { EventLog } from '../../../src/daemon/events.js';
import { recordOutput, startDaemon, type TestDaemon } from './helpers.js';

const daemons: TestDaemon[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.close();
});

function unused(): never {
  throw new Error('not used by vipctl events');
}

async function daemonWith(events: EventLog): Promise<TestDaemon> {
  const target: ControlTarget = {
    status: unused,
    stats: unused,
    reload: unused,
    setPriority: unused,
    hasService: unused,
    setDrained: unused,
    connections: unused,
    setHostDrained: unused,
    events,
  };
  const d = await startDaemon(controlHandlers(target));
  daemons.push(d);
  return d;
}

function history(): EventLog {
  let t = Date.UTC(2026, 2, 2, 10, 0, 0);
  const log = new EventLog({ now: () => new Date((t += 1000)) });
  log.record({ type: 'state', instance: 'web', from: 'BACKUP', to: 'MASTER', priority: 150, reason: 'no master heard for 342 ms' });
  log.record({ type: 'failover', instance: 'web', seconds: 0.0009 });
  log.record({ type: 'drain', service: 'web', backend: '10.0.0.11', drained: true, changed: true, by: { via: 'control', uid: 1000, pid: 77 } });
  log.record({
    type: 'reload',
    result: 'applied',
    changes: ['service web: backend 10.0.0.11 changed'],
    diff: ['-18:       - { address: 10.0.0.11, weight: 100 }', '+18:       - { address: 10.0.0.11, weight: 60 }'],
    by: { via: 'signal', uid: null, pid: null },
  });
  return log;
}

describe('vipctl events', () => {
  it('prints the history for people, a reload with its changed lines', async () => {
    const d = await daemonWith(history());
    const out = recordOutput();
    expect(await runCommand(() => runEvents({ socket: d.socket }, out), out)).toBe(0);
    expect(out.stdout()).toBe(
      [
        '2026-03-02T10:00:01.000Z  #1  state     web: BACKUP -> MASTER (no master heard for 342 ms)',
        '2026-03-02T10:00:02.000Z  #2  failover  web: failover took 0.9 ms (election to first announcement)',
        '2026-03-02T10:00:03.000Z  #3  drain     web: backend 10.0.0.11 drained by uid 1000',
        '2026-03-02T10:00:04.000Z  #4  reload    reload by signal: service web: backend 10.0.0.11 changed',
        '      -18:       - { address: 10.0.0.11, weight: 100 }',
        '      +18:       - { address: 10.0.0.11, weight: 60 }',
        '',
      ].join('\n'),
    );
  });

  it('--json --type --limit: one object per line, only those types, the newest n', async () => {
    const d = await daemonWith(history());
    const out = recordOutput();
    expect(await runCommand(() => runEvents({ socket: d.socket, json: true, type: 'drain,reload', limit: 2 }, out), out)).toBe(0);
    const lines = out.stdout().trim().split('\n').map((l) => JSON.parse(l) as VipdEvent);
    expect(lines.map((e) => [e.seq, e.type])).toEqual([
      [3, 'drain'],
      [4, 'reload'],
    ]);
    expect(lines[0]).toMatchObject({ by: { via: 'control', uid: 1000, pid: 77 } });
  });

  it('an unknown --type is a usage error (exit 2)', async () => {
    const d = await daemonWith(history());
    const out = recordOutput();
    expect(await runCommand(() => runEvents({ socket: d.socket, type: 'drains' }, out), out)).toBe(2);
    expect(out.stderr()).toMatch(/--type takes a comma-separated list of state, failover/);
  });

  it('--follow: the history, then new events as recorded, until cancelled (exit 0)', async () => {
    const log = history();
    const d = await daemonWith(log);
    const out = recordOutput();
    const ac = new AbortController();
    const done = runCommand(() => runEvents({ socket: d.socket, json: true, follow: true, limit: 1, signal: ac.signal }, out), out);
    const seqs = () => out.stdout().trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as VipdEvent).seq);
    const until = async (n: number) => {
      const end = Date.now() + 5000;
      while (seqs().length < n) {
        if (Date.now() > end) throw new Error(`only ${seqs().length} events printed: ${out.stdout()}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await until(1);
    log.record({ type: 'backend', service: 'web', backend: '10.0.0.12', up: false, reason: 'connect refused' });
    await until(2);
    expect(seqs()).toEqual([4, 5]);
    ac.abort();
    expect(await done).toBe(0);
  });
});
