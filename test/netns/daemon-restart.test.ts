/**
 * Hitless restart under traffic: the MASTER's vipd exits leaving its pinned
 * program, maps and lease (SIGUSR2 handoff, or a crash: SIGKILL) and a new
 * vipd starts at once. The new one adopts the pins and, its lease still
 * valid, carries on as MASTER with no election: the BACKUP never takes
 * over (its transition count does not move), and the client's TCP
 * connections and UDP probes keep flowing through the pinned XDP program.
 *
 * advertInterval 2 s, so the lease (and the BACKUP's Master_Down interval)
 * is ~6.8-7.2 s: the restart has that long. (With 1 s adverts the window is
 * ~3.4 s, and on a loaded 2-core host running the other test files a cold
 * vipd took up to 3.6 s from spawn to adopting its pins, so the BACKUP
 * sometimes took over: a test with a 1 s interval measures the host's load,
 * not vipd.)
 */
import { describe, expect, it } from 'vitest';
import {
  clientVipMac,
  expectFlowsKept,
  skipReason,
  useDaemonSite,
} from './fixtures/daemon-site.js';

describe.skipIf(skipReason)(`vipd hitless restart under traffic${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const env = useDaemonSite({ label: 'restart', advertInterval: 2 }, [0, 1], async ({ traffic }) => {
    await traffic.start({ conns: 8, intervalMs: 20, udpIntervalMs: 2, udpSockets: 4, maxMs: 90_000 });
    await traffic.waitFlowing(await traffic.snapshot(true), 10);
  });

  for (const [how, signal] of [
    ['handoff (SIGUSR2)', 'SIGUSR2'],
    ['crash (SIGKILL)', 'SIGKILL'],
  ] as const) {
    it(`${how} and an immediate restart: no election, lb1 stays MASTER, no flow lost or moved`, async () => {
      const s = env.site;
      const t = env.traffic;
      await s.waitState(0, 'MASTER');
      const lb2Before = (await s.status(1)).instances[0];
      expect(lb2Before.state).toBe('BACKUP');
      const pidBefore = (await s.status(0)).daemon.pid;

      const before = await t.snapshot(true);
      const t0 = Date.now();
      const code = await s.stopDaemon(0, signal);
      if (signal === 'SIGUSR2') expect(code).toBe(0);
      s.startDaemon(0, { writeConfig: false });
      await s.waitState(0, 'MASTER');
      const restartMs = Date.now() - t0;
      // Every connection answered 10 lines through the new vipd: the window
      // for expectFlowsKept ends after the restart, not at a time.
      await t.waitFlowing(before, 10);
      const after = await t.snapshot(true);
      await t.report(`restart: ${how}, lb1 answering as MASTER again after ${restartMs} ms`, before, after);

      const lb1 = (await s.status(0)).instances[0];
      const lb2 = (await s.status(1)).instances[0];
      expect((await s.status(0)).daemon.pid).not.toBe(pidBefore);
      expect(lb1.state).toBe('MASTER');
      // The new vipd took over from its predecessor's lease, not by winning an election.
      expect(lb1.lastReason).toMatch(/lease/);
      // lb2 never became MASTER: no transition at all.
      expect(lb2.state).toBe('BACKUP');
      expect(lb2.transitions).toBe(lb2Before.transitions);
      expect(clientVipMac(s)).toBe(s.lbMac(0));
      expectFlowsKept(after);
    });
  }

  it('all lines written through both restarts were answered by the same real servers', async () => {
    const end = await env.traffic.stop();
    expectFlowsKept(end);
    for (const c of end.conns) expect(c.answered, JSON.stringify(c)).toBe(c.sent);
    console.log(`[restart] totals: UDP ${end.udp!.lost}/${end.udp!.sent} lost; TCP lines answered ${end.conns.map((c) => `${c.answered}/${c.sent}`).join(' ')}`);
  });
});
