/**
 * Reads an instance's `bfd: { interval, multiplier, peers }` (DESIGN.md).
 * Empty or absent `peers` means the instance's VRRP unicast peers; a
 * multicast instance has no peer list, so it must name its BFD peers.
 */
import type { BfdInstanceConfig, IpAddress } from '../config/schema.js';
import type { Field, FieldReader } from '../config/yaml-reader.js';

/** Defaults: 10 ms x 3 (30 ms detection), what a loaded 2-core host holds (docs/vrrp.md "BFD"). */
export const BFD_DEFAULTS = { interval: 0.01, multiplier: 3 } as const;
/** The native thread's bounds: 1 ms .. 60 s, RFC 5880's 8-bit Detect Mult. */
export const BFD_LIMITS = { interval: { min: 0.001, max: 60 }, multiplier: { min: 1, max: 255 } } as const;

export function readBfd(
  reader: FieldReader,
  field: Field,
  ctx: { unicastPeers: readonly IpAddress[]; readIp: (f: Field) => IpAddress | undefined },
): BfdInstanceConfig | undefined {
  const fields = reader.mapping(field, ['interval', 'multiplier', 'peers']);
  if (!fields) return undefined;
  const interval = fields.interval
    ? reader.number(fields.interval, { ...BFD_LIMITS.interval, unit: 'seconds' })
    : BFD_DEFAULTS.interval;
  const multiplier = fields.multiplier
    ? reader.number(fields.multiplier, { ...BFD_LIMITS.multiplier, integer: true })
    : BFD_DEFAULTS.multiplier;
  const peers: IpAddress[] = [];
  const seen = new Set<string>();
  for (const item of (fields.peers && reader.list(fields.peers)) || []) {
    const ip = ctx.readIp(item);
    if (!ip) continue;
    if (seen.has(ip.address)) reader.error(item, `BFD peer ${ip.address} is listed twice`);
    seen.add(ip.address);
    peers.push(ip);
  }
  const fromVrrp = peers.length === 0 && !(fields.peers && reader.errors.some((e) => e.keyPath.startsWith(fields.peers!.path)));
  if (fromVrrp && ctx.unicastPeers.length === 0) {
    reader.error(
      fields.peers ?? field,
      'a multicast VRRP instance has no peer list for BFD to follow: name the BFD peers (bfd: { peers: [ADDRESS, ...] }) or use unicastPeers',
    );
    return undefined;
  }
  if (interval === undefined || multiplier === undefined) return undefined;
  return { interval, multiplier, peers: fromVrrp ? [...ctx.unicastPeers] : peers };
}
