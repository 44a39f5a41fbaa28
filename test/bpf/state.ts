/**
 * The map contents the golden and differential tests run against: one
 * interface, instances that are active, inactive, expired and active on
 * another interface, VIPs of each family on each, services with live, empty
 * and half-invalid rings.
 */
import {
  INST_F_ACTIVE,
  INST_F_ROUTED,
  IPPROTO_TCP,
  IPPROTO_UDP,
  REAL_F_VALID,
  REAL_NONE,
  RING_MAX_SIZE,
  SLOT_PREV_RING,
  SLOT_TRACKED,
  SVC_F_PERSIST,
  SVC_F_TRACK_ALL,
} from '../../src/dataplane/abi.js';
import { parseAddr, parseMac } from '../../src/dataplane/addr.js';
import { emptyState, serviceId, vipId, type ModelState } from '../model/xdp-model.js';
import { LB_MAC } from '../helpers/frames.js';
import { TEST_IFINDEX } from './fixture.js';

export const INST_ACTIVE = 0;
export const INST_INACTIVE = 1;
export const INST_EXPIRED = 2;
/** Active, endless lease, but on another interface than the test runs'. */
export const INST_OTHER_IFACE = 3;
/** Active here, announced by BGP (VIPD_INST_F_ROUTED): forwards, answers no ARP/NDP. */
export const INST_ROUTED = 4;

export const VIP4 = '10.0.0.10';
export const VIP6 = '2001:db8::10';
export const VIP4_INACTIVE = '10.0.0.11';
export const VIP6_INACTIVE = '2001:db8::11';
export const VIP4_EXPIRED = '10.0.0.12';
export const VIP6_EXPIRED = '2001:db8::12';
/** A VIP with no services at all. */
export const VIP4_BARE = '10.0.0.13';
export const VIP4_OTHER_IFACE = '10.0.0.14';
export const VIP6_OTHER_IFACE = '2001:db8::14';
export const VIP4_ROUTED = '10.0.0.15';
export const VIP6_ROUTED = '2001:db8::15';
/** The MAC of the other interface. */
export const OTHER_IFACE_MAC = '02:00:00:00:00:77';

export const REAL_MACS = ['02:00:00:00:01:01', '02:00:00:00:01:02', '02:00:00:00:01:03'];
/** A service whose port has an all-empty ring. */
export const EMPTY_PORT = 8080;
/** A service whose ring also names an invalid real server. */
export const MIXED_PORT = 8081;

const FOREVER = 0xffffffffffffffffn;

/** Ring size of the services the golden tests were written for (ABI 4's one size). */
const SIZE = RING_MAX_SIZE;
/** A service with a small ring (ABI 5: the size follows the backend count). */
export const SMALL_RING_PORT = 8082;
const SMALL = 251;

/*
 * Connection table services (ABI 6), on VIP4 and VIP6, 251-slot rings of
 * reals 0/1 (slot i: i % 2). Slot i % 3 == 0 is clean, the others as below.
 */
/** TCP; i % 3 == 1: changed hands (fallback real 2); i % 3 == 2: tracked. */
export const CHANGED_PORT = 443;
/** TCP; i % 3 != 0: VIPD_SLOT_PREV_RING, a 127-slot previous ring of real 2 (odd slots: fallback 1). */
export const PREV_RING_PORT = 444;
export const PREV_SIZE = 127;
/** UDP, VIPD_SVC_F_TRACK_ALL; i % 3 == 1: changed hands (fallback real 2). */
export const TRACK_ALL_PORT = 54;
/** TCP, VIPD_SVC_F_PERSIST; i % 3 == 1: changed hands (fallback real 2). */
export const PERSIST_PORT = 8443;

/** What a slot of the connection table services is, by its index in the ring. */
export type SlotKind = 'clean' | 'changed' | 'tracked';
export function slotKind(i: number): SlotKind {
  return (['clean', 'changed', 'tracked'] as const)[i % 3];
}

function ring(fill: (slot: number) => number, size = SIZE): Uint32Array {
  const t = new Uint32Array(size);
  for (let i = 0; i < size; i++) t[i] = fill(i);
  return t;
}

