/**
 * The data-plane ABI in TypeScript: codecs, limits, flags and verdict
 * reasons mirroring bpf/vipd_consts.h and bpf/vipd_structs.h (included by
 * bpf/vipd.h). Field names are the C names on purpose:
 * test/bpf/abi.test.ts compares every codec here with the struct of the
 * same name in the BTF of out/bpf/vipd.bpf.o, so the two cannot drift.
 */
import { struct, types as t, type CodecValue } from '../bpf/index.js';

/** iface_masters is an array indexed by ifindex: a bond member's ifindex must be below this. */
export const MAX_IFINDEX = 4096;

/** The largest ring a service can have (a prime): VIPD_RING_MAX_SIZE. Other map sizes follow the config (sizing.ts). */
export const RING_MAX_SIZE = 65537;
/** A ring slot that names no real server. */
export const REAL_NONE = 0xffffffff;
/** struct vipd_slot.fallback: consult the connection table; unknown flows go to the slot's real (VIPD_SLOT_TRACKED | real). */
export const SLOT_TRACKED = 0x80000000;
/** struct vipd_slot.fallback: the service's previous ring (prev_ring, prev_size) says where unknown flows go. */
export const SLOT_PREV_RING = 0xfffffffe;
/** The 32-bit words of struct vipd_slot in the mmapable rings array (ArrayMemory word numbers). */
export const SLOT_REAL = 0;
export const SLOT_FALLBACK = 1;
/** Seed of the flow hash; the same on every host. */
export const HASH_SEED = 0x5eed1e55;
/** Multipliers of a pending tag's check word, one per 32-bit word of a flow key (VIPD_PENDING_MUL0..9, ABI 7). */
export const PENDING_MULTIPLIERS: readonly bigint[] = [
  0x2cb285770359f761n,
  0x0210dc5fb02ded79n,
  0x7c695b974e0ab5c7n,
  0x5e32084b607c65f7n,
  0xe9ad626e269a0d57n,
  0x1c2cd0c842b1381bn,
  0xd723c0fa823f2c25n,
  0xe13bc12f1b440553n,
  0x50924c4f999ec0e9n,
  0xa50a750ff91b6319n,
];

export const FAMILY_V4 = 4;
export const FAMILY_V6 = 6;
export type Family = typeof FAMILY_V4 | typeof FAMILY_V6;

/** lease_expiry_ns of a lease that never ends. */
export const LEASE_FOREVER = 0xffffffffffffffffn;

export const INST_F_ACTIVE = 1 << 0;
/** The instance's VIPs are reached by routes (announce: bgp): no ARP/NDP answers. */
export const INST_F_ROUTED = 1 << 1;
/** The instance's mac is the VRRP virtual MAC; host_mac is the interface's (passed frames to the VIP are re-addressed to it). */
export const INST_F_VMAC = 1 << 2;
export const REAL_F_VALID = 1 << 0;

/** struct vipd_service.flags: every flow is looked up (UDP). */
export const SVC_F_TRACK_ALL = 1 << 0;
/** struct vipd_service.flags: source-IP persistence (flow key and hash without the client port). */
export const SVC_F_PERSIST = 1 << 1;

/** struct vipd_flow*_key.kind */
export const FLOW_CONN = 0;
export const FLOW_CLIENT = 1;
/** struct vipd_flow.flags: the client sent FIN or RST. */
export const FLOW_F_CLOSING = 1 << 0;

/** enum vipd_flow_event, in order: the index of the flow_stats map. */
export const FLOW_EVENTS = ['hit', 'pending', 'promoted', 'pinned', 'reassigned', 'reopened', 'closing', 'full'] as const;
export type FlowEventName = (typeof FLOW_EVENTS)[number];
export const FLOW_EVENT_MAX = FLOW_EVENTS.length;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/**
 * enum vipd_reason, in order: the index of the verdicts map. The program
 * counts every reason there except 'forward', which is the sum of
 * real_stats less icmp_forward (forwardedCounter()).
 */
export const REASONS = [
  'arp_reply',
  'nd_advert',
  'forward',
  'icmp_forward',
  'pass_other_iface',
  'pass_truncated',
  'pass_malformed',
  'pass_vlan',
  'pass_ethertype',
  'pass_arp_other',
  'pass_nd_other',
  'pass_not_vip',
  'pass_inactive',
  'pass_lease_expired',
  'pass_no_service',
  'pass_fragment',
  'pass_ipv6_ext',
  'pass_icmp_other',
  'pass_no_backend',
  'pass_routed',
] as const;
export type ReasonName = (typeof REASONS)[number];
export const REASON_MAX = REASONS.length;
/** Reasons below this one are XDP_TX; the rest XDP_PASS. */
export const FIRST_PASS_REASON = REASONS.indexOf('pass_other_iface');

export function reasonIndex(name: ReasonName): number {
  return REASONS.indexOf(name);
}

export const XDP_PASS = 2;
export const XDP_TX = 3;

/** The XDP action the program returns for a reason. */
export function actionOf(reason: number): number {
  return reason < FIRST_PASS_REASON ? XDP_TX : XDP_PASS;
}

export const u32Key = t.u32;

