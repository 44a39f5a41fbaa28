/**
 * Kernel vs model on thousands of generated frames (fixed seed, so a
 * failure replays): well-formed frames of every kind to VIPs and to other
 * addresses, then the same kinds cut short, with flipped bytes, and with
 * odd header fields. Every frame must give the same verdict and output
 * bytes; the counters must move the same in total.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REASONS } from '../../src/dataplane/abi.js';
import {
  ETH_P_IP,
  ETH_P_IPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  LB_MAC,
  CLIENT_MAC,
  arpRequestFrame,
  ether,
  ipv4,
  ipv6,
  nsFrame,
  pmtuFrame,
  solicitedNode,
  tcp,
  tcpFrame,
  udpFrame,
} from '../helpers/frames.js';
import { Fixture, counterDelta, modelDelta } from './fixture.js';
import {
  EMPTY_PORT,
  MIXED_PORT,
  VIP4,
  VIP4_BARE,
  VIP4_EXPIRED,
  VIP4_INACTIVE,
  VIP4_OTHER_IFACE,
  VIP6,
  VIP6_EXPIRED,
  VIP6_INACTIVE,
  VIP6_OTHER_IFACE,
  testState,
} from './state.js';

const SEED = 0x5eed;
const FRAMES = 4000;

/** mulberry32: small, fast, and the same everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const V4 = [VIP4, VIP4_INACTIVE, VIP4_EXPIRED, VIP4_BARE, VIP4_OTHER_IFACE, '10.0.0.99'];
const V6 = [VIP6, VIP6_INACTIVE, VIP6_EXPIRED, VIP6_OTHER_IFACE, '2001:db8::99'];
const PORTS = [80, 53, EMPTY_PORT, MIXED_PORT, 22];

function generator(rand: () => number) {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const c4 = () => `198.51.${int(256)}.${1 + int(254)}`;
  const c6 = () => `2001:db8:${int(0xffff).toString(16)}::${(1 + int(0xfffe)).toString(16)}`;

  const kinds: (() => Buffer)[] = [
    () => tcpFrame({ src: c4(), dst: pick(V4), sport: 1024 + int(60000), dport: pick(PORTS) }),
    () => tcpFrame({ src: c6(), dst: pick(V6), sport: 1024 + int(60000), dport: pick(PORTS) }),
    () => udpFrame({ src: c4(), dst: pick(V4), sport: 1024 + int(60000), dport: pick(PORTS) }),
    () => udpFrame({ src: c6(), dst: pick(V6), sport: 1024 + int(60000), dport: pick(PORTS) }),
    () => arpRequestFrame({ spa: rand() < 0.1 ? '0.0.0.0' : c4(), tpa: pick(V4), oper: rand() < 0.9 ? 1 : 2 }),
    () => {
      const target = pick(V6);
      const dst = pick([solicitedNode(target), target, solicitedNode('2001:db8::77')]);
      return nsFrame({ src: rand() < 0.1 ? '::' : c6(), dst, target, slla: rand() < 0.8, hopLimit: rand() < 0.9 ? 255 : 64 });
    },
    () => pmtuFrame({ router: c4(), vip: pick(V4), client: c4(), vport: pick(PORTS), cport: 1024 + int(60000), proto: pick([IPPROTO_TCP, IPPROTO_UDP]) }),
    () => pmtuFrame({ router: c6(), vip: pick(V6), client: c6(), vport: pick(PORTS), cport: 1024 + int(60000), proto: pick([IPPROTO_TCP, IPPROTO_UDP]) }),
    () => {
      const src = c4();
      const dst = pick(V4);
      const options = Buffer.alloc(4 * int(11), int(256));
      return ether(
        { dst: LB_MAC, src: CLIENT_MAC, type: ETH_P_IP },
        ipv4({ src, dst, proto: IPPROTO_TCP, options, fragWord: pick([0x4000, 0x2000, 0x0001, 0x2010, 0]) }, tcp({ src, dst, sport: 1 + int(65535), dport: pick(PORTS) })),
      );
    },
    () => ether({ dst: LB_MAC, src: CLIENT_MAC, type: ETH_P_IPV6 }, ipv6({ src: c6(), dst: pick(V6), nextHeader: pick([0, 43, 44, 60, 59, 132]) }, Buffer.alloc(int(64), int(256)))),
    () => {
      const f = tcpFrame({ src: c4(), dst: pick(V4), sport: 1 + int(65535), dport: pick(PORTS) });
      return rand() < 0.5 ? tcpFrame({ src: c4(), dst: pick(V4), sport: 1, dport: 80, vlan: int(4096) }) : f;
    },
  ];

  return (): Buffer => {
    let f = Buffer.from(pick(kinds)());
    const mutate = rand();
    if (mutate < 0.25) {
      f = f.subarray(0, 14 + int(f.length - 13)); // cut anywhere from the L3 header on
    } else if (mutate < 0.45) {
      const n = 1 + int(3);
      for (let i = 0; i < n; i++) f[int(Math.min(f.length, 100))] = int(256);
    } else if (mutate < 0.5 && f.length > 14) {
      f[14] = int(256); // version / IHL
    }
    return f;
  };
}

describe('kernel vs model, generated frames', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await Fixture.load(testState());
  });
  afterAll(() => fx?.close());

  it(`agrees on ${FRAMES} frames (seed ${SEED.toString(16)})`, () => {
    const next = generator(prng(SEED));
    const before = fx.readCounters();
    const total = new Map<string, { p: number; b: number }>();
    const seen = new Map<string, number>();
    for (let i = 0; i < FRAMES; i++) {
      const frame = next();
      const k = fx.kernel(frame);
      const m = fx.model(frame);
      if (k.action !== m.action || !k.output.equals(m.output)) {
        expect.fail(
          `frame ${i} (${m.reasonName}): kernel ${k.action} ${k.output.toString('hex')}\n` +
            `model ${m.action} ${m.output.toString('hex')}\ninput ${frame.toString('hex')}`,
        );
      }
      seen.set(m.reasonName, (seen.get(m.reasonName) ?? 0) + 1);
      for (const [key, v] of modelDelta(m)) {
        const [p, b] = v.split('/').map(Number);
        const t = total.get(key) ?? { p: 0, b: 0 };
        total.set(key, { p: t.p + p, b: t.b + b });
      }
    }
    const after = fx.readCounters();
    expect(counterDelta(before, after)).toEqual(new Map([...total].map(([k, v]) => [k, `${v.p}/${v.b}`])));
    // The generator reaches every reason.
    expect(REASONS.filter((r) => !seen.has(r))).toEqual([]);
  });
});
