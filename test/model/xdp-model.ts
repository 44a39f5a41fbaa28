/**
 * A reference model of bpf/vipd.bpf.c in plain TypeScript: given a frame,
 * the map contents and the monotonic clock, it returns what the XDP program
 * returns, the frame it leaves behind and the counters it bumps. It follows
 * the C program check for check, in the same order, so that the golden and
 * differential tests (test/bpf) can demand byte-for-byte agreement.
 *
 * Pure but for the connection table: no maps, no sockets, no clock of its
 * own. The caller passes the time the program's lease clock would read
 * (bpf/vipd.bpf.c lease_clock(): CLOCK_MONOTONIC sampled once per jiffy,
 * so up to a tick behind) and the interface the frame came in on. The
 * model writes state.flows and state.pending as the program writes
 * flows4/6 and pending4/6 (ABI 7: pending is a direct-mapped array of
 * tags), so a test can compare the two tables.
 */
import { internetChecksum } from '../../src/checksum.js';
import {
  FAMILY_V4,
  FAMILY_V6,
  FLOW_CLIENT,
  FLOW_CONN,
  FLOW_EVENTS,
  FLOW_F_CLOSING,
  INST_F_ACTIVE,
  INST_F_VMAC,
  INST_F_ROUTED,
  IPPROTO_TCP,
  IPPROTO_UDP,
  MAX_IFINDEX,
  REAL_F_VALID,
  REAL_NONE,
  REASONS,
  SLOT_PREV_RING,
  SLOT_TRACKED,
  SVC_F_PERSIST,
  SVC_F_TRACK_ALL,
  actionOf,
  reasonIndex,
  flow4KeyCodec,
  flow6KeyCodec,
  type Flow,
  type FlowEventName,
  type Pending,
  type Instance,
  type Real,
  type ReasonName,
  type Service,
  type Vip,
} from '../../src/dataplane/abi.js';
import { FLOOR } from '../../src/dataplane/sizing.js';
import { flowHash, hashAddr, pendingTag, portsWord, ringSlot } from './xdp-hash.js';

export interface ModelLimits {
  instances: number;
  services: number;
  /** Slots of the rings map. */
  ringSlots: number;
  reals: number;
  /** Size of iface_masters: a member with a larger ifindex has no entry. */
  ifindexes: number;
  /** Entries of each of pending4 and pending6 (a power of two: the program's mask is this less one). */
  pending: number;
}

/** The contents of the maps, in the shapes of their codecs. */
export interface ModelState {
  instances: Map<number, Instance>;
  /** Keyed by vipId(). */
  vips: Map<string, Vip>;
  /** Keyed by serviceId(). */
  services: Map<string, Service>;
  /** First slot -> the ring's slots (their real); a slot in no ring here reads as 0 (array map). */
  rings: Map<number, Uint32Array>;
  /**
   * First slot -> the fallback of each slot of that ring (struct
   * vipd_slot.fallback); a ring not here is clean (fallback == real).
   */
  fallbacks: Map<number, Uint32Array>;
  /** flows4 and flows6, keyed by flowId(). */
  flows: Map<string, Flow>;
  /** pending4 and pending6: the tags set, keyed by pendingId() (family and index). */
  pending: Map<string, Pending>;
  reals: Map<number, Real>;
  /** iface_masters: bond member ifindex -> the bond's ifindex. */
  ifaceMasters: Map<number, number>;
  limits: ModelLimits;
}

export type CounterMap = 'verdicts' | 'real_stats' | 'flow_stats';

/** A connection table key (struct vipd_flow4_key / vipd_flow6_key with its family). */
export interface FlowKey {
  family: number;
  /** 4 or 16 bytes. */
  client: Buffer;
  vip: Buffer;
  cport: number;
  vport: number;
  proto: number;
  /** FLOW_CONN, or FLOW_CLIENT (persistence: cport 0). */
  kind: number;
}

/** The model's key for a table entry: "family/client/vip/cport/vport/proto/kind". */
export function flowId(k: FlowKey): string {
  return `${k.family}/${k.client.toString('hex')}/${k.vip.toString('hex')}/${k.cport}/${k.vport}/${k.proto}/${k.kind}`;
}

