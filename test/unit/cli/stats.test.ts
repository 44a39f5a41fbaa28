/** `vipctl stats`: rates from two snapshots, one-shot and --watch, against a real control socket. */
import { afterEach, describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/cli/action.js';
import { computeRates, type StatsRates } from '../../../src/cli/stats-rates.js';
import { runStats } from '../../../src/cli/stats.js';
import type { StatsParams, StatsSnapshot } from '../../../src/daemon/api.js';
import type { RequestContext } from '../../../src/daemon/control/index.js';
import { SNAPSHOT_1, SNAPSHOT_2, snapshotAt } from './fixtures.js';
import { recordOutput, startDaemon, type TestDaemon } from './helpers.js';

const daemons: TestDaemon[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.close();
});

async function daemonWith(...args: Parameters<typeof startDaemon>): Promise<TestDaemon> {
  const d = await startDaemon(...args);
  daemons.push(d);
  return d;
}

describe('computeRates', () => {
  it('divides the counter differences by the time between the snapshots', () => {
    const rates = computeRates(SNAPSHOT_1, SNAPSHOT_2);
    expect(rates.intervalSeconds).toBe(2);
    expect(rates.at).toBe('2025-11-21T12:00:02.000Z');
    const [service] = rates.services;
    expect(service).toMatchObject({ name: '203.0.113.42:80/tcp', packets: 12_000, bytes: 6_000_000, pps: 1000, bps: 4_000_000 });
    expect(service.backends).toEqual([
      { address: '10.0.0.11', packets: 7_500, bytes: 3_750_000, pps: 750, bps: 3_000_000 },
      { address: '10.0.0.12', packets: 4_500, bytes: 2_250_000, pps: 250, bps: 1_000_000 },
    ]);
    expect(rates.verdicts).toEqual([
      { reason: 'forward', packets: 12_000, pps: 1000 },
      { reason: 'arp_reply', packets: 4, pps: 0 },
      { reason: 'pass_not_vip', packets: 140, pps: 20 },
    ]);
  });

  it('gives no rate for a counter that is new or went backwards', () => {
    const later: StatsSnapshot = {
      ...SNAPSHOT_2,
      services: [...SNAPSHOT_2.services, { name: 'new', packets: 5, bytes: 500 }],
      backends: [{ service: '203.0.113.42:80/tcp', backend: '10.0.0.11', packets: 10, bytes: 1000 }],
    };
    const rates = computeRates(SNAPSHOT_1, later);
    expect(rates.services[1]).toMatchObject({ name: 'new', pps: null, bps: null });
    expect(rates.services[0].backends[0]).toMatchObject({ address: '10.0.0.11', pps: null, bps: null });
  });

  it('takes bigint counters (u64 over msgpack)', () => {
    const asBig = (s: StatsSnapshot) =>
      ({ ...s, services: s.services.map((x) => ({ ...x, packets: BigInt(x.packets), bytes: BigInt(x.bytes) })) }) as unknown as StatsSnapshot;
    expect(computeRates(asBig(SNAPSHOT_1), asBig(SNAPSHOT_2)).services[0]).toMatchObject({ pps: 1000, bps: 4_000_000 });
  });
});