export function testState(): ModelState {
  const s = emptyState({ instances: 8, services: 32, ringSlots: 33 * SIZE, reals: 8 });
  const here = { ifindex: TEST_IFINDEX, mac: parseMac(LB_MAC), pad: 0 };
  s.instances.set(INST_ACTIVE, { ...here, lease_expiry_ns: FOREVER, flags: INST_F_ACTIVE });
  // What Dataplane.deactivate() writes: a lease that ended at 0 (the interface stays).
  s.instances.set(INST_INACTIVE, { ...here, lease_expiry_ns: 0n, flags: 0 });
  s.instances.set(INST_EXPIRED, { ...here, lease_expiry_ns: 1n, flags: INST_F_ACTIVE });
  s.instances.set(INST_OTHER_IFACE, {
    lease_expiry_ns: FOREVER,
    ifindex: TEST_IFINDEX + 1,
    mac: parseMac(OTHER_IFACE_MAC),
    flags: INST_F_ACTIVE,
    pad: 0,
  });
  s.instances.set(INST_ROUTED, { ...here, lease_expiry_ns: FOREVER, flags: INST_F_ACTIVE | INST_F_ROUTED });
  REAL_MACS.forEach((mac, i) => {
    const a = parseAddr(`192.168.0.${i + 1}`);
    s.reals.set(i, { mac: parseMac(mac), flags: REAL_F_VALID, addr: a.addr, family: a.family, pad: Buffer.alloc(3) });
  });
  // Real 3 exists but is not valid (a drained slot never forwards to 00:00:..).
  s.reals.set(3, { mac: Buffer.alloc(6), flags: 0, addr: Buffer.alloc(16), family: 0, pad: Buffer.alloc(3) });

  const vips: [string, number][] = [
    [VIP4, INST_ACTIVE],
    [VIP6, INST_ACTIVE],
    [VIP4_INACTIVE, INST_INACTIVE],
    [VIP6_INACTIVE, INST_INACTIVE],
    [VIP4_EXPIRED, INST_EXPIRED],
    [VIP6_EXPIRED, INST_EXPIRED],
    [VIP4_BARE, INST_ACTIVE],
    [VIP4_OTHER_IFACE, INST_OTHER_IFACE],
    [VIP6_OTHER_IFACE, INST_OTHER_IFACE],
    [VIP4_ROUTED, INST_ROUTED],
    [VIP6_ROUTED, INST_ROUTED],
  ];
  for (const [vip, instance] of vips) {
    const a = parseAddr(vip);
    s.vips.set(vipId(a.addr, a.family), { instance, flags: 0 });
  }

  // Each service's two rings end to end, as the manager lays them out.
  let index = 0;
  let region = 0;
  const service = (
    vip: string,
    port: number,
    proto: number,
    instance: number,
    table: Uint32Array,
    opts: { flags?: number; fallbacks?: Uint32Array; prev?: { reals: Uint32Array; fallbacks: Uint32Array } } = {},
  ) => {
    const a = parseAddr(vip);
    const size = table.length;
    const r = region + (index % 2) * size; // exercise both halves of the double buffer
    // The previous ring (another size) in the other half, as after a resize.
    const prevRing = opts.prev ? region + ((index + 1) % 2) * size : 0;
    const prevSize = opts.prev ? opts.prev.reals.length : 0;
    s.services.set(serviceId(a.addr, a.family, port, proto), {
      ring: r,
      ring_size: size,
      instance,
      flags: opts.flags ?? 0,
      index,
      region,
      prev_ring: prevRing,
      prev_size: prevSize,
    });
    s.rings.set(r, table);
    if (opts.fallbacks) s.fallbacks.set(r, opts.fallbacks);
    if (opts.prev) {
      s.rings.set(prevRing, opts.prev.reals);
      s.fallbacks.set(prevRing, opts.prev.fallbacks);
    }
    index++;
    region += 2 * size;
  };
  const two = ring((i) => i % 2);
  for (const vip of [VIP4, VIP6]) {
    service(vip, 80, IPPROTO_TCP, INST_ACTIVE, two);
    service(vip, 53, IPPROTO_UDP, INST_ACTIVE, ring((i) => (i % 3 === 0 ? 2 : i % 2)));
    service(vip, EMPTY_PORT, IPPROTO_TCP, INST_ACTIVE, ring(() => REAL_NONE));
    service(vip, MIXED_PORT, IPPROTO_TCP, INST_ACTIVE, ring((i) => i % 4));
    service(vip, SMALL_RING_PORT, IPPROTO_TCP, INST_ACTIVE, ring((i) => (i * 7) % 3, SMALL));
  }
  const halves = ring((i) => i % 2, SMALL);
  const changed = ring((i) => (slotKind(i) === 'changed' ? 2 : i % 2), SMALL);
  const tracked = ring((i) => ({ clean: i % 2, changed: 2, tracked: (SLOT_TRACKED | i % 2) >>> 0 })[slotKind(i)], SMALL);
  const prevRing = ring((i) => (slotKind(i) === 'clean' ? i % 2 : SLOT_PREV_RING), SMALL);
  const prev = { reals: ring(() => 2, PREV_SIZE), fallbacks: ring((j) => (j % 2 ? 1 : 2), PREV_SIZE) };
  for (const vip of [VIP4, VIP6]) {
    service(vip, CHANGED_PORT, IPPROTO_TCP, INST_ACTIVE, halves, { fallbacks: tracked });
    service(vip, PREV_RING_PORT, IPPROTO_TCP, INST_ACTIVE, halves, { fallbacks: prevRing, prev });
    service(vip, TRACK_ALL_PORT, IPPROTO_UDP, INST_ACTIVE, halves, { flags: SVC_F_TRACK_ALL, fallbacks: changed });
    service(vip, PERSIST_PORT, IPPROTO_TCP, INST_ACTIVE, halves, { flags: SVC_F_PERSIST, fallbacks: changed });
  }
  service(VIP4_ROUTED, 80, IPPROTO_TCP, INST_ROUTED, halves);
  service(VIP6_ROUTED, 80, IPPROTO_TCP, INST_ROUTED, halves);
  service(VIP4_INACTIVE, 80, IPPROTO_TCP, INST_INACTIVE, two);
  service(VIP6_INACTIVE, 80, IPPROTO_TCP, INST_INACTIVE, two);
  service(VIP4_EXPIRED, 80, IPPROTO_TCP, INST_EXPIRED, two);
  service(VIP6_EXPIRED, 80, IPPROTO_TCP, INST_EXPIRED, two);
  service(VIP4_OTHER_IFACE, 80, IPPROTO_TCP, INST_OTHER_IFACE, two);
  service(VIP6_OTHER_IFACE, 80, IPPROTO_TCP, INST_OTHER_IFACE, two);
  return s;
}
