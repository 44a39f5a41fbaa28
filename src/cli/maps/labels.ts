/** Names for the numbers the maps hold: flags, protocols, services, interfaces. */
import { readdirSync, readFileSync } from 'node:fs';
import { FAMILY_V6, INST_F_ACTIVE, INST_F_ROUTED, INST_F_VMAC, IPPROTO_TCP, IPPROTO_UDP, REAL_F_VALID } from '../../dataplane/abi.js';
import { formatAddr } from '../../dataplane/addr.js';

export type FlagNames = Readonly<Record<number, string>>;

export const INSTANCE_FLAGS: FlagNames = { [INST_F_ACTIVE]: 'active', [INST_F_ROUTED]: 'routed', [INST_F_VMAC]: 'vmac' };
export const REAL_FLAGS: FlagNames = { [REAL_F_VALID]: 'valid' };

/** Set bits by name; a bit the ABI does not name shows as `bitN`. */
export function flagNames(flags: number, names: FlagNames): string[] {
  const out: string[] = [];
  for (let bit = 0; bit < 32; bit++) {
    const mask = (1 << bit) >>> 0;
    if ((flags & mask) !== 0) out.push(names[mask] ?? `bit${bit}`);
  }
  return out;
}

export function protocolName(proto: number): string {
  if (proto === IPPROTO_TCP) return 'tcp';
  if (proto === IPPROTO_UDP) return 'udp';
  return `proto${proto}`;
}

/** `203.0.113.42:80/tcp`, `[2001:db8::42]:443/tcp`: the name vipd gives a service without one. */
export function serviceLabel(addr: Buffer, family: number, port: number, proto: number): string {
  const vip = formatAddr(addr, family);
  return `${family === FAMILY_V6 ? `[${vip}]` : vip}:${port}/${protocolName(proto)}`;
}

/** ifindex -> interface name, from /sys/class/net (empty when it cannot be read). */
export function interfaceNames(sysClassNet = '/sys/class/net'): Map<number, string> {
  const names = new Map<number, string>();
  let entries: string[];
  try {
    entries = readdirSync(sysClassNet);
  } catch {
    return names;
  }
  for (const name of entries) {
    try {
      names.set(Number(readFileSync(`${sysClassNet}/${name}/ifindex`, 'utf8').trim()), name);
    } catch {
      // Gone meanwhile, or not an interface.
    }
  }
  return names;
}
