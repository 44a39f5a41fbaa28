/**
 * The daemon side of the connection table on the real program and maps
 * (BPF_PROG_TEST_RUN, no interface): the fallbacks Dataplane.setBackends()
 * writes keep every established flow on its real server through a drain
 * and a ring resize (PREV_RING), new flows follow the new table, and the
 * sweep counts, expires and cleans what the program wrote (and keeps an
 * entry a packet refreshed while it read the table).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xdpVerdictName } from '../../src/bpf/index.js';
import { SLOT_PREV_RING } from '../../src/dataplane/abi.js';
import { seenNow } from '../../src/dataplane/flows.js';
import { Dataplane } from '../../src/dataplane/manager.js';
import { FallbackMirrors, ringToFallbacks } from '../../src/sync/fallbacks.js';
import { LB_MAC, tcpFrame } from '../helpers/frames.js';

const VIP = '10.0.0.10';
const SVC = { vip: VIP, port: 80, protocol: 'tcp' as const };
const REALS = ['02:00:00:00:01:01', '02:00:00:00:01:02', '02:00:00:00:01:03'];
const SYN = 0x02;
const ACK = 0x10;
const TIMEOUTS = { tcp: 900, udp: 60, closing: 10 };
const FLOWS = 300;

/** The client of flow i (many clients, so the hashes spread). */
const client = (i: number) => `198.51.${100 + (i >> 8)}.${i & 0xff}`;