export function parseFlowId(id: string): FlowKey {
  const [family, client, vip, cport, vport, proto, kind] = id.split('/');
  return {
    family: Number(family),
    client: Buffer.from(client, 'hex'),
    vip: Buffer.from(vip, 'hex'),
    cport: Number(cport),
    vport: Number(vport),
    proto: Number(proto),
    kind: Number(kind),
  };
}

/** A flow table key as the program hashes it: struct vipd_flow4_key / vipd_flow6_key bytes. */
export function flowKeyBytes(k: FlowKey): Buffer {
  const v4 = k.family === FAMILY_V4;
  const out = Buffer.alloc(v4 ? flow4KeyCodec.size : flow6KeyCodec.size);
  const key = { client: k.client, vip: k.vip, cport: k.cport, vport: k.vport, proto: k.proto, kind: k.kind, pad: Buffer.alloc(2) };
  if (v4) flow4KeyCodec.encode(key, out, 0);
  else flow6KeyCodec.encode(key, out, 0);
  return out;
}

/** The model's key for a pending entry: "family/index". */
export function pendingId(family: number, index: number): string {
  return `${family}/${index}`;
}

/** Where a flow's tag goes in pending (of `size` entries) and what it is. */
export function pendingPlace(k: FlowKey, hash: number, size: number): { id: string; tag: bigint } {
  return { id: pendingId(k.family, (hash & (size - 1)) >>> 0), tag: pendingTag(flowKeyBytes(k), hash) };
}

const FE = Object.fromEntries(FLOW_EVENTS.map((name, i) => [name, i])) as Record<FlowEventName, number>;

/** What a packet means to the table (PKT_* of the C program). */
interface PacketKind {
  syn: boolean;
  closing: boolean;
  icmp: boolean;
}

export interface CounterTouch {
  map: CounterMap;
  key: number;
  bytes: number;
}

export interface ModelResult {
  reason: number;
  reasonName: ReasonName;
  /** XDP_TX (3) or XDP_PASS (2). */
  action: number;
  /** The frame as the program leaves it. */
  output: Buffer;
  counters: CounterTouch[];
}

export const DEFAULT_LIMITS: ModelLimits = {
  instances: FLOOR.instances,
  services: FLOOR.services,
  ringSlots: FLOOR.ringSlots,
  reals: FLOOR.reals,
  ifindexes: MAX_IFINDEX,
  pending: FLOOR.pending4,
};

/** What the rings map holds at a slot: the ring that covers it, or 0. */
function ringsAt(rings: ReadonlyMap<number, Uint32Array>, slot: number): number {
  for (const [start, table] of rings) if (slot >= start && slot < start + table.length) return table[slot - start] ?? 0;
  return 0;
}

/** A slot's fallback: from state.fallbacks, else its real (clean). */
function fallbackAt(state: ModelState, slot: number): number {
  for (const [start, table] of state.fallbacks) {
    if (slot >= start && slot < start + table.length) return table[slot - start] ?? 0;
  }
  return ringsAt(state.rings, slot);
}

/** struct vipd_flow.seen for a lease clock reading: ~1.05 ms units. */
export function flowClock(nowNs: bigint): number {
  return Number((nowNs >> 20n) & 0xffffffffn);
}

export function emptyState(limits: Partial<ModelLimits> = {}): ModelState {
  return {
    instances: new Map(),
    vips: new Map(),
    services: new Map(),
    rings: new Map(),
    fallbacks: new Map(),
    flows: new Map(),
    pending: new Map(),
    reals: new Map(),
    ifaceMasters: new Map(),
    limits: { ...DEFAULT_LIMITS, ...limits },
  };
}

function addrHex(addr: Uint8Array, family: number): string {
  return Buffer.from(addr.subarray(0, family === FAMILY_V4 ? 4 : 16)).toString('hex');
}

/** The model's key for a VIP: only the address bytes of its family count. */
export function vipId(addr: Uint8Array, family: number): string {
  return `${family}/${addrHex(addr, family)}`;
}

export function serviceId(addr: Uint8Array, family: number, port: number, proto: number): string {
  return `${family}/${addrHex(addr, family)}/${proto}/${port}`;
}

const ETH_HLEN = 14;
const ETH_P_ARP = 0x0806;
const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const ETH_P_8021Q = 0x8100;
const ETH_P_8021AD = 0x88a8;
const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
const IPPROTO_HOPOPTS = 0;
const IPPROTO_ROUTING = 43;
const IPPROTO_FRAGMENT = 44;
const IPPROTO_DSTOPTS = 60;
const NA_BODY_LEN = 32;
const NA_LEN = ETH_HLEN + 40 + NA_BODY_LEN;

