/**
 * Gratuitous ARP and unsolicited neighbour advertisements: pure frame
 * builders (Ethernet frames, byte-exact with keepalived's, see
 * ../shared/KEEPALIVED.md "Wire facts") and sendAnnouncements, which puts
 * them on an interface through AF_PACKET with repeats.
 */
import { isIP } from 'node:net';
import { parseIpv4, parseIpv6, parseMac } from '../addr.js';
import { internetChecksum } from '../checksum.js';
import { native } from './errors.js';
import { netAddon } from './native.js';
import { linkInfo, type LinkRef } from './rtnl.js';

export { formatMac, parseMac } from '../addr.js';

/** Dotted quad -> 4 bytes. */
export function ipv4Bytes(address: string): Buffer {
  const b = parseIpv4(address);
  if (!b) throw new TypeError(`not an IPv4 address: '${address}'`);
  return b;
}

/** IPv6 text (with ::, or a trailing dotted quad) -> 16 bytes. */
export function ipv6Bytes(address: string): Buffer {
  const b = parseIpv6(address);
  if (!b) throw new TypeError(`not an IPv6 address: '${address}'`);
  return b;
}

/**
 * Gratuitous ARP for `vip` (42 bytes, unpadded): ARP request, op 1, sender
 * and target IP both the VIP, target MAC ff:ff:ff:ff:ff:ff, to broadcast.
 */
export function garpFrame(mac: string | Uint8Array, vip: string): Buffer {
  const src = parseMac(mac);
  const ip = ipv4Bytes(vip);
  const f = Buffer.alloc(42);
  f.fill(0xff, 0, 6); // broadcast
  src.copy(f, 6);
  f.writeUInt16BE(0x0806, 12);
  f.writeUInt16BE(1, 14); // htype Ethernet
  f.writeUInt16BE(0x0800, 16); // ptype IPv4
  f[18] = 6;
  f[19] = 4;
  f.writeUInt16BE(1, 20); // op request
  src.copy(f, 22);
  ip.copy(f, 28);
  f.fill(0xff, 32, 38);
  ip.copy(f, 38);
  return f;
}

const ALL_NODES = ipv6Bytes('ff02::1');

/** The Internet checksum of an ICMPv6 message with its IPv6 pseudo-header. */
export function icmpv6Checksum(src: Uint8Array, dst: Uint8Array, icmp: Uint8Array): number {
  // IPv6 pseudo-header: source, destination, upper-layer length, next header 58.
  const lenAndNext = Buffer.alloc(8);
  lenAndNext.writeUInt32BE(icmp.length, 0);
  lenAndNext[7] = 58;
  return internetChecksum(src, dst, lenAndNext, icmp);
}

/**
 * Unsolicited neighbour advertisement for `vip` (86 bytes): from the VIP to
 * ff02::1 (33:33:00:00:00:01), hop limit 255, traffic class 0, O=1 S=0 R=0,
 * target = VIP, target link-layer address option = mac.
 */
export function unsolicitedNaFrame(mac: string | Uint8Array, vip: string): Buffer {
  const src = parseMac(mac);
  const ip = ipv6Bytes(vip);
  const f = Buffer.alloc(14 + 40 + 32);
  Buffer.from([0x33, 0x33, 0, 0, 0, 1]).copy(f, 0);
  src.copy(f, 6);
  f.writeUInt16BE(0x86dd, 12);
  f.writeUInt32BE(0x60000000, 14);
  f.writeUInt16BE(32, 18); // payload length
  f[20] = 58; // ICMPv6
  f[21] = 255;
  ip.copy(f, 22);
  ALL_NODES.copy(f, 38);
  const icmp = f.subarray(54);
  icmp[0] = 136; // neighbour advertisement
  icmp[1] = 0;
  icmp.writeUInt32BE(0x20000000, 4); // O
  ip.copy(icmp, 8);
  icmp[24] = 2; // target link-layer address
  icmp[25] = 1; // 8 bytes
  src.copy(icmp, 26);
  icmp.writeUInt16BE(icmpv6Checksum(ip, ALL_NODES, icmp), 2);
  return f;
}

/** The announcement frame for one VIP of either family. */
export function announcementFrame(mac: string | Uint8Array, vip: string): Buffer {
  return isIP(vip) === 6 ? unsolicitedNaFrame(mac, vip) : garpFrame(mac, vip);
}

/** Sends raw Ethernet frames on an interface (AF_PACKET); needs CAP_NET_RAW. */
export function packetSend(link: LinkRef, frames: readonly Uint8Array[]): void {
  const ifindex = typeof link === 'number' ? link : linkInfo(link).ifindex;
  native(`AF_PACKET send on ${link}`, 'CAP_NET_RAW', () => netAddon().packetSend(ifindex, [...frames]));
}

export interface AnnounceOptions {
  /** Rounds in all (each round: one frame per VIP, in order). Default 1. */
  repeat?: number;
  /** Between rounds, milliseconds. Default 0 (next timer tick). */
  intervalMs?: number;
  /** Source MAC; default the interface's. */
  mac?: string;
}

export interface Announcement extends Disposable {
  /** Frames per round (= number of VIPs). */
  readonly frames: number;
  /** Settles after the last round (rejects with the error of a failed round). */
  readonly done: Promise<void>;
  /** Drops the rounds not sent yet; `done` resolves. */
  cancel(): void;
}

/**
 * Announces `vips` on `link`: the first round leaves before this returns (its
 * failure throws here), the rest on event-loop timers `intervalMs` apart.
 */
export function sendAnnouncements(link: LinkRef, vips: readonly string[], opts: AnnounceOptions = {}): Announcement {
  const info = typeof link === 'number' || opts.mac === undefined ? linkInfo(link) : undefined;
  const mac = opts.mac ?? info?.mac;
  if (!mac) throw new TypeError(`interface ${link} has no MAC address`);
  const ifindex = info?.ifindex ?? linkInfo(link).ifindex;
  const frames = vips.map((v) => announcementFrame(mac, v));
  const rounds = Math.max(1, Math.floor(opts.repeat ?? 1));
  const interval = Math.max(0, opts.intervalMs ?? 0);
  packetSend(ifindex, frames);
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  let settle!: (err?: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err?: unknown) => (err ? reject(err) : resolve());
  });
  let sent = 1;
  const next = (): void => {
    if (cancelled || sent >= rounds) return settle();
    timer = setTimeout(() => {
      timer = undefined;
      if (cancelled) return settle();
      try {
        packetSend(ifindex, frames);
      } catch (err) {
        return settle(err);
      }
      sent++;
      next();
    }, interval);
  };
  next();
  const cancel = (): void => {
    cancelled = true;
    if (timer) clearTimeout(timer);
    timer = undefined;
    settle();
  };
  return { frames: frames.length, done, cancel, [Symbol.dispose]: cancel };
}
