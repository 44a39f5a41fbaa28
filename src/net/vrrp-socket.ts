/**
 * A raw VRRP socket (IP protocol 112) bound to one interface: receives every
 * advertisement with its source, destination, TTL / hop limit and kernel
 * arrival time, and sends advertisements with TTL 255 and TOS 0xc0.
 */
import { native, toNetError } from './errors.js';
import { LoopHandleOwner } from './handle-owner.js';
import { netAddon, type NativePacket, type NativeVrrpSocket, type VrrpRxStats } from './native.js';
import { linkLocalAddress } from './rtnl.js';
import { parseMac } from '../addr.js';

/** The VRRP multicast groups (RFC 9568 §5.1.1.2, §5.1.2.2). */
export const VRRP_GROUP_V4 = '224.0.0.18';
export const VRRP_GROUP_V6 = 'ff02::12';

export interface VrrpSocketOptions {
  /** Interface name, e.g. `eth0`. */
  interface: string;
  family: 4 | 6;
  /** Join 224.0.0.18 / ff02::12 (default true); false for unicast peers only. */
  multicast?: boolean;
  /**
   * Source address of sent adverts. IPv4: the instance's primary address
   * (needed because the v3 checksum covers it); when absent the kernel picks
   * one. IPv6: defaults to the interface's link-local address.
   */
  source?: string;
  /**
   * A virtual MAC (e.g. 00:00:5e:00:01:0a): adverts to the multicast group
   * leave from it (through an AF_PACKET socket, which also holds it in the
   * interface's unicast filter while this socket is open). Unicast adverts
   * keep the interface's MAC.
   */
  vmac?: string;
  /**
   * Multicast adverts leave below the IP layer (an AF_PACKET socket; the
   * kernel adds the Ethernet header from the interface's MAC): no route or
   * neighbour lookup and no netfilter OUTPUT/POSTROUTING per advert.
   * Needs `source` and an Ethernet interface (otherwise, and for unicast
   * adverts or one larger than the MTU, the raw IP socket sends).
   */
  linkLayerSend?: boolean;
}

export interface VrrpPacket {
  source: string;
  destination: string;
  /** TTL (IPv4) or hop limit (IPv6) the packet arrived with. */
  ttl: number;
  ifindex: number;
  /** Arrival time in the CLOCK_MONOTONIC domain (see clock.ts), nanoseconds. */
  arrivalNs: bigint;
  /** arrivalNs in milliseconds: compare with monotonicMs(). */
  arrivalMs: number;
  /** false when the kernel gave no timestamp (then: when the addon read it). */
  kernelTimestamp: boolean;
  /** The VRRP message (for IPv4 the IP header is stripped). */
  payload: Buffer;
}

export interface VrrpSocketEvents {
  packet: [VrrpPacket];
  error: [Error];
  close: [];
}

export class VrrpSocket extends LoopHandleOwner<VrrpSocketEvents, NativeVrrpSocket> {
  readonly interface: string;
  readonly family: 4 | 6;
  readonly multicast: boolean;
  /** The source address sent adverts carry (undefined: the kernel's choice, IPv4 only). */
  readonly source: string | undefined;
  /** The virtual MAC multicast adverts leave from, when one is set. */
  readonly vmac: string | undefined;
  /** @internal the addon handle, for AdvertSender. */
  declare public handle: NativeVrrpSocket | undefined;

  private constructor(opts: VrrpSocketOptions) {
    super();
    this.interface = opts.interface;
    this.family = opts.family;
    this.multicast = opts.multicast ?? true;
    this.vmac = opts.vmac;
    this.source = opts.source ?? (opts.family === 6 ? linkLocalAddress(opts.interface) : undefined);
    if (opts.family === 6 && this.source === undefined) {
      throw toNetError(
        Object.assign(new Error(`no link-local IPv6 address on ${opts.interface}`), { code: 'EADDRNOTAVAIL' }),
        `VRRP socket on ${opts.interface}`,
        'CAP_NET_RAW',
      );
    }
    const addon = netAddon();
    this.handle = native(`VRRP socket on ${opts.interface}`, 'CAP_NET_RAW', () => {
      const h = new addon.VrrpSocketHandle(
        {
          family: this.family,
          ifname: this.interface,
          multicast: this.multicast,
          source: this.source,
          ...(this.vmac === undefined ? {} : { vmac: parseMac(this.vmac) }),
          linkLayerSend: opts.linkLayerSend ?? false,
        },
        (err, packets) => this.onPackets(err, packets),
      );
      return h;
    });
  }

