/**
 * The instances map: one entry per VRRP instance, saying whether this host
 * serves it (the lease, renewed with every advertisement) and on which
 * interface (ifindex and MAC, so one write activates every VIP and service
 * of the instance).
 */
import type { BpfMap } from '../bpf/index.js';
import { INST_F_ACTIVE, INST_F_ROUTED, instanceCodec, LEASE_FOREVER, type Instance } from './abi.js';
import type { ServingInterface } from './interfaces.js';

/** CLOCK_MONOTONIC in ns: what bpf_ktime_get_ns() reads in the program. */
export function monotonicNs(): bigint {
  return process.hrtime.bigint();
}

export interface InstanceEntry {
  active: boolean;
  leaseExpiryNs: bigint;
  ifindex: number;
}

/** What the native advert sender needs to renew a lease (src/net AdvertSender.setLease). */
export interface LeaseTarget {
  mapFd: number;
  key: Buffer;
  value: Buffer;
  valueOffset: number;
}

export interface ActivateOptions {
  /**
   * The VIPs are reached by routes (announce: bgp): every host serving
   * them forwards, and none answers ARP or neighbour solicitations for
   * them (VIPD_INST_F_ROUTED; the program passes those as pass_routed).
   */
  routed?: boolean;
}

export class InstanceTable {
  /** What each instance entry holds for its interface (read from the map once, then kept). */
  private readonly entryIfaces = new Map<number, ServingInterface>();

  constructor(
    private readonly instances: BpfMap<number, Instance>,
    /** ifindex and MAC of an enabled interface (Interfaces.serving). */
    private readonly serving: (iface: string | number) => ServingInterface,
  ) {}

  /**
   * Serves an instance on an interface until now + leaseSeconds;
   * leaseSeconds = Infinity never expires. `mac` (the VRRP virtual MAC)
   * replaces the interface's as the MAC the instance answers and forwards with.
   */
  activate(instance: number, leaseSeconds: number, iface: string | number, mac?: Buffer, opts: ActivateOptions = {}): void {
    const expiry =
      leaseSeconds === Infinity ? LEASE_FOREVER : monotonicNs() + BigInt(Math.round(leaseSeconds * 1e9));
    const entry = this.activeEntry(expiry, iface, mac, opts);
    // The kernel copies an array value without a lock: a packet may read
    // part of the old entry and part of the new. Only the lease may change
    // in a write that makes the entry active, or a packet could take the
    // new lease with half of the old MAC: a new interface goes in first
    // with the lease still ended.
    const old = this.entryIface(instance);
    if (!old || old.ifindex !== entry.ifindex || !old.mac.equals(entry.mac)) {
      this.instances.update(instance, { ...entry, lease_expiry_ns: 0n, flags: 0 });
      this.entryIfaces.set(instance, { ifindex: entry.ifindex, mac: entry.mac });
    }
    this.instances.update(instance, entry);
  }

  /** The interface an instance entry holds (the map is read once per instance). */
  private entryIface(instance: number): ServingInterface | undefined {
    let v = this.entryIfaces.get(instance);
    if (!v) {
      const e = this.instances.lookup(instance);
      if (e) this.entryIfaces.set(instance, (v = { ifindex: e.ifindex, mac: e.mac }));
    }
    return v;
  }

  private activeEntry(expiry: bigint, iface: string | number, vmac?: Buffer, opts: ActivateOptions = {}): Instance {
    const { ifindex, mac } = this.serving(iface);
    const flags = INST_F_ACTIVE | (opts.routed ? INST_F_ROUTED : 0);
    return { lease_expiry_ns: expiry, ifindex, mac: vmac ?? mac, flags, pad: 0 };
  }

  /** The instances map fd, the key, the active value and where its expiry field sits. */
  leaseTarget(instance: number, iface: string | number, mac?: Buffer): LeaseTarget {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(instance);
    const value = instanceCodec.toBuffer(this.activeEntry(0n, iface, mac));
    const field = instanceCodec.layout.find((f) => f.name === 'lease_expiry_ns');
    if (!field) throw new Error('vipd_instance has no lease_expiry_ns');
    return { mapFd: this.instances.fd, key, value, valueOffset: field.offset };
  }

  /** A lease that ended at 0; the interface is kept (see activate()). */
  deactivate(instance: number): void {
    const old = this.entryIface(instance);
    this.instances.update(instance, {
      lease_expiry_ns: 0n,
      ifindex: old?.ifindex ?? 0,
      mac: old?.mac ?? Buffer.alloc(6),
      flags: 0,
      pad: 0,
    });
  }

  /** Ends the lease of every instance served on an interface that goes away. */
  deactivateOn(ifindex: number): void {
    for (const [id, v] of this.instances.entries()) {
      if (v.ifindex === ifindex && v.lease_expiry_ns !== 0n) this.deactivate(id);
    }
  }

  read(instance: number): InstanceEntry {
    const v = this.instances.lookup(instance);
    return {
      active: !!v && (v.flags & INST_F_ACTIVE) !== 0,
      leaseExpiryNs: v?.lease_expiry_ns ?? 0n,
      ifindex: v?.ifindex ?? 0,
    };
  }
}