const ZERO_INSTANCE: Instance = {
  lease_expiry_ns: 0n,
  ifindex: 0,
  mac: Buffer.alloc(6),
  flags: 0,
  host_mac: Buffer.alloc(6),
  pad: Buffer.alloc(6),
};

const R = Object.fromEntries(REASONS.map((name) => [name, reasonIndex(name)])) as Record<ReasonName, number>;

/** Where a packet's flow sits in it (struct flow_at of the C program): offsets into the frame. */
interface FlowAt {
  client: number;
  vip: number;
  ports: number;
  family: number;
  proto: number;
  /** An ICMP error quoting the flow: ports reversed, read only. */
  icmp: boolean;
}

/** svc_ports(): a persistent service's hash leaves the client's port (the word's low 16 bits) out. */
function svcPorts(svc: Service, word: number): number {
  return svc.flags & SVC_F_PERSIST ? (word & 0xffff0000) >>> 0 : word;
}

/** One evaluation: the frame is copied and rewritten like the packet buffer. */
class Run {
  pkt: Buffer;
  readonly counters: CounterTouch[] = [];

  constructor(
    frame: Buffer,
    readonly state: ModelState,
    readonly now: bigint,
    readonly ifindex: number,
    readonly bytes: number,
  ) {
    this.pkt = Buffer.from(frame);
  }

  count(map: CounterMap, key: number, limit: number): void {
    if (key < limit) this.counters.push({ map, key, bytes: this.bytes });
  }

  /** instance_serving(): the instance, or the pass reason. */
  instanceServing(id: number): Instance | number {
    // An array map: an entry never written reads as zeros.
    const inst = id < this.state.limits.instances ? (this.state.instances.get(id) ?? ZERO_INSTANCE) : undefined;
    if (!inst) return R.pass_inactive;
    if (this.now >= inst.lease_expiry_ns) return inst.flags & INST_F_ACTIVE ? R.pass_lease_expired : R.pass_inactive;
    if (!this.servesOn(inst)) return R.pass_other_iface;
    return inst;
  }

  /** serves_on(): the instance's interface, or a member of it (a bond's). */
  servesOn(inst: Instance): boolean {
    if (inst.ifindex === this.ifindex) return true;
    const master = this.ifindex < this.state.limits.ifindexes ? (this.state.ifaceMasters.get(this.ifindex) ?? 0) : 0;
    return master !== 0 && master === inst.ifindex;
  }

  /** miss_reason(): the VIP's reason (a frame to the virtual MAC of a served instance re-addressed to host_mac), or pass_not_vip. */
  missReason(off: number, family: number, vipReason: number): number {
    const vip = this.state.vips.get(vipId(this.pkt.subarray(off), family));
    if (!vip) return R.pass_not_vip;
    const dest = this.pkt.subarray(0, 6);
    if (dest.readUInt32BE(0) === 0x00005e00 && (dest[4] === 1 || dest[4] === 2)) {
      const inst = this.instanceServing(vip.instance);
      if (typeof inst !== 'number' && inst.flags & INST_F_VMAC && inst.mac.equals(dest)) inst.host_mac.copy(this.pkt, 0);
    }
    return vipReason;
  }

  /** Is idx a valid entry of reals? */
  realAt(idx: number): Real | undefined {
    return idx < this.state.limits.reals ? this.state.reals.get(idx) : undefined;
  }

  forward(svc: Service, hash: number, reason: number, at: FlowAt): number {
    const slot = (svc.ring + ringSlot(hash, svc.ring_size)) >>> 0;
    const inst = this.instanceServing(svc.instance);
    if (typeof inst === 'number') return inst;
    if (slot >= this.state.limits.ringSlots) return R.pass_no_backend;
    let idx = ringsAt(this.state.rings, slot);
    // A clean slot of a service not tracked as a whole never touches the table.
    if (fallbackAt(this.state, slot) !== idx || svc.flags & SVC_F_TRACK_ALL) idx = this.flowReal(svc, slot, hash, at);
    if (idx === REAL_NONE) return R.pass_no_backend;
    const real = this.realAt(idx);
    if (!real || !(real.flags & REAL_F_VALID)) return R.pass_no_backend;
    real.mac.copy(this.pkt, 0, 0, 6);
    inst.mac.copy(this.pkt, 6, 0, 6);
    // The one counter of a forwarded packet (forward: not in verdicts).
    this.count('real_stats', idx, this.state.limits.reals);
    return reason;
  }