  /** Opens the socket; throws NetError (code VIPD_NET_PRIVILEGE without CAP_NET_RAW). */
  static open(opts: VrrpSocketOptions): VrrpSocket {
    return new VrrpSocket(opts);
  }

  /** The multicast group of this family. */
  get group(): string {
    return this.family === 4 ? VRRP_GROUP_V4 : VRRP_GROUP_V6;
  }


  /** Sends one VRRP message (payload only) to `destination` (default: the group). */
  send(payload: Uint8Array, destination: string = this.group): void {
    const h = this.handle;
    if (!h) throw new Error('VrrpSocket: closed');
    native(`VRRP send to ${destination} on ${this.interface}`, 'CAP_NET_RAW', () => h.send(payload, destination));
  }

  /**
   * Reads every queued packet now and emits them ('packet') before returning.
   * For the engine's drainPending: after an event-loop stall, timers run
   * before I/O, and adverts waiting here must be seen before Master_Down.
   */
  drain(): void {
    this.handle?.drain();
  }

  /**
   * The steady state: from now on, exact repeats of `packet` (same source
   * and destination, TTL / hop limit 255, the same VRRP bytes) are absorbed
   * in native code, counted, and not emitted; takeAbsorbed() tells how many
   * and when the last arrived. Anything else is emitted as usual, and once a
   * packet is emitted nothing after it in the same read is absorbed, so
   * order is kept.
   */
  setSteady(packet: Pick<VrrpPacket, 'source' | 'destination' | 'payload'>): void {
    this.handle?.setSteady(packet.source, packet.destination, packet.payload);
  }

  clearSteady(): void {
    this.handle?.clearSteady();
  }

  /** Adverts absorbed since the last call (count 0: none), and the arrival of the last (ms, CLOCK_MONOTONIC). */
  takeAbsorbed(): { count: number; lastArrivalMs: number } {
    const a = this.handle?.takeAbsorbed();
    return a ? { count: a.count, lastArrivalMs: Number(a.lastArrivalNs) / 1e6 } : { count: 0, lastArrivalMs: 0 };
  }

  /** Totals since open: adverts absorbed natively, packets handed to JS, JS wakeups. */
  rxStats(): VrrpRxStats {
    return this.handle?.rxStats() ?? { absorbed: 0, queued: 0, jsWakes: 0, threadWakes: 0, kernelAbsorbed: 0, kernelAttaches: 0 };
  }

  /**
   * A Master_Down timer that adverts absorbed in the steady state restart
   * without JS: `onExpire` runs at `dueMs`, or `masterDownMs` after the last
   * advert absorbed from now on, whichever is later (ms, CLOCK_MONOTONIC).
   * One per socket: arming again replaces it.
   */
  armMasterDown(dueMs: number, masterDownMs: number, onExpire: () => void): void {
    const h = this.handle;
    if (!h) throw new Error('VrrpSocket: closed');
    h.armMasterDown(BigInt(Math.round(dueMs * 1e6)), BigInt(Math.round(masterDownMs * 1e6)), onExpire);
  }

  disarmMasterDown(): void {
    this.handle?.disarmMasterDown();
  }


  /**
   * close() stops receiving and releases the socket. An AdvertSender made
   * from it keeps the fd (send-only, receive filter drops all) until it is
   * closed. Then 'close' is emitted.
   */
  protected override onClosed(): void {
    this.emit('close');
  }

  private onPackets(err: Error | null, packets: NativePacket[] | undefined): void {
    if (err) {
      const e = toNetError(err, `VRRP receive on ${this.interface}`, 'CAP_NET_RAW');
      this.emit('error', e);
      return;
    }
    for (const p of packets ?? []) {
      if (this.handle === undefined) return;
      const packet: VrrpPacket = { ...p, arrivalMs: Number(p.arrivalNs) / 1e6 };
      try {
        this.emit('packet', packet);
      } catch (listenerErr) {
        // A throwing listener must not lose the rest of the batch.
        queueMicrotask(() => {
          throw listenerErr;
        });
      }
    }
  }
}
