/** vipctl drain-host / undrain-host through the daemon's real handlers and a real event log. */
import { afterEach, describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/cli/action.js';
import { runDrainHost } from '../../../src/cli/drain-host.js';
import { controlHandlers, type ControlTarget } from '../../../src/daemon/control-handlers.js';
import { EventLog } from '../../../src/daemon/events.js';
import { recordOutput, startDaemon, type TestDaemon } from './helpers.js';

const quiet = { info: () => undefined };

function unused(): never {
  throw new Error('not used by drain-host');
}

const daemons: TestDaemon[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.close();
});

async function daemonWith(bgp: boolean): Promise<{ d: TestDaemon; events: EventLog }> {
  const events = new EventLog({ logger: quiet });
  let drained = false;
  const target: ControlTarget = {
    status: unused,
    stats: unused,
    reload: unused,
    setPriority: unused,
    hasService: unused,
    setDrained: unused,
    connections: unused,
    setHostDrained: async (want, by) => {
      if (!bgp) return undefined;
      const changed = want !== drained;
      drained = want;
      events.record({ type: 'drain-host', drained: want, changed, by });
      return { changed };
    },
    events,
  };
  const d = await startDaemon(controlHandlers(target));
  daemons.push(d);
  return { d, events };
}

describe('vipctl drain-host / undrain-host', () => {
  it('drains, says when nothing changed, undrains; each is an event, asked over the control socket', async () => {
    const { d, events } = await daemonWith(true);
    let out = recordOutput();
    expect(await runDrainHost(true, { socket: d.socket }, out)).toBe(0);
    expect(out.stdout()).toBe('host drained: BGP routes withdrawn (the data plane keeps forwarding)\n');
    out = recordOutput();
    expect(await runDrainHost(true, { socket: d.socket, json: true }, out)).toBe(0);
    expect(JSON.parse(out.stdout())).toEqual({ drained: true, changed: false });
    out = recordOutput();
    expect(await runDrainHost(false, { socket: d.socket }, out)).toBe(0);
    expect(out.stdout()).toBe('host undrained: BGP routes announced again\n');
    const list = events.list();
    expect(list.map((e) => e.type === 'drain-host' && [e.drained, e.changed, e.by.via])).toEqual([
      [true, true, 'control'],
      [true, false, 'control'],
      [false, true, 'control'],
    ]);
  });

  it('without bgp configured: exit 2 and the reason', async () => {
    const { d } = await daemonWith(false);
    const out = recordOutput();
    expect(await runCommand(() => runDrainHost(true, { socket: d.socket }, out), out)).toBe(2);
    expect(out.stderr()).toBe('vipctl: this vipd has no bgp configured: nothing to drain\n');
  });
});