  flowEvent(name: FlowEventName): void {
    this.counters.push({ map: 'flow_stats', key: FE[name], bytes: this.bytes });
  }

  /** slot_fallback(): where a flow the table does not know goes. */
  slotFallback(svc: Service, slot: number, hash: number): number {
    let fb = fallbackAt(this.state, slot);
    let at = slot;
    if (fb === SLOT_PREV_RING) {
      const prev = (svc.prev_ring + ringSlot(hash, svc.prev_size)) >>> 0;
      if (prev >= this.state.limits.ringSlots) return ringsAt(this.state.rings, slot);
      at = prev;
      fb = fallbackAt(this.state, prev);
    }
    return fb & SLOT_TRACKED ? ringsAt(this.state.rings, at) : fb;
  }

  /** flow_real(): the table key from the packet, then conn_decide(). */
  flowReal(svc: Service, slot: number, hash: number, at: FlowAt): number {
    const p = this.pkt;
    const persist = (svc.flags & SVC_F_PERSIST) !== 0;
    const len = at.family === FAMILY_V4 ? 4 : 16;
    const key: FlowKey = {
      family: at.family,
      client: Buffer.from(p.subarray(at.client, at.client + len)),
      vip: Buffer.from(p.subarray(at.vip, at.vip + len)),
      cport: persist ? 0 : p.readUInt16BE(at.ports + (at.icmp ? 2 : 0)),
      vport: p.readUInt16BE(at.ports + (at.icmp ? 0 : 2)),
      proto: at.proto,
      kind: persist ? FLOW_CLIENT : FLOW_CONN,
    };
    let kind: PacketKind = { syn: false, closing: false, icmp: at.icmp };
    if (!at.icmp && at.proto === IPPROTO_TCP) {
      const f = p[at.ports + 13];
      kind = { syn: (f & 0x12) === 0x02, closing: (f & 0x05) !== 0, icmp: false };
    }
    return this.connDecide(svc, slot, hash, key, kind);
  }

  /** A flows entry written now (flow_note/flow_insert of the C program). */
  note(table: Map<string, Flow>, id: string, real: number, hash: number, flags: number, ev: FlowEventName): void {
    table.set(id, { real, hash, seen: flowClock(this.now), flags });
    this.flowEvent(ev);
  }

  insert(id: string, real: number, hash: number, kind: PacketKind, persist: boolean, ev: FlowEventName): void {
    const closing = kind.closing && !persist;
    this.note(this.state.flows, id, real, hash, closing ? FLOW_F_CLOSING : 0, ev);
    if (closing) this.flowEvent('closing');
  }

  /** pending_note(): the flow's tag at its index, whatever was there. */
  notePending(pid: string, tag: bigint, real: number): void {
    this.state.pending.set(pid, { tag, real, seen: flowClock(this.now) });
    this.flowEvent('pending');
  }

  /** conn_decide(): rules 1-4 of docs/dataplane.md "Connection table". */
  connDecide(svc: Service, slot: number, hash: number, key: FlowKey, kind: PacketKind): number {
    const persist = (svc.flags & SVC_F_PERSIST) !== 0;
    const trackAll = (svc.flags & SVC_F_TRACK_ALL) !== 0;
    const id = flowId(key);
    const real = ringsAt(this.state.rings, slot);
    if (kind.icmp) {
      const e = this.state.flows.get(id);
      return e ? e.real : this.slotFallback(svc, slot, hash);
    }
    const { id: pid, tag } = pendingPlace(key, hash, this.state.limits.pending);
    const p = this.state.pending.get(pid);
    const matches = p !== undefined && p.tag === tag;
    if (!persist && !trackAll) {
      if (kind.syn) {
        this.notePending(pid, tag, real);
        return real;
      }
      if (p && matches) {
        this.state.pending.delete(pid);
        this.insert(id, p.real, hash, kind, false, this.state.flows.has(id) ? 'reopened' : 'promoted');
        return p.real;
      }
    }
    const e = this.state.flows.get(id);
    if (e) return this.flowKnown(e, real, kind, persist);
    const fb = this.slotFallback(svc, slot, hash);
    if (trackAll) {
      if (p && matches) {
        this.insert(id, p.real, hash, kind, persist, 'promoted');
        return p.real;
      }
      if (!persist || fb === real) {
        this.notePending(pid, tag, real);
        return real;
      }
    } else if (kind.syn && fb === real) {
      return real;
    }
    if (fb !== real) this.insert(id, fb, hash, kind, persist, 'pinned');
    return fb;
  }

