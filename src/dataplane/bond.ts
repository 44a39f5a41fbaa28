/**
 * Bond members, from sysfs. XDP attached to a bond runs on the bond's
 * members, and the frames it sees carry a member's ifindex, not the bond's:
 * the manager records each member against its bond (the iface_masters map)
 * so that an instance configured on the bond is served on its members.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BondMember {
  name: string;
  ifindex: number;
}

/**
 * The members of a bond, or [] when name is not a bond (or has none).
 * sysClassNet is /sys/class/net; tests pass a directory of their own.
 */
export function bondMembers(name: string, sysClassNet = '/sys/class/net'): BondMember[] {
  const slavesFile = join(sysClassNet, name, 'bonding', 'slaves');
  if (!existsSync(slavesFile)) return [];
  const names = readFileSync(slavesFile, 'utf8').split(/\s+/).filter(Boolean);
  return names.map((member) => {
    const text = readFileSync(join(sysClassNet, member, 'ifindex'), 'utf8').trim();
    const ifindex = Number(text);
    if (!Number.isInteger(ifindex) || ifindex <= 0) {
      throw new Error(`bond ${name}: member ${member} has no ifindex in ${sysClassNet} (read '${text}')`);
    }
    return { name: member, ifindex };
  });
}
