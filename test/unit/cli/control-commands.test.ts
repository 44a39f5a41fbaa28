/** drain, undrain, priority and reload against a real control socket. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/cli/action.js';
import { runDrain } from '../../../src/cli/drain.js';
import { parsePriority, runPriority } from '../../../src/cli/priority.js';
import { runReload } from '../../../src/cli/reload.js';
import type { DrainParams, DrainResult, PriorityParams, PriorityResult } from '../../../src/daemon/api.js';
import { ControlError } from '../../../src/daemon/control/index.js';
import { recordOutput, startDaemon, type TestDaemon } from './helpers.js';

describe('vipctl drain / undrain / priority / reload', () => {
  let daemon: TestDaemon;
  const drained = new Set<string>();
  const priorities = new Map([['web', 150]]);
  const requests: { method: string; params: unknown }[] = [];
  let reloadAnswer: () => unknown = () => ({ changes: [] });

  function drainHandler(drain: boolean) {
    return (params: unknown): DrainResult => {
      const { service, backend } = params as DrainParams;
      requests.push({ method: drain ? 'drain' : 'undrain', params });
      if (service !== 'web-80') throw new ControlError('NOT_FOUND', `no service named '${service}'`);
      const key = `${service}/${backend}`;
      const changed = drained.has(key) !== drain;
      if (drain) drained.add(key);
      else drained.delete(key);
      return { service, backend, drained: drain, changed };
    };
  }

  beforeAll(async () => {
    daemon = await startDaemon({
      drain: drainHandler(true),
      undrain: drainHandler(false),
      priority: (params: unknown): PriorityResult => {
        const { instance, priority } = params as PriorityParams;
        requests.push({ method: 'priority', params });
        const previous = priorities.get(instance);
        if (previous === undefined) throw new ControlError('NOT_FOUND', `no instance named '${instance}'`);
        priorities.set(instance, priority);
        return { instance, previous, priority };
      },
      reload: () => reloadAnswer(),
    });
  });
  afterAll(() => daemon?.close());
  beforeEach(() => {
    requests.length = 0;
  });

  it('drain sends {service, backend} and says what happened; twice is not an error', async () => {
    let output = recordOutput();
    expect(await runDrain(true, 'web-80', '10.0.0.11', { socket: daemon.socket }, output)).toBe(0);
    expect(requests).toEqual([{ method: 'drain', params: { service: 'web-80', backend: '10.0.0.11' } }]);
    expect(output.stdout()).toBe('drained backend 10.0.0.11 of service web-80: it takes no new flows\n');

    output = recordOutput();
    expect(await runDrain(true, 'web-80', '10.0.0.11', { socket: daemon.socket, json: true }, output)).toBe(0);
    expect(JSON.parse(output.stdout())).toEqual({ service: 'web-80', backend: '10.0.0.11', drained: true, changed: false });

    output = recordOutput();
    expect(await runDrain(false, 'web-80', '10.0.0.11', { socket: daemon.socket }, output)).toBe(0);
    expect(output.stdout()).toBe('undrained backend 10.0.0.11 of service web-80: it takes new flows again\n');
    expect(drained.size).toBe(0);
  });

  it('an unknown service is a usage error (exit 2) with the daemon\'s message', async () => {
    const output = recordOutput();
    expect(await runCommand(() => runDrain(true, 'nope', '10.0.0.11', { socket: daemon.socket }, output), output)).toBe(2);
    expect(output.stderr()).toBe("vipctl: no service named 'nope'\n");
    expect(output.stdout()).toBe('');
  });

  it('priority sets the new value and reports the old one', async () => {
    const output = recordOutput();
    expect(await runPriority('web', '50', { socket: daemon.socket }, output)).toBe(0);
    expect(requests).toEqual([{ method: 'priority', params: { instance: 'web', priority: 50 } }]);
    expect(output.stdout()).toBe('instance web: priority 150 -> 50\n');
    const json = recordOutput();
    await runPriority('web', '254', { socket: daemon.socket, json: true }, json);
    expect(JSON.parse(json.stdout())).toEqual({ instance: 'web', previous: 50, priority: 254 });
  });

  it.each(['0', '255', '-1', '1.5', 'ten', '', '1e2'])('priority %j is refused before asking the daemon (exit 2)', async (text) => {
    expect(() => parsePriority(text)).toThrow(/priority must be an integer from 1 to 254/);
    const output = recordOutput();
    expect(await runCommand(() => runPriority('web', text, { socket: daemon.socket }, output), output)).toBe(2);
    expect(output.stderr()).toContain('priority must be an integer from 1 to 254');
    expect(requests).toEqual([]);
  });

  it('accepts the bounds 1 and 254', () => {
    expect(parsePriority('1')).toBe(1);
    expect(parsePriority('254')).toBe(254);
  });

  it('priority for an unknown instance exits 2', async () => {
    const output = recordOutput();
    expect(await runCommand(() => runPriority('nope', '100', { socket: daemon.socket }, output), output)).toBe(2);
    expect(output.stderr()).toContain("no instance named 'nope'");
  });

  it('reload prints the change lines, or that nothing changed', async () => {
    reloadAnswer = () => ({ changes: ['+ service 203.0.113.42:443/tcp', '~ instance web: priority 150 -> 120'] });
    let output = recordOutput();
    expect(await runReload({ socket: daemon.socket }, output)).toBe(0);
    expect(output.stdout()).toBe('config reloaded:\n  + service 203.0.113.42:443/tcp\n  ~ instance web: priority 150 -> 120\n');

    reloadAnswer = () => ({ changes: [] });
    output = recordOutput();
    expect(await runReload({ socket: daemon.socket }, output)).toBe(0);
    expect(output.stdout()).toBe('config reloaded: nothing changed\n');

    output = recordOutput();
    await runReload({ socket: daemon.socket, json: true }, output);
    expect(JSON.parse(output.stdout())).toEqual({ changes: [] });
  });

  it('a rejected config prints every error and exits 2', async () => {
    reloadAnswer = () => {
      throw new ControlError(
        'CONFIG',
        '/etc/vipd/vipd.yaml:7:15: instances[0].vrid: must be 1..255\n/etc/vipd/vipd.yaml:12:5: services[0].port: required',
      );
    };
    const output = recordOutput();
    expect(await runCommand(() => runReload({ socket: daemon.socket }, output), output)).toBe(2);
    expect(output.stderr()).toBe(
      'vipctl: the new config was rejected; vipd keeps running the old one:\n' +
        '  /etc/vipd/vipd.yaml:7:15: instances[0].vrid: must be 1..255\n' +
        '  /etc/vipd/vipd.yaml:12:5: services[0].port: required\n',
    );
    expect(output.stdout()).toBe('');
  });

  it('another daemon failure exits 1', async () => {
    reloadAnswer = () => {
      throw new Error('rtnetlink: EBUSY');
    };
    const output = recordOutput();
    expect(await runCommand(() => runReload({ socket: daemon.socket }, output), output)).toBe(1);
    expect(output.stderr()).toBe('vipctl: rtnetlink: EBUSY\n');
  });
});