describe('vipctl stats (one shot)', () => {
  it('takes two snapshots --interval apart and prints the rates', async () => {
    const answers = [SNAPSHOT_1, SNAPSHOT_2];
    const asked: number[] = [];
    const d = await daemonWith({
      stats: () => {
        asked.push(Date.now());
        return answers.shift();
      },
    });
    const output = recordOutput();
    expect(await runStats({ socket: d.socket, interval: 0.2 }, output)).toBe(0);
    expect(asked).toHaveLength(2);
    expect(asked[1] - asked[0]).toBeGreaterThanOrEqual(190);
    const text = output.stdout();
    expect(text).toContain('Rates over 2s (two snapshots 2s apart; --interval S to change, --watch to follow)');
    const row = (start: string) => text.split('\n').find((l) => l.trim().startsWith(start))!.trim().split(/\s{2,}/);
    expect(row('203.0.113.42:80/tcp')).toEqual(['203.0.113.42:80/tcp', '1.00 kpps', '4.00 Mbit/s', '12.0 k', '6.00 M']);
    expect(row('10.0.0.11')).toEqual(['10.0.0.11', '750 pps', '3.00 Mbit/s', '7.50 k', '3.75 M']);
    expect(row('10.0.0.12')).toEqual(['10.0.0.12', '250 pps', '1.00 Mbit/s', '4.50 k', '2.25 M']);
    expect(row('pass_not_vip')).toEqual(['pass_not_vip', '20 pps', '140']);
  });

  it('--json prints the rates', async () => {
    const answers = [SNAPSHOT_1, SNAPSHOT_2];
    const d = await daemonWith({ stats: () => answers.shift() });
    const output = recordOutput();
    expect(await runStats({ socket: d.socket, interval: 0.01, json: true }, output)).toBe(0);
    const rates = JSON.parse(output.stdout()) as StatsRates;
    expect(rates).toEqual(computeRates(SNAPSHOT_1, SNAPSHOT_2));
  });

  it('rejects a bad --interval as a usage error', async () => {
    const output = recordOutput();
    expect(await runCommand(() => runStats({ socket: '/nonexistent', interval: 0 }, output), output)).toBe(2);
    expect(output.stderr()).toContain('--interval must be a number of seconds');
  });
});

describe('vipctl stats --watch', () => {
  let streamsEnded = 0;
  let lastParams: StatsParams | undefined;

  async function watchDaemon(): Promise<TestDaemon> {
    return daemonWith({
      stats: {
        async *stream(params: unknown, ctx: RequestContext) {
          lastParams = params as StatsParams;
          try {
            for (let n = 0; !ctx.signal.aborted; n++) {
              yield snapshotAt(n);
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
          } finally {
            streamsEnded++;
          }
        },
      },
    });
  }

  it('prints one JSON object per line from the stream, and stops after --count', async () => {
    const d = await watchDaemon();
    const output = recordOutput();
    expect(await runStats({ socket: d.socket, watch: true, json: true, interval: 0.5, count: 3 }, output)).toBe(0);
    expect(lastParams).toEqual({ watch: true, intervalMs: 500 });
    const lines = output.stdout().trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      const rates = JSON.parse(line) as StatsRates;
      // Each snapshot adds 1000 packets of 500 bytes per (fixture) second.
      expect(rates.intervalSeconds).toBe(1);
      expect(rates.services[0]).toMatchObject({ name: 'web', pps: 1000, bps: 4_000_000 });
      expect(rates.services[0].backends[0]).toMatchObject({ address: '10.0.0.11', pps: 1000 });
    }
    await expect.poll(() => streamsEnded).toBe(1);
  });

  it('redraws the table in place on a terminal', async () => {
    const d = await watchDaemon();
    const output = recordOutput(true);
    await runStats({ socket: d.socket, watch: true, count: 2, interval: 1 }, output);
    const frames = output.stdout().split('\x1b[H\x1b[2J');
    expect(frames).toHaveLength(4);
    expect(frames[1]).toBe('Waiting 1s for a second snapshot: rates need two (Ctrl-C to stop)\n');
    expect(frames[2]).toContain('(Ctrl-C to stop)');
    expect(frames[3]).toMatch(/web\s+1.00 kpps\s+4.00 Mbit\/s/);
  });

  it('ends cleanly when the signal aborts (Ctrl-C): the stream is cancelled, exit 0', async () => {
    const d = await watchDaemon();
    const before = streamsEnded;
    const output = recordOutput();
    const controller = new AbortController();
    const run = runCommand(() => runStats({ socket: d.socket, watch: true, json: true, signal: controller.signal }, output), output);
    await expect.poll(() => output.stdout().split('\n').length).toBeGreaterThan(2);
    controller.abort();
    expect(await run).toBe(0);
    expect(output.stderr()).toBe('');
    await expect.poll(() => streamsEnded).toBe(before + 1);
    await expect.poll(() => d.server.connectionCount).toBe(0);
  });

  it('reports a stream error with exit 1', async () => {
    const d = await daemonWith({
      stats: {
        async *stream() {
          yield snapshotAt(0);
          throw new Error('the stats map disappeared');
        },
      },
    });
    const output = recordOutput();
    expect(await runCommand(() => runStats({ socket: d.socket, watch: true }, output), output)).toBe(1);
    expect(output.stderr()).toContain('vipctl: the stats map disappeared');
  });
});