/** Sends one packet of flow i through dp; the real server index it went to (by MAC), or -1 when not forwarded. */
function sendThrough(dp: Dataplane, i: number, flags: number, sport: number): number {
  const res = dp.program.run({ data: tcpFrame({ src: client(i), dst: VIP, sport, dport: 80, flags }) });
  if (xdpVerdictName(res.retval) !== 'TX') return -1;
  const mac = [...res.data.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
  return REALS.indexOf(mac);
}

/** A small data plane serving SVC (ring sized for `backends`) on instance 0, with the reals in. */
async function openDataplane(backends: number): Promise<Dataplane> {
  const dp = await Dataplane.open({
    sizes: { instances: 4, vips: 16, services: 4, reals: 16, ringSlots: 8192, flows4: 4096, flows6: 1, pending4: 1024, pending6: 1 },
    ringQuiesceMs: 1,
  });
  dp.enableInterface(1, LB_MAC);
  REALS.forEach((mac, i) => dp.setReal(i, { mac, address: `192.168.0.${i + 1}` }));
  dp.setVip(VIP, 0);
  dp.addService({ ...SVC, instance: 0, backends });
  dp.activate(0, 60, 1);
  return dp;
}

describe('connection table: what the daemon writes', () => {
  let dp: Dataplane;

  const send = (i: number, flags: number, sport = 40000): number => sendThrough(dp, i, flags, sport);

  beforeAll(async () => {
    dp = await openDataplane(2);
  });

  afterAll(() => dp?.close());

  it('a drain and a resize move no established flow; new flows follow the table; the sweep counts them', async () => {
    await dp.setBackends(SVC, [
      { real: 0, key: '192.168.0.1', weight: 1 },
      { real: 1, key: '192.168.0.2', weight: 1 },
    ]);
    // Established flows: handshake on the first table. Clean slots: nothing in the table.
    const home = Array.from({ length: FLOWS }, (_, i) => send(i, SYN));
    for (let i = 0; i < FLOWS; i++) expect(send(i, ACK)).toBe(home[i]);
    expect((await dp.sweepFlows(TIMEOUTS)).read).toBe(0);
    const onReal0 = home.filter((r) => r === 0).length;
    expect(onReal0).toBeGreaterThan(FLOWS / 4);

    // Drain real 0: its slots now name real 1 and fall back to real 0.
    await dp.setBackends(SVC, [{ real: 1, key: '192.168.0.2', weight: 1 }]);
    for (let i = 0; i < FLOWS; i++) expect(send(i, ACK), `flow ${i} after the drain`).toBe(home[i]);
    // New connections avoid the drained real at once.
    for (let i = 0; i < 50; i++) expect(send(i, SYN, 50000)).toBe(1);
    const afterDrain = await dp.sweepFlows(TIMEOUTS);
    expect(afterDrain.byReal.get(0)).toBe(onReal0);
    expect(afterDrain.byState.tcp).toBe(onReal0);
    // Half-done handshakes (SYN only) on changed slots wait in pending; on clean slots nothing is noted.
    expect(afterDrain.byState.pending).toBeGreaterThan(0);
    expect(afterDrain.byState.pending).toBeLessThan(50);

    // A resize (a third backend configured: 251 -> 509 slots) with real 2 added.
    dp.addService({ ...SVC, instance: 0, backends: 3 });
    await dp.setBackends(SVC, [
      { real: 1, key: '192.168.0.2', weight: 1 },
      { real: 2, key: '192.168.0.3', weight: 1 },
    ]);
    const svc = dp.serviceSlots()[0];
    expect(svc?.ringSize).toBe(509);
    for (let i = 0; i < FLOWS; i++) expect(send(i, ACK), `flow ${i} after the resize`).toBe(home[i]);
    const newOnes = Array.from({ length: 100 }, (_, i) => send(i, SYN, 60000));
    expect(newOnes.filter((r) => r === 2).length).toBeGreaterThan(20);
    expect(newOnes.includes(0)).toBe(false);
    // Old slots of reals 0 and 1 disagree over some new slots: those ask the old ring, kept as the previous one.
    expect(svc?.prevSize).toBe(251);

    // The sweep: every flow on real 0 is still counted; a long idle table expires all.
    const swept = await dp.sweepFlows(TIMEOUTS);
    expect(swept.byReal.get(0)).toBe(onReal0);
    const expired = await dp.sweepFlows({ tcp: 0, udp: 0, closing: 0 }, undefined);
    // seen has ~1 ms resolution: entries touched this millisecond may survive a 0 s timeout.
    expect(expired.expired + (expired.byState.tcp ?? 0)).toBe(swept.byState.tcp);
  });

  it('the sweep cleans: aged changed slots become tracked, tracked slots without entries clean, the previous ring is let go', async () => {
    const before = dp.serviceSlots()[0]!;
    const empty = await dp.sweepFlows({ tcp: 0, udp: 0, closing: 0 });
    const seen = empty.slots.get(before.index)!;
    dp.cleanSlots(before.index, before.ring, new Uint8Array(before.ringSize), { ageChanged: true, cleanTracked: true });
    dp.cleanSlots(before.index, before.ring, new Uint8Array(before.ringSize), { ageChanged: true, cleanTracked: true });
    expect(seen.ring).toBe(before.ring);
    const after = dp.serviceSlots()[0]!;
    expect(after.prevSize).toBe(0);
    // Every slot clean again: no real 0 and no PREV_RING left anywhere.
    expect(dp.namedReals().has(0)).toBe(false);
    expect(dp.namedReals().has(SLOT_PREV_RING)).toBe(false);
  });

  it('a service not served here keeps its MASTER slot fallbacks (connection sync) through its own health changes', async () => {
    const WEB = { vip: VIP, port: 81, protocol: 'tcp' as const };
    dp.addService({ ...WEB, instance: 0, backends: 2 });
    const both = [
      { real: 0, key: '192.168.0.1', weight: 1 },
      { real: 1, key: '192.168.0.2', weight: 1 },
    ];
    const send81 = (i: number, flags: number): number => {
      const res = dp.program.run({ data: tcpFrame({ src: client(i), dst: VIP, sport: 41000, dport: 81, flags }) });
      if (xdpVerdictName(res.retval) !== 'TX') return -1;
      return REALS.indexOf([...res.data.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':'));
    };
    await dp.setBackends(WEB, both);
    const home = Array.from({ length: FLOWS }, (_, i) => send81(i, SYN));
    // The MASTER drains real 0: its ring, as connection sync sends it (by address).
    await dp.setBackends(WEB, [both[1]]);
    const ringOf = () => {
      const v = dp.ringVersions().find((r) => r.port === 81)!;
      return dp.ringSlots(v.ring, v.ringSize);
    };
    const master = ringOf();
    const mirrors = new FallbackMirrors();
    const addresses = new Map([[0, '192.168.0.1'], [1, '192.168.0.2']]);
    for (const f of ringToFallbacks({ family: 4, proto: 6, vip: Buffer.from([10, 0, 0, 10]), vport: 81 }, master, addresses)) mirrors.apply('web', f);

    // Here, not serving: every backend DOWN (a link down), the sweep, then back. Its own fallbacks are lost.
    const ownHealth = async () => {
      await dp.setBackends(WEB, [], new Set([0, 1]), false);
      const v = dp.serviceSlots().find((x) => x.port === 81)!;
      dp.cleanSlots(v.index, v.ring, new Uint8Array(v.ringSize), { ageChanged: false, cleanTracked: false, invalid: new Set([0, 1]) });
      await dp.setBackends(WEB, [both[1]], undefined, false);
    };
    await ownHealth();
    // Control: on clean slots nothing is written, so this moves nothing for later.
    const moved = home.filter((r, i) => send81(i, ACK) !== r).length;
    expect(moved, 'without the MASTER fallbacks, flows of real 0 go to real 1').toBeGreaterThan(FLOWS / 4);

    dp.setFallbackSource((svc, slots) => (svc.port === 81 ? mirrors.fallbackWords('web', slots, (a) => (a === '192.168.0.1' ? 0 : a === '192.168.0.2' ? 1 : undefined)) : undefined));
    try {
      const version = dp.ringVersions().find((r) => r.port === 81)!.version;
      expect(dp.refreshFallbacks(WEB)).toBeGreaterThan(0);
      expect([...ringOf().fallback]).toEqual([...master.fallback]);
      expect(dp.ringVersions().find((r) => r.port === 81)!.version).not.toBe(version);
      // The same health changes again: installs and the sweep take the MASTER fallbacks.
      await ownHealth();
      expect([...ringOf().fallback]).toEqual([...master.fallback]);
      for (let i = 0; i < FLOWS; i++) expect(send81(i, ACK), `flow ${i}`).toBe(home[i]);
    } finally {
      dp.setFallbackSource(null);
      dp.deleteService(WEB);
    }
  });
});

describe('connection table: a sweep and the packets that come during its read', () => {
  let dp: Dataplane;

  const send = (i: number, flags: number, sport = 41000): number => sendThrough(dp, i, flags, sport);

  beforeAll(async () => {
    dp = await openDataplane(3);
  });

  afterAll(() => dp?.close());

  // The sweep reads its clock, then the table (one batch over every bucket
  // of a 1 M-entry map takes milliseconds): an entry a packet refreshed in
  // between has a `seen` after the clock. Read modulo 2^32 that was 52 days
  // idle, and the sweep deleted a live flow; one that had started on a slot
  // that changed hands went to the slot's fallback (the old real) at its
  // next packet: a reset (issue 14, daemon-connections under load).
  it('an entry refreshed after the sweep read its clock is live, and its flow stays on its real', async () => {
    await dp.setBackends(SVC, [0, 1, 2].map((real) => ({ real, key: `192.168.0.${real + 1}`, weight: 1 })));
    // Real 2 leaves: its slots change hands, their fallback names real 2.
    await dp.setBackends(SVC, [0, 1].map((real) => ({ real, key: `192.168.0.${real + 1}`, weight: 1 })));
    // Connections opened since: those on the changed slots live in the table only.
    // (One handshake at a time: pending holds one tag per index.)
    const home = Array.from({ length: FLOWS }, (_, i) => {
      const real = send(i, SYN);
      expect(send(i, ACK)).toBe(real);
      return real;
    });
    expect(home.includes(2)).toBe(false);
    // A sweep whose clock was read ~50 ms before the packets above.
    const clockBefore = seenNow() - 50;
    const swept = await dp.sweepFlows(TIMEOUTS, undefined, clockBefore);
    expect(swept.byState.tcp).toBeGreaterThan(FLOWS / 10);
    expect(swept.expired).toBe(0);
    for (let i = 0; i < FLOWS; i++) expect(send(i, ACK), `flow ${i} after the sweep`).toBe(home[i]);
  });
});
