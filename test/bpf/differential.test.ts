/**
 * Kernel vs model on thousands of generated frames (fixed seed, so a
 * failure replays): well-formed frames of every kind to VIPs and to other
 * addresses, then the same kinds cut short, with flipped bytes, and with
 * odd header fields. Every frame must give the same verdict and output
 * bytes; the counters must move the same in total. The state has
 * connection table services (changed, tracked and PREV_RING slots, UDP
 * TRACK_ALL, persistence) and a table seeded with entries, and a pool of
 * recurring flows sends SYNs, ACKs, FINs and RSTs: after every frame the
 * model must hold the same flows and pending tables as the kernel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOW_EVENTS, REASONS, type Flow } from '../../src/dataplane/abi.js';
import { parseAddr } from '../../src/dataplane/addr.js';
import { flowHash, hashAddr, portsWord } from '../model/xdp-hash.js';
import { flowId, parseFlowId, pendingPlace, type ModelState } from '../model/xdp-model.js';
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
import { Fixture, counterDelta, modelDelta, pendingView, tableView } from './fixture.js';
import {
  CHANGED_PORT,
  EMPTY_PORT,
  MIXED_PORT,
  PERSIST_PORT,
  PREV_RING_PORT,
  TRACK_ALL_PORT,
  VIP4,
  VIP4_BARE,
  VIP4_EXPIRED,
  VIP4_INACTIVE,
  VIP4_OTHER_IFACE,
  VIP4_ROUTED,
  VIP6,
  VIP6_EXPIRED,
  VIP6_INACTIVE,
  VIP6_OTHER_IFACE,
  VIP6_ROUTED,
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

const V4 = [VIP4, VIP4_INACTIVE, VIP4_EXPIRED, VIP4_BARE, VIP4_OTHER_IFACE, VIP4_ROUTED, '10.0.0.99'];
const V6 = [VIP6, VIP6_INACTIVE, VIP6_EXPIRED, VIP6_OTHER_IFACE, VIP6_ROUTED, '2001:db8::99'];
const PORTS = [80, 53, EMPTY_PORT, MIXED_PORT, 22, CHANGED_PORT, PREV_RING_PORT, TRACK_ALL_PORT, PERSIST_PORT];
/** The connection table services' ports. */
const TABLE_PORTS = [CHANGED_PORT, PREV_RING_PORT, TRACK_ALL_PORT, PERSIST_PORT];
/** SYN, ACK, FIN+ACK, RST, SYN+ACK, PSH+ACK. */
const TCP_FLAGS = [0x02, 0x10, 0x11, 0x04, 0x12, 0x18];

interface PoolFlow {
  client: string;
  cport: number;
  vip: string;
  vport: number;
  udp: boolean;
}

/** Flows that come back, so that the table's rules all fire: each SYNs, ACKs, ends and starts again. */
function flowPool(rand: () => number, n: number): PoolFlow[] {
  const int = (k: number) => Math.floor(rand() * k);
  return Array.from({ length: n }, (_, i) => {
    const v6 = i % 3 === 2;
    const vport = TABLE_PORTS[int(TABLE_PORTS.length)];
    return {
      client: v6 ? `2001:db8:200::${(i + 1).toString(16)}` : `198.51.200.${i + 1}`,
      cport: 30000 + int(30000),
      vip: v6 ? VIP6 : VIP4,
      vport,
      udp: vport === TRACK_ALL_PORT,
    };
  });
}

