/**
 * The flow hash of bpf/vipd.bpf.c: jhash_3words (bpf/jhash.h) over the
 * client's address, the VIP and the two ports (client's first), each word
 * the little-endian reading of its four bytes as they are in the packet
 * (what the program loads, without byte swaps). IPv6 addresses are folded
 * to one word by XOR of their four. Then the ring slot: the hash scaled to
 * the ring size by a multiply and a shift.
 */
import { HASH_SEED, PENDING_MULTIPLIERS } from '../../src/dataplane/abi.js';

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

/** An address as the hash sees it: IPv4's four bytes little-endian, IPv6 folded. */
export function hashAddr(bytes: Uint8Array, offset: number, family: 4 | 6): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (family === 4) return v.getUint32(offset, true);
  return (
    (v.getUint32(offset, true) ^
      v.getUint32(offset + 4, true) ^
      v.getUint32(offset + 8, true) ^
      v.getUint32(offset + 12, true)) >>>
    0
  );
}

/**
 * The ports word: the client's port then the VIP's, as they sit in a packet
 * from the client (network order), read little-endian. Ports are numbers.
 */
export function portsWord(clientPort: number, vipPort: number): number {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(clientPort, 0);
  b.writeUInt16BE(vipPort, 2);
  return b.readUInt32LE(0);
}

/** flow_hash() of the C program: hashAddr() words and a portsWord(). */
export function flowHash(client: number, vip: number, ports: number): number {
  return jhash3words(client, vip, ports, HASH_SEED);
}

/** ring_slot() of the C program: (hash * ring_size) >> 32 (exact: the product stays below 2^53). */
export function ringSlot(hash: number, ringSize: number): number {
  return Math.floor(((hash >>> 0) * ringSize) / 2 ** 32);
}

/**
 * pending_check() of the C program: the top half of the sum, mod 2^64, of
 * each 32-bit little-endian word of a whole flow table key (struct
 * vipd_flow4_key / vipd_flow6_key as bytes: an IPv6 client's four words,
 * not their XOR) times its multiplier.
 */
export function pendingCheck(key: Uint8Array): number {
  const v = new DataView(key.buffer, key.byteOffset, key.byteLength);
  let h = 0n;
  for (let i = 0; i < key.byteLength / 4; i++) h += BigInt(v.getUint32(i * 4, true)) * (PENDING_MULTIPLIERS[i] ?? 0n);
  return Number(BigInt.asUintN(64, h) >> 32n);
}

/** struct vipd_pending.tag of a flow: check << 32 | flow hash. */
export function pendingTag(key: Uint8Array, hash: number): bigint {
  return (BigInt(pendingCheck(key)) << 32n) | BigInt(hash >>> 0);
}
