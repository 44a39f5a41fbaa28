/**
 * The flow hash of bpf/vipd.bpf.c: jhash_3words (bpf/jhash.h) over
 * (client, VIP, client port << 16 | VIP port) with the protocol mixed into
 * the seed. IPv6 addresses are folded to 32 bits by XOR of their words.
 */
import { HASH_SEED, RING_SIZE } from './abi.js';

function rol32(w: number, s: number): number {
  return ((w << s) | (w >>> (32 - s))) >>> 0;
}

export function jhash3words(a0: number, b0: number, c0: number, initval: number): number {
  const init = (initval + 0xdeadbeef + (3 << 2)) >>> 0;
  let a = (a0 + init) >>> 0;
  let b = (b0 + init) >>> 0;
  let c = (c0 + init) >>> 0;
  c = ((c ^ b) - rol32(b, 14)) >>> 0;
  a = ((a ^ c) - rol32(c, 11)) >>> 0;
  b = ((b ^ a) - rol32(a, 25)) >>> 0;
  c = ((c ^ b) - rol32(b, 16)) >>> 0;
  a = ((a ^ c) - rol32(c, 4)) >>> 0;
  b = ((b ^ a) - rol32(a, 14)) >>> 0;
  c = ((c ^ b) - rol32(b, 24)) >>> 0;
  return c;
}

/** An address as the hash sees it: IPv4 in host order, IPv6 folded. */
export function hashAddr(bytes: Uint8Array, offset: number, family: 4 | 6): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (family === 4) return v.getUint32(offset, false);
  return (v.getUint32(offset) ^ v.getUint32(offset + 4) ^ v.getUint32(offset + 8) ^ v.getUint32(offset + 12)) >>> 0;
}

/** flow_hash() of the C program; ports in host order. */
export function flowHash(src: number, dst: number, sport: number, dport: number, proto: number): number {
  const ports = ((sport << 16) | dport) >>> 0;
  return jhash3words(src, dst, ports, (HASH_SEED ^ proto) >>> 0);
}

/** The ring slot a flow lands on. */
export function ringSlot(hash: number): number {
  return hash % RING_SIZE;
}