/** Seeds the table with some of the pool, on valid and invalid reals. */
function seedTables(state: ModelState, pool: PoolFlow[], rand: () => number): void {
  for (const f of pool) {
    if (rand() < 0.5) continue;
    const a = parseAddr(f.vip);
    const c = parseAddr(f.client);
    const len = a.family === 4 ? 4 : 16;
    const persist = f.vport === PERSIST_PORT;
    const id = flowId({
      family: a.family,
      client: Buffer.from(c.addr.subarray(0, len)),
      vip: Buffer.from(a.addr.subarray(0, len)),
      cport: persist ? 0 : f.cport,
      vport: f.vport,
      proto: f.udp ? IPPROTO_UDP : IPPROTO_TCP,
      kind: persist ? 1 : 0,
    });
    const entry: Flow = { real: Math.floor(rand() * 4), hash: Math.floor(rand() * 2 ** 32), seen: 0, flags: rand() < 0.2 ? 1 : 0 };
    if (rand() < 0.7) {
      state.flows.set(id, entry);
      continue;
    }
    // A pending tag: the flow's own (its next packet may promote it).
    const k = parseFlowId(id);
    const fam = a.family === 4 ? 4 : 6;
    const hash = flowHash(hashAddr(k.client, 0, fam), hashAddr(k.vip, 0, fam), portsWord(k.cport, k.vport));
    const { id: pid, tag } = pendingPlace(k, hash, state.limits.pending);
    state.pending.set(pid, { tag, real: entry.real, seen: 0 });
  }
}

function generator(rand: () => number, pool: PoolFlow[]) {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const c4 = () => `198.51.${int(256)}.${1 + int(254)}`;
  const c6 = () => `2001:db8:${int(0xffff).toString(16)}::${(1 + int(0xfffe)).toString(16)}`;

  const kinds: (() => Buffer)[] = [
    () => tcpFrame({ src: c4(), dst: pick(V4), sport: 1024 + int(60000), dport: pick(PORTS), flags: pick(TCP_FLAGS) }),
    () => tcpFrame({ src: c6(), dst: pick(V6), sport: 1024 + int(60000), dport: pick(PORTS), flags: pick(TCP_FLAGS) }),
    () => {
      const f = pick(pool);
      const o = { src: f.client, dst: f.vip, sport: f.cport, dport: f.vport };
      return f.udp ? udpFrame(o) : tcpFrame({ ...o, flags: pick(TCP_FLAGS) });
    },
    () => {
      const f = pick(pool);
      const o = { src: f.client, dst: f.vip, sport: f.cport, dport: f.vport };
      return f.udp ? udpFrame(o) : tcpFrame({ ...o, flags: pick(TCP_FLAGS) });
    },
    () => {
      const f = pick(pool);
      return pmtuFrame({ router: f.vip === VIP4 ? c4() : c6(), vip: f.vip, client: f.client, vport: f.vport, cport: f.cport, proto: f.udp ? IPPROTO_UDP : IPPROTO_TCP });
    },
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
  const pool = flowPool(prng(SEED + 1), 48);
  beforeAll(async () => {
    const state = testState();
    // A small pending array: tags of the pool's flows share indexes, as a flood's would.
    state.limits.pending = 1024;
    seedTables(state, pool, prng(SEED + 2));
    // Room to spare: an LRU map that evicted would part from the model.
    fx = await Fixture.load(state, { flows: 8192 });
  });
  afterAll(() => fx?.close());

  it(`agrees on ${FRAMES} frames (seed ${SEED.toString(16)})`, () => {
    const next = generator(prng(SEED), pool);
    const events = new Set<string>();
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
      const flowsK = tableView(fx.readTable());
      const pendingK = pendingView(fx.readPending());
      if (flowsK.join() !== tableView(fx.state.flows).join() || pendingK.join() !== pendingView(fx.state.pending).join()) {
        expect.fail(`frame ${i} (${m.reasonName}): tables differ\ninput ${frame.toString('hex')}\n` +
          `kernel flows ${flowsK.join('; ')}\nmodel flows ${tableView(fx.state.flows).join('; ')}\n` +
          `kernel pending ${pendingK.join('; ')}\nmodel pending ${pendingView(fx.state.pending).join('; ')}`);
      }
      seen.set(m.reasonName, (seen.get(m.reasonName) ?? 0) + 1);
      for (const c of m.counters) if (c.map === 'flow_stats') events.add(FLOW_EVENTS[c.key]);
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
    // ... and every table event but full (an LRU map makes room).
    expect(FLOW_EVENTS.filter((e) => e !== 'full' && !events.has(e))).toEqual([]);
  });
});