export const instanceCodec = struct('vipd_instance', {
  lease_expiry_ns: t.u64,
  ifindex: t.u32,
  mac: t.bytes(6),
  flags: t.u16,
  host_mac: t.bytes(6),
  pad: t.bytes(6),
});

export const vipKeyCodec = struct('vipd_vip_key', {
  addr: t.bytes(16),
  family: t.u8,
  pad: t.bytes(3),
});

export const vipCodec = struct('vipd_vip', {
  instance: t.u32,
  flags: t.u32,
});

/** services4 key: 8 bytes (the kernel hashes every byte of a hash key). */
export const service4KeyCodec = struct('vipd_service4_key', {
  addr: t.bytes(4),
  port: t.be16,
  proto: t.u8,
  pad: t.u8,
});

export const service6KeyCodec = struct('vipd_service6_key', {
  addr: t.bytes(16),
  port: t.be16,
  proto: t.u8,
  pad: t.u8,
});

export const serviceCodec = struct('vipd_service', {
  ring: t.u32,
  ring_size: t.u32,
  instance: t.u32,
  flags: t.u32,
  index: t.u32,
  region: t.u32,
  prev_ring: t.u32,
  prev_size: t.u32,
});

export const slotCodec = struct('vipd_slot', {
  real: t.u32,
  fallback: t.u32,
});

export const flow4KeyCodec = struct('vipd_flow4_key', {
  client: t.bytes(4),
  vip: t.bytes(4),
  cport: t.be16,
  vport: t.be16,
  proto: t.u8,
  kind: t.u8,
  pad: t.bytes(2),
});

export const flow6KeyCodec = struct('vipd_flow6_key', {
  client: t.bytes(16),
  vip: t.bytes(16),
  cport: t.be16,
  vport: t.be16,
  proto: t.u8,
  kind: t.u8,
  pad: t.bytes(2),
});

export const flowCodec = struct('vipd_flow', {
  real: t.u32,
  hash: t.u32,
  seen: t.u32,
  flags: t.u32,
});

/** pending4 / pending6 (ABI 7): a direct-mapped array of first-packet tags (tag 0: empty). */
export const pendingCodec = struct('vipd_pending', {
  tag: t.u64,
  real: t.u32,
  seen: t.u32,
});

export const realCodec = struct('vipd_real', {
  mac: t.bytes(6),
  flags: t.u16,
  addr: t.bytes(16),
  family: t.u8,
  pad: t.bytes(3),
});

export const counterCodec = struct('vipd_counter', {
  packets: t.u64,
  bytes: t.u64,
});

export type Instance = CodecValue<typeof instanceCodec>;
export type VipKey = CodecValue<typeof vipKeyCodec>;
export type Vip = CodecValue<typeof vipCodec>;
export type Service4Key = CodecValue<typeof service4KeyCodec>;
export type Service6Key = CodecValue<typeof service6KeyCodec>;
export type Service = CodecValue<typeof serviceCodec>;
export type Real = CodecValue<typeof realCodec>;
export type Counter = CodecValue<typeof counterCodec>;
export type Slot = CodecValue<typeof slotCodec>;
export type Flow4Key = CodecValue<typeof flow4KeyCodec>;
export type Flow6Key = CodecValue<typeof flow6KeyCodec>;
export type Flow = CodecValue<typeof flowCodec>;
export type Pending = CodecValue<typeof pendingCodec>;

/** Every struct codec, for the BTF comparison. */
export const STRUCT_CODECS = [
  instanceCodec,
  vipKeyCodec,
  vipCodec,
  service4KeyCodec,
  service6KeyCodec,
  serviceCodec,
  realCodec,
  counterCodec,
  slotCodec,
  flow4KeyCodec,
  flow6KeyCodec,
  flowCodec,
  pendingCodec,
] as const;

/** Map names (pinned under bpf.pin by these names) and their codecs. */
export const MAPS = {
  instances: { key: u32Key, value: instanceCodec, perCpu: false },
  vips: { key: vipKeyCodec, value: vipCodec, perCpu: false },
  services4: { key: service4KeyCodec, value: serviceCodec, perCpu: false },
  services6: { key: service6KeyCodec, value: serviceCodec, perCpu: false },
  rings: { key: u32Key, value: slotCodec, perCpu: false },
  reals: { key: u32Key, value: realCodec, perCpu: false },
  iface_masters: { key: u32Key, value: t.u32, perCpu: false },
  verdicts: { key: u32Key, value: counterCodec, perCpu: true },
  real_stats: { key: u32Key, value: counterCodec, perCpu: true },
  flows4: { key: flow4KeyCodec, value: flowCodec, perCpu: false },
  flows6: { key: flow6KeyCodec, value: flowCodec, perCpu: false },
  pending4: { key: u32Key, value: pendingCodec, perCpu: false },
  pending6: { key: u32Key, value: pendingCodec, perCpu: false },
  flow_stats: { key: u32Key, value: counterCodec, perCpu: true },
} as const;
export type MapName = keyof typeof MAPS;

/** The XDP program's name in the object (SEC("xdp") int vipd_xdp). */
export const PROGRAM_NAME = 'vipd_xdp';
