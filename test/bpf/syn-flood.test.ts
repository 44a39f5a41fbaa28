/**
 * A SYN flood from a million spoofed sources against a service whose slots
 * changed hands (issue 14, point 7): established flows held by the
 * connection table must all stay on their real server. The first packet of
 * a flow only ever stores its tag in pending, a direct-mapped array (ABI 7,
 * docs/dataplane.md "Connection table"), so the flood overwrites tags and
 * leaves flows alone.
 *
 * Real kernel, real program: the frames run through BPF_PROG_TEST_RUN in
 * one native loop (Program.runEach).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOW_EVENTS, IPPROTO_TCP, XDP_TX } from '../../src/dataplane/abi.js';
import { sumCounters } from '../../src/dataplane/maps.js';
import { tcpFrame } from '../helpers/frames.js';
import { placeOf } from './conn-cases.js';
import { Fixture } from './fixture.js';
import { CHANGED_PORT, REAL_MACS, VIP4, slotKind, testState } from './state.js';

const ESTABLISHED = 10_000;
const FLOOD = 1_000_000;
const SYN = 0x02;
const ACK = 0x10;
const PENDING_MAX = 16_384;

/** The i-th spoofed source: 100.64.0.0/10 holds 4M of them. */
function spoofed(i: number): string {
  const a = 0x64400000 + i;
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

describe('SYN flood from 1M spoofed sources', () => {
  const state = testState();
  let fx: Fixture;
  beforeAll(async () => {
    state.limits.pending = PENDING_MAX;
    fx = await Fixture.load(state, { flows: 65_536 });
  });
  afterAll(() => fx?.close());

  function flowStats(): Record<string, bigint> {
    const out: Record<string, bigint> = {};
    for (const [k, perCpu] of fx.dataplaneMaps.flow_stats.lookupBatch(64)) out[FLOW_EVENTS[k]] = sumCounters(perCpu).packets;
    return out;
  }

  it('keeps every established flow of a changed slot on its real server', () => {
    // Established flows older than the change: clients 198.51.x.y on slots
    // that changed hands (fallback real 2). Their next packet pins them.
    const established: Buffer[] = [];
    for (let i = 0; established.length < ESTABLISHED; i++) {
      const client = `198.51.${(i >> 8) & 0xff}.${i & 0xff}`;
      const cport = 20000 + (i % 40000);
      if (slotKind(placeOf(state, { client, cport, vip: VIP4, vport: CHANGED_PORT, proto: IPPROTO_TCP }).index) !== 'changed') continue;
      established.push(tcpFrame({ src: client, dst: VIP4, sport: cport, dport: CHANGED_PORT, flags: ACK }));
    }
    const size = established[0].length;
    expect(fx.prog.runEach(Buffer.concat(established), size).every((v) => v === XDP_TX)).toBe(true);
    expect(fx.dataplaneMaps.flows4.lookupBatch(4096).length).toBe(ESTABLISHED);
    const before = flowStats();
    expect(before.pinned).toBe(BigInt(ESTABLISHED));

    // The flood: a SYN from each of 1M distinct sources, random ports, on every kind of slot.
    const template = tcpFrame({ src: spoofed(0), dst: VIP4, sport: 1024, dport: CHANGED_PORT, flags: SYN });
    const frames = Buffer.alloc(template.length * FLOOD);
    let lookedUpSyns = 0;
    for (let i = 0; i < FLOOD; i++) {
      const off = i * template.length;
      template.copy(frames, off);
      frames.writeUInt32BE(0x64400000 + i, off + 26); // IPv4 source
      const sport = 1024 + ((i * 7919) % 64000);
      frames.writeUInt16BE(sport, off + 34);
      if (i % 97 === 0 && slotKind(placeOf(state, { client: spoofed(i), cport: sport, vip: VIP4, vport: CHANGED_PORT, proto: IPPROTO_TCP }).index) !== 'clean') lookedUpSyns++;
    }
    const verdicts = fx.prog.runEach(frames, template.length);
    expect(verdicts.every((v) => v === XDP_TX)).toBe(true);

    // The churn shows in flow_stats and pending; flows took none of it.
    const after = flowStats();
    const noted = after.pending - (before.pending ?? 0n);
    // Every SYN on a slot that is not clean (two thirds of them; sampled every 97th SYN) stores its tag.
    expect(Number(noted)).toBeGreaterThan(lookedUpSyns * 97 * 0.8);
    expect(Number(noted)).toBeLessThan(lookedUpSyns * 97 * 1.2);
    expect(after.full ?? 0n).toBe(0n);
    // ~650k tags into 16384 entries: every index taken, none of it in flows.
    const tags = fx.dataplaneMaps.pending4.lookupBatch(4096).filter(([, p]) => p.tag !== 0n).length;
    expect(tags).toBeGreaterThan(PENDING_MAX * 0.99);
    expect(fx.dataplaneMaps.flows4.lookupBatch(4096).length).toBe(ESTABLISHED);

    // Every established flow still goes to real 2 (its fallback), not to its slot's real.
    let onReal2 = 0;
    for (const f of established) {
      const out = fx.kernel(f).output;
      if (out.subarray(0, 6).equals(Buffer.from(REAL_MACS[2].split(':').map((h) => parseInt(h, 16))))) onReal2++;
    }
    expect(onReal2).toBe(ESTABLISHED);
    expect(flowStats().hit - (after.hit ?? 0n)).toBe(BigInt(ESTABLISHED));
  }, 120_000);
});