  /** flow_known(): rule 1, the entry rewritten in place. */
  flowKnown(e: Flow, real: number, kind: PacketKind, persist: boolean): number {
    let ev: FlowEventName = 'hit';
    const rv = this.realAt(e.real);
    if (!rv || !(rv.flags & REAL_F_VALID)) {
      e.real = real;
      ev = 'reassigned';
    }
    this.flowEvent(ev);
    if (kind.closing && !persist && !(e.flags & FLOW_F_CLOSING)) {
      e.flags |= FLOW_F_CLOSING;
      this.flowEvent('closing');
    }
    e.seen = flowClock(this.now);
    return e.real;
  }

  process(): number {
    if (this.pkt.length < ETH_HLEN) return R.pass_truncated;
    switch (this.pkt.readUInt16BE(12)) {
      case ETH_P_ARP:
        return this.arp();
      case ETH_P_IP:
        return this.ipv4();
      case ETH_P_IPV6:
        return this.ipv6();
      case ETH_P_8021Q:
      case ETH_P_8021AD:
        return R.pass_vlan;
      default:
        return R.pass_ethertype;
    }
  }

  arp(): number {
    const p = this.pkt;
    const a = ETH_HLEN;
    if (p.length < a + 28) return R.pass_truncated;
    if (p.readUInt16BE(a) !== 1 || p.readUInt16BE(a + 2) !== ETH_P_IP || p[a + 4] !== 6 || p[a + 5] !== 4) {
      return R.pass_arp_other;
    }
    if (p.readUInt16BE(a + 6) !== 1) return R.pass_arp_other;
    const sha = a + 8;
    const spa = a + 14;
    const tha = a + 18;
    const tpa = a + 24;
    if (p.compare(p, spa, spa + 4, tpa, tpa + 4) === 0) return R.pass_arp_other;
    const vipAddr = Buffer.from(p.subarray(tpa, tpa + 4));
    const vip = this.state.vips.get(vipId(vipAddr, FAMILY_V4));
    if (!vip) return R.pass_not_vip;
    const inst = this.instanceServing(vip.instance);
    if (typeof inst === 'number') return inst;
    if (inst.flags & INST_F_ROUTED) return R.pass_routed;
    p.copy(p, tha, sha, sha + 6);
    p.copy(p, tpa, spa, spa + 4);
    inst.mac.copy(p, sha, 0, 6);
    vipAddr.copy(p, spa);
    p.writeUInt16BE(2, a + 6);
    p.copy(p, 0, tha, tha + 6);
    inst.mac.copy(p, 6, 0, 6);
    return R.arp_reply;
  }

