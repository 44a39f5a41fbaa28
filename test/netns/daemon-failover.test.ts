/**
 * Failover under traffic, failback, and a dead daemon's lease.
 *
 * The client keeps 8 long-lived TCP connections (a line every 20 ms each)
 * and UDP probes every 2 ms going through the VIP. The MASTER's link goes
 * down: the BACKUP takes over and, since both hosts build the same Maglev
 * table, every connection keeps talking to the same real server with no
 * reset. Loss and gaps are printed, not asserted (timing goals live in
 * bench/). Then the link returns and the higher priority takes the VIP back
 * (preemption), again without moving a flow.
 *
 * Last, the MASTER's daemon is SIGKILLed and not restarted: once its lease
 * has run out, its XDP program must no longer answer ARP for the VIP (only
 * the new MASTER does), so a crash never leaves two hosts answering.
 */
import { describe, expect, it } from 'vitest';
import {
  clientVipMac,
  expectFlowsKept,
  leasesRemaining,
  skipReason,
  vipArpReplies,
  waitFor,
  type TrafficSummary,
  useDaemonSite,
} from './fixtures/daemon-site.js';

describe.skipIf(skipReason)(`vipd failover under traffic${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  // preemptDelay: the host coming back waits this long as BACKUP before it
  // takes the VIP back, so its health checks (interval 0.2 s) have seen the
  // real servers again and its Maglev tables match the current MASTER's.
  // Both hosts must hold the same table before the takeover: both backends up with MACs.
  const env = useDaemonSite({ label: 'fail', advertInterval: 0.1, instanceExtra: '\n    preemptDelay: 1' }, [0, 1]);

  it("keeps every TCP connection on its real server when the MASTER's link goes down, and again at failback", async () => {
    const s = env.site;
    const t = env.traffic;
    const started = await t.start({ conns: 8, intervalMs: 20, udpIntervalMs: 2, udpSockets: 4, maxMs: 40_000 });
    for (const c of started.conns) expect(c.server, JSON.stringify(c)).toMatch(/^rs[12]$/);
    console.log(`[failover] connections greeted by: ${started.conns.map((c) => c.server).join(' ')}`);
    let before: TrafficSummary = await t.waitFlowing(await t.snapshot(true), 10);
    expect(clientVipMac(s)).toBe(s.lbMac(0));
    const lb2Before = (await s.status(1)).instances[0].transitions;

    // Failover: the MASTER's link goes down.
    before = await t.snapshot(true);
    s.lbs[0].ip(['link', 'set', 'eth0', 'down']);
    await s.waitState(1, 'MASTER');
    // Every connection answered 10 lines through lb2: the window for
    // expectFlowsKept (no reset, no move) ends after the takeover, not at a time.
    await t.waitFlowing(before, 10);
    const afterFailover = await t.snapshot(true);
    await t.report('failover: lb1 link down', before, afterFailover);
    const st1 = (await s.status(1)).instances[0];
    expect(st1.state).toBe('MASTER');
    expect(st1.transitions).toBe(lb2Before + 1);
    expect(st1.masterSince).not.toBeNull();
    console.log(`[failover] lb2 lastFailoverSeconds (election -> first announcement): ${st1.lastFailoverSeconds}`);
    expect(clientVipMac(s)).toBe(s.lbMac(1));
    expectFlowsKept(afterFailover);

    // lb1 noticed its link is down: FAULT (its own interface is tracked), VIPs inactive.
    await s.waitState(0, 'FAULT');

    // Failback: the link returns; lb1 (priority 150) comes back as BACKUP and preempts after preemptDelay.
    before = afterFailover;
    s.lbs[0].ip(['link', 'set', 'eth0', 'up']);
    await s.waitState(0, 'MASTER');
    await s.waitState(1, 'BACKUP');
    await t.waitFlowing(before, 10);
    const afterFailback = await t.snapshot(true);
    await t.report('failback: lb1 link up, preempts', before, afterFailback);
    await waitFor("the client's neighbour entry to move back to lb1", () => (clientVipMac(s) === s.lbMac(0) ? true : undefined));

    const end = await t.stop();
    expectFlowsKept(end);
    console.log(`[failover] totals: UDP ${end.udp!.lost}/${end.udp!.sent} lost; TCP lines answered ${end.conns.map((c) => `${c.answered}/${c.sent}`).join(' ')}`);
    // Every line written was answered in the end (TCP retransmits what the takeover lost).
    for (const c of end.conns) expect(c.answered, JSON.stringify(c)).toBe(c.sent);
  });

  it("a SIGKILLed MASTER's host stops answering ARP for the VIP once its lease runs out", async () => {
    const s = env.site;
    await s.waitState(0, 'MASTER');
    const [mac1, mac2] = [s.lbMac(0), s.lbMac(1)];
    // Control: while lb1 is MASTER, ARP replies for the VIP come from lb1 only.
    const control = await vipArpReplies(s, 3);
    console.log(`[lease] ARP replies while lb1 is MASTER: ${control.join(' ')}`);
    expect(control.length).toBeGreaterThan(0);
    expect(new Set(control)).toEqual(new Set([mac1]));

    const pinDir = (await s.status(0)).daemon.pinDir;
    expect(leasesRemaining(pinDir).length, 'an active lease on lb1 before the kill').toBe(1);
    await s.stopDaemon(0, 'SIGKILL');
    await s.waitState(1, 'MASTER');
    // lb2 took over after its Master_Down interval, which is longer than lb1's
    // lease (both ~3 adverts). Wait until lb1's pinned lease has ended on
    // CLOCK_MONOTONIC by more than the tick the XDP program samples it at.
    await waitFor("lb1's lease to run out", () => (leasesRemaining(pinDir).every((left) => left < -0.02) ? true : undefined));
    // Rounds of 5 requests until one is answered: right after the takeover
    // some rounds see no reply at all (also before 2026-12-04, when most
    // rounds saw 1-4 of 5), so one round alone made this test flaky. Every
    // round's replies are kept: a reply from lb1 in any of them fails below.
    const replies: string[] = [];
    await waitFor('an ARP reply for the VIP after the takeover', async () => {
      replies.push(...(await vipArpReplies(s, 5)));
      return replies.length > 0 ? true : undefined;
    });
    console.log(`[lease] ARP replies after lb1's vipd was killed: ${replies.join(' ')}`);
    expect(replies.length).toBeGreaterThan(0);
    expect(replies.filter((m) => m === mac1)).toEqual([]);
    expect(new Set(replies)).toEqual(new Set([mac2]));
    expect(clientVipMac(s)).toBe(mac2);
    // And traffic flows through lb2.
    const seen = await env.traffic.connect(10);
    expect(seen.filter((x) => x.startsWith('error'))).toEqual([]);
  });
});
