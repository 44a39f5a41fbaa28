/**
 * What `vipctl maps` shows: each pinned map's entries decoded into readable
 * values. This is also the --json shape (bigint counters print as numbers).
 */
import type { MapName } from '../../dataplane/abi.js';

export interface InstanceEntry {
  readonly id: number;
  readonly flags: string[];
  /** The interface the instance's VIPs are served on (0: none). */
  readonly ifindex: number;
  /** Its name, from /sys/class/net; null when no interface has that index here. */
  readonly interface: string | null;
  /** The MAC written as source of every frame sent for the instance. */
  readonly mac: string;
  /** CLOCK_MONOTONIC deadline in ns (bpf_ktime_get_ns), 0 for none. */
  readonly leaseExpiryNs: bigint;
  /** Seconds left on the lease when read (negative: expired), null when there is none. */
  readonly leaseRemainingSeconds: number | null;
}

export interface VipEntry {
  readonly vip: string;
  readonly family: number;
  readonly instance: number;
  readonly flags: number;
}

export interface ServiceEntry {
  /** `vip:port/protocol`. */
  readonly service: string;
  readonly vip: string;
  readonly port: number;
  readonly protocol: string;
  readonly family: number;
  /** The service's number (the key of its counters). */
  readonly index: number;
  /** First slot of the live ring in rings. */
  readonly ring: number;
  /** Slots of each of its two rings. */
  readonly ringSize: number;
  /** First slot of its two rings (the live one is region or region + ringSize). */
  readonly region: number;
  readonly instance: number;
  readonly flags: number;
}

export interface RingShare {
  /** Index in reals. */
  readonly real: number;
  /** The real's address, when reals has a valid entry for it. */
  readonly address: string | null;
  readonly slots: number;
}

export interface RingEntry {
  /** First slot of the ring in the rings map. */
  readonly ring: number;
  readonly service: string;
  /** live: the service's current table; idle: the previous one (the next swap writes it). */
  readonly role: 'live' | 'idle';
  readonly slots: number;
  /** Slots per real server, most first. */
  readonly reals: RingShare[];
  /** Slots naming no real server (REAL_NONE). */
  readonly empty: number;
  /** --all: every slot's real index (0xffffffff for none). */
  readonly table?: number[];
}

export interface RealEntry {
  readonly index: number;
  readonly address: string;
  readonly family: number;
  readonly mac: string;
  readonly flags: string[];
}

export interface IfaceMasterEntry {
  /** The bond member (XDP on a bond runs on its members). */
  readonly ifindex: number;
  /** Names from /sys/class/net; null when no interface has that index here. */
  readonly name: string | null;
  readonly master: number;
  readonly masterName: string | null;
}

export interface CounterValue {
  readonly packets: bigint;
  readonly bytes: bigint;
}

export interface CounterEntry extends CounterValue {
  readonly index: number;
  /** Verdict reason, service or real server the slot counts for (null: nothing names it now). */
  readonly label: string | null;
  /** verdicts only: the XDP action of the reason. */
  readonly action?: 'TX' | 'PASS';
  /**
   * verdicts only: true on forward, which the program does not count in
   * verdicts; shown as the sum of real_stats less icmp_forward, per CPU.
   */
  readonly derived?: boolean;
  /** One value per possible CPU; the sum is packets/bytes. */
  readonly perCpu: CounterValue[];
}

/** A connection-table entry (flows4/6): a flow and the real server it stays on. */
export interface FlowEntry {
  readonly client: string;
  /** 0 for a persistent client (every port). */
  readonly clientPort: number;
  readonly vip: string;
  readonly port: number;
  readonly protocol: string;
  /** conn: one connection; client: a persistent client. */
  readonly kind: 'conn' | 'client';
  /** Index in reals, and that real's address when reals has it. */
  readonly real: number;
  readonly address: string | null;
  /** The flow hash (the slot is (hash * ring size) >> 32). */
  readonly hash: number;
  /** Seconds since its last packet the program saw, when read. */
  readonly idleSeconds: number;
  readonly flags: string[];
}

/** A tag of pending4/6 (ABI 7): a flow whose first packet went to `real`, not yet promoted. */
export interface PendingEntry {
  /** Index in the array: the flow hash's low bits. */
  readonly index: number;
  /** The flow hash and the check word (a second hash of the flow key). */
  readonly hash: number;
  readonly check: number;
  readonly real: number;
  readonly address: string | null;
  /** Seconds since the first packet, when read. */
  readonly idleSeconds: number;
}

export interface EntryTypes {
  instances: InstanceEntry;
  vips: VipEntry;
  services4: ServiceEntry;
  services6: ServiceEntry;
  rings: RingEntry;
  reals: RealEntry;
  iface_masters: IfaceMasterEntry;
  verdicts: CounterEntry;
  real_stats: CounterEntry;
  flows4: FlowEntry;
  flows6: FlowEntry;
  pending4: PendingEntry;
  pending6: PendingEntry;
  flow_stats: CounterEntry;
}

export interface MapDump<N extends MapName> {
  readonly name: N;
  readonly path: string;
  /** Kernel map type, e.g. Array, PercpuArray, Hash. */
  readonly type: string;
  readonly maxEntries: number;
  readonly entries: EntryTypes[N][];
  /** Entries left out: empty array slots (without --all), rings no service uses. */
  readonly omitted: number;
  /** What was left out and why, for people. */
  readonly note?: string;
}

/** The dump of map N, as a union over N (so a switch on `name` narrows the entries). */
export type DumpOf<N extends MapName> = { [M in N]: MapDump<M> }[N];
export type AnyMapDump = DumpOf<MapName>;
