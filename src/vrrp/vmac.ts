/**
 * The VRRP virtual router MAC address (RFC 9568 sec. 7.3): the one MAC every
 * router of a virtual router answers with, so a client's ARP/ND entry for a
 * VIP stays right across a failover.
 */

/** 00:00:5e:00:01:VRID for IPv4, 00:00:5e:00:02:VRID for IPv6. */
export function virtualMac(vrid: number, family: 4 | 6): string {
  if (!Number.isInteger(vrid) || vrid < 1 || vrid > 255) throw new RangeError(`VRID ${vrid} is out of range 1..255`);
  return `00:00:5e:00:0${family === 6 ? 2 : 1}:${vrid.toString(16).padStart(2, '0')}`;
}