  ipv4(): number {
    const p = this.pkt;
    const ip = ETH_HLEN;
    if (p.length < ip + 20) return R.pass_truncated;
    const version = p[ip] >> 4;
    const ihl = p[ip] & 0xf;
    if (version !== 4 || ihl < 5) return R.pass_malformed;
    const l4 = ip + ihl * 4;
    if (p.length < l4) return R.pass_truncated;
    if (p.readUInt16BE(ip + 2) < ihl * 4) return R.pass_malformed;
    const daddr = ip + 16;
    if (p.readUInt16BE(ip + 6) & 0x3fff) return this.missReason(daddr, FAMILY_V4, R.pass_fragment);
    const proto = p[ip + 9];
    if (proto === IPPROTO_ICMP) return this.icmp4(ip, l4);
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) return this.missReason(daddr, FAMILY_V4, R.pass_no_service);
    if (p.length < l4 + (proto === IPPROTO_TCP ? 20 : 8)) return R.pass_truncated;
    const dport = p.readUInt16BE(l4 + 2);
    const svc = this.state.services.get(serviceId(p.subarray(daddr), FAMILY_V4, dport, proto));
    if (!svc) return this.missReason(daddr, FAMILY_V4, R.pass_no_service);
    const hash = flowHash(hashAddr(p, ip + 12, 4), hashAddr(p, daddr, 4), svcPorts(svc, p.readUInt32LE(l4)));
    return this.forward(svc, hash, R.forward, { client: ip + 12, vip: daddr, ports: l4, family: FAMILY_V4, proto, icmp: false });
  }

  icmp4(ip: number, icmp: number): number {
    const p = this.pkt;
    const daddr = ip + 16;
    if (p.length < icmp + 8) return R.pass_truncated;
    if (p[icmp] !== 3 || p[icmp + 1] !== 4) return this.missReason(daddr, FAMILY_V4, R.pass_icmp_other);
    const inner = icmp + 8;
    if (p.length < inner + 20) return R.pass_truncated;
    const ihl = p[inner] & 0xf;
    if (p[inner] >> 4 !== 4 || ihl < 5) return R.pass_malformed;
    const ports = inner + ihl * 4;
    if (p.length < ports) return R.pass_truncated;
    if (p.length < ports + 4) return R.pass_truncated;
    const proto = p[inner + 9];
    if (
      p.compare(p, daddr, daddr + 4, inner + 12, inner + 16) !== 0 ||
      (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) ||
      p.readUInt16BE(inner + 6) & 0x1fff
    ) {
      return this.missReason(daddr, FAMILY_V4, R.pass_icmp_other);
    }
    const sport = p.readUInt16BE(ports);
    const dport = p.readUInt16BE(ports + 2);
    const svc = this.state.services.get(serviceId(p.subarray(inner + 12), FAMILY_V4, sport, proto));
    if (!svc) return this.missReason(daddr, FAMILY_V4, R.pass_icmp_other);
    const hash = flowHash(hashAddr(p, inner + 16, 4), hashAddr(p, inner + 12, 4), svcPorts(svc, portsWord(dport, sport)));
    return this.forward(svc, hash, R.icmp_forward, { client: inner + 16, vip: inner + 12, ports, family: FAMILY_V4, proto, icmp: true });
  }

  ipv6(): number {
    const p = this.pkt;
    const ip = ETH_HLEN;
    const l4 = ip + 40;
    if (p.length < l4) return R.pass_truncated;
    if (p[ip] >> 4 !== 6) return R.pass_malformed;
    const daddr = ip + 24;
    const nexthdr = p[ip + 6];
    switch (nexthdr) {
      case IPPROTO_TCP:
      case IPPROTO_UDP:
        break;
      case IPPROTO_ICMPV6:
        if (p.length < l4 + 4) return R.pass_truncated;
        if (p[l4] === 135) return this.ns(ip, l4);
        if (p[l4] === 2 && p[l4 + 1] === 0) return this.ptb(ip, l4 + 4);
        return this.missReason(daddr, FAMILY_V6, R.pass_icmp_other);
      case IPPROTO_FRAGMENT:
        return this.missReason(daddr, FAMILY_V6, R.pass_fragment);
      case IPPROTO_HOPOPTS:
      case IPPROTO_ROUTING:
      case IPPROTO_DSTOPTS:
        return this.missReason(daddr, FAMILY_V6, R.pass_ipv6_ext);
      default:
        return this.missReason(daddr, FAMILY_V6, R.pass_no_service);
    }
    if (p.length < l4 + (nexthdr === IPPROTO_TCP ? 20 : 8)) return R.pass_truncated;
    const dport = p.readUInt16BE(l4 + 2);
    const svc = this.state.services.get(serviceId(p.subarray(daddr), FAMILY_V6, dport, nexthdr));
    if (!svc) return this.missReason(daddr, FAMILY_V6, R.pass_no_service);
    const hash = flowHash(hashAddr(p, ip + 8, 6), hashAddr(p, daddr, 6), svcPorts(svc, p.readUInt32LE(l4)));
    return this.forward(svc, hash, R.forward, { client: ip + 8, vip: daddr, ports: l4, family: FAMILY_V6, proto: nexthdr, icmp: false });
  }

  ns(ip: number, icmp: number): number {
    const p = this.pkt;
    if (p.length < icmp + 24) return R.pass_truncated;
    const saddr = ip + 8;
    const daddr = ip + 24;
    const target = icmp + 8;
    const zero = p.subarray(saddr, saddr + 16).every((b) => b === 0);
    if (p[ip + 7] !== 255 || p[icmp + 1] !== 0 || zero) return R.pass_nd_other;
    const toTarget = p.compare(p, target, target + 16, daddr, daddr + 16) === 0;
    const solicited =
      Buffer.from([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]).compare(p, daddr, daddr + 13) === 0 &&
      p.compare(p, target + 13, target + 16, daddr + 13, daddr + 16) === 0;
    if (!toTarget && !solicited) return R.pass_nd_other;
    const vipAddr = Buffer.from(p.subarray(target, target + 16));
    const vip = this.state.vips.get(vipId(vipAddr, FAMILY_V6));
    if (!vip) return R.pass_not_vip;
    const inst = this.instanceServing(vip.instance);
    if (typeof inst === 'number') return inst;
    if (inst.flags & INST_F_ROUTED) return R.pass_routed;

    const peerMac = Buffer.from(p.subarray(6, 12));
    const peer = Buffer.from(p.subarray(saddr, saddr + 16));
    const out = Buffer.alloc(NA_LEN);
    p.copy(out, 0, 0, Math.min(p.length, NA_LEN));
    peerMac.copy(out, 0);
    inst.mac.copy(out, 6, 0, 6);
    out.writeUInt32BE(0x60000000, ip);
    out.writeUInt16BE(NA_BODY_LEN, ip + 4);
    out[ip + 6] = IPPROTO_ICMPV6;
    out[ip + 7] = 255;
    vipAddr.copy(out, saddr);
    peer.copy(out, daddr);
    out[icmp] = 136;
    out[icmp + 1] = 0;
    out.writeUInt16BE(0, icmp + 2);
    out.writeUInt32BE(0x60000000, icmp + 4);
    vipAddr.copy(out, target);
    out[icmp + 24] = 2;
    out[icmp + 25] = 1;
    inst.mac.copy(out, icmp + 26, 0, 6);
    const pseudo = Buffer.alloc(40);
    out.copy(pseudo, 0, saddr, saddr + 32);
    pseudo.writeUInt32BE(NA_BODY_LEN, 32);
    pseudo[39] = IPPROTO_ICMPV6;
    out.writeUInt16BE(internetChecksum(pseudo, out.subarray(icmp, icmp + NA_BODY_LEN)), icmp + 2);
    this.pkt = out;
    return R.nd_advert;
  }

  ptb(ip: number, body: number): number {
    const p = this.pkt;
    const daddr = ip + 24;
    if (p.length < body + 4) return R.pass_truncated;
    const inner = body + 4;
    if (p.length < inner + 40) return R.pass_truncated;
    const ports = inner + 40;
    if (p.length < ports + 4) return R.pass_truncated;
    const proto = p[inner + 6];
    if (
      p.compare(p, inner + 8, inner + 24, daddr, daddr + 16) !== 0 ||
      (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP)
    ) {
      return this.missReason(daddr, FAMILY_V6, R.pass_icmp_other);
    }
    const sport = p.readUInt16BE(ports);
    const dport = p.readUInt16BE(ports + 2);
    const svc = this.state.services.get(serviceId(p.subarray(inner + 8), FAMILY_V6, sport, proto));
    if (!svc) return this.missReason(daddr, FAMILY_V6, R.pass_icmp_other);
    const hash = flowHash(hashAddr(p, inner + 24, 6), hashAddr(p, inner + 8, 6), svcPorts(svc, portsWord(dport, sport)));
    return this.forward(svc, hash, R.icmp_forward, { client: inner + 24, vip: inner + 8, ports, family: FAMILY_V6, proto, icmp: true });
  }
}

/**
 * Runs the model on one frame received on ifindex at monotonic time nowNs
 * (the program's bpf_ktime_get_ns()).
 */
export function runModel(frame: Buffer, state: ModelState, ifindex: number, nowNs: bigint): ModelResult {
  const run = new Run(frame, state, nowNs, ifindex, frame.length);
  const reason = run.process();
  // forward is not counted in verdicts: readers derive it from real_stats.
  if (reason !== R.forward) run.counters.unshift({ map: 'verdicts', key: reason, bytes: frame.length });
  return { reason, reasonName: REASONS[reason], action: actionOf(reason), output: run.pkt, counters: run.counters };
}

