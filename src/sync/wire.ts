/**
 * The connection-sync datagram (docs/architecture.md "Connection sync"):
 * a 32-byte header, entries of 68 bytes (or, in a Fallbacks datagram, one
 * service's slot fallbacks), and a 16-byte HMAC-SHA256 tag over everything
 * before it. Pure: no sockets, no maps.
 *
 * An entry names its backend by address, never by real index (indexes
 * differ per host); the service is the entry's (vip, vport, proto).
 * Integers are big-endian.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const MAGIC = 0x56535931; // 'VSY1'
export const HEADER_BYTES = 32;
export const ENTRY_BYTES = 68;
export const TAG_BYTES = 16;
/** Datagrams stay below a 1500-byte MTU with IPv6 and UDP headers. */
export const MAX_DATAGRAM = 1400;
export const ENTRIES_PER_DATAGRAM = Math.floor((MAX_DATAGRAM - HEADER_BYTES - TAG_BYTES) / ENTRY_BYTES);
/** A datagram whose clock is further than this from ours is refused (replays of old captures). */
export const MAX_CLOCK_SKEW_MS = 30_000;

export const MessageType = {
  /** Entries: increments, or part of a bulk answer (flag BULK). */
  Entries: 1,
  /** A BACKUP to the MASTER it hears: "I am here" (so a multicast MASTER knows where to send); flag WANT_BULK asks for everything. */
  Hello: 2,
  /** The end of a bulk answer; `value` is how many entries it had. */
  BulkDone: 3,
  /**
   * One service's slot fallbacks, for slots [first, end) of its ring (flag
   * BULK in a bulk answer). A receiver of an older version counts it as
   * malformed and ignores it.
   */
  Fallbacks: 4,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const FLAG_BULK = 1;
export const FLAG_WANT_BULK = 1;

/** One connection-table entry as it travels. */
export interface SyncEntry {
  readonly family: 4 | 6;
  readonly proto: number;
  /** FLOW_CONN or FLOW_CLIENT (persistence: no client port). */
  readonly kind: number;
  /** 4 or 16 bytes. */
  readonly client: Buffer;
  readonly vip: Buffer;
  readonly cport: number;
  readonly vport: number;
  /** The backend's address, in the vip's family. */
  readonly backend: Buffer;
  /** Milliseconds since the flow's last packet, on the sender's clock. */
  readonly idleMs: number;
  readonly flags: number;
  /** The flow hash (the same on every host). */
  readonly hash: number;
}

/** A slot of a Fallbacks datagram whose fallback the receiver keeps as it computed it (PREV_RING, or a real the sender cannot name). */
export const SLOT_KEEP = 0xff;
/** Addresses one Fallbacks datagram can name (a slot's code is a byte; SLOT_KEEP is not one). */
export const MAX_SLOT_ADDRESSES = 255;
/** Fixed part of a Fallbacks body: family, proto, address count, vip, vport, ring size, first, end. */
export const FALLBACKS_FIXED_BYTES = 36;
/** A slot index travels in 24 bits (rings have at most 65 537 slots). */
const SLOT_MASK = 0xffffff;

/**
 * One service's fallbacks for the ring slots [first, end): every slot of
 * that range not listed is clean on the sender (its fallback is its real).
 * A listed slot names where the sender sends a flow its table does not
 * know, by backend address (`addresses[code]`), or SLOT_KEEP.
 */
export interface SyncFallbacks {
  readonly family: 4 | 6;
  readonly proto: number;
  /** 4 or 16 bytes. */
  readonly vip: Buffer;
  readonly vport: number;
  /** The sender's ring size: a receiver whose ring differs ignores the datagram. */
  readonly ringSize: number;
  readonly first: number;
  readonly end: number;
  /** Backend addresses (4 or 16 bytes), at most MAX_SLOT_ADDRESSES. */
  readonly addresses: readonly Buffer[];
  /** Listed slots: slot index and code (an index into addresses, or SLOT_KEEP). */
  readonly slots: readonly { readonly slot: number; readonly code: number }[];
}

/** Slots one Fallbacks datagram holds when it names `addresses` addresses. */
export function slotsPerDatagram(addresses: number): number {
  return Math.floor((MAX_DATAGRAM - HEADER_BYTES - TAG_BYTES - FALLBACKS_FIXED_BYTES - 16 * addresses) / 4);
}

export interface SyncMessage {
  readonly type: MessageType;
  readonly flags: number;
  /** Random per process: tells a restarted sender from a replay of its old datagrams. */
  readonly sender: number;
  readonly seq: number;
  /** The sender's wall clock, ms. */
  readonly timeMs: number;
  /** Which bulk request this answers (Entries with BULK, BulkDone) or asks for (Hello with WANT_BULK). */
  readonly bulkId: number;
  /** BulkDone: entries in the bulk. */
  readonly value: number;
  readonly entries: readonly SyncEntry[];
  /** Fallbacks: the service's slots. */
  readonly fallbacks?: SyncFallbacks;
}

export type DecodeResult = { ok: true; message: SyncMessage } | { ok: false; reason: 'malformed' | 'auth' };

function tag(key: Buffer, body: Buffer): Buffer {
  return createHmac('sha256', key).update(body).digest().subarray(0, TAG_BYTES);
}

function writeAddress(buf: Buffer, at: number, addr: Buffer): void {
  buf.fill(0, at, at + 16);
  addr.copy(buf, at, 0, Math.min(16, addr.length));
}

export function encodeMessage(m: SyncMessage, key: Buffer): Buffer {
  if (m.type === MessageType.Fallbacks) return encodeFallbacks(m, key);
  if (m.entries.length > ENTRIES_PER_DATAGRAM) throw new RangeError(`at most ${ENTRIES_PER_DATAGRAM} entries per datagram, got ${m.entries.length}`);
  const size = HEADER_BYTES + m.entries.length * ENTRY_BYTES;
  const buf = Buffer.alloc(size + TAG_BYTES);
  writeHeader(buf, m, m.entries.length);
  m.entries.forEach((e, i) => {
    const at = HEADER_BYTES + i * ENTRY_BYTES;
    buf.writeUInt8(e.family, at);
    buf.writeUInt8(e.proto, at + 1);
    buf.writeUInt8(e.kind, at + 2);
    writeAddress(buf, at + 4, e.client);
    writeAddress(buf, at + 20, e.vip);
    buf.writeUInt16BE(e.cport, at + 36);
    buf.writeUInt16BE(e.vport, at + 38);
    writeAddress(buf, at + 40, e.backend);
    buf.writeUInt32BE(Math.min(0xffffffff, Math.max(0, Math.round(e.idleMs))), at + 56);
    buf.writeUInt32BE(e.flags >>> 0, at + 60);
    buf.writeUInt32BE(e.hash >>> 0, at + 64);
  });
  tag(key, buf.subarray(0, size)).copy(buf, size);
  return buf;
}

function writeHeader(buf: Buffer, m: SyncMessage, count: number): void {
  buf.writeUInt32BE(MAGIC, 0);
  buf.writeUInt8(m.type, 4);
  buf.writeUInt8(m.flags, 5);
  buf.writeUInt16BE(count, 6);
  buf.writeUInt32BE(m.sender >>> 0, 8);
  buf.writeUInt32BE(m.seq >>> 0, 12);
  buf.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(m.timeMs))), 16);
  buf.writeUInt32BE(m.bulkId >>> 0, 24);
  buf.writeUInt32BE(m.value >>> 0, 28);
}

function encodeFallbacks(m: SyncMessage, key: Buffer): Buffer {
  const f = m.fallbacks;
  if (!f) throw new TypeError('a Fallbacks message needs fallbacks');
  if (f.addresses.length > MAX_SLOT_ADDRESSES) throw new RangeError(`at most ${MAX_SLOT_ADDRESSES} addresses per datagram, got ${f.addresses.length}`);
  if (f.slots.length > slotsPerDatagram(f.addresses.length)) {
    throw new RangeError(`at most ${slotsPerDatagram(f.addresses.length)} slots per datagram with ${f.addresses.length} addresses, got ${f.slots.length}`);
  }
  const size = HEADER_BYTES + FALLBACKS_FIXED_BYTES + 16 * f.addresses.length + 4 * f.slots.length;
  const buf = Buffer.alloc(size + TAG_BYTES);
  writeHeader(buf, m, f.slots.length);
  let at = HEADER_BYTES;
  buf.writeUInt8(f.family, at);
  buf.writeUInt8(f.proto, at + 1);
  buf.writeUInt8(f.addresses.length, at + 2);
  writeAddress(buf, at + 4, f.vip);
  buf.writeUInt16BE(f.vport, at + 20);
  buf.writeUInt32BE(f.ringSize >>> 0, at + 24);
  buf.writeUInt32BE(f.first >>> 0, at + 28);
  buf.writeUInt32BE(f.end >>> 0, at + 32);
  at += FALLBACKS_FIXED_BYTES;
  for (const a of f.addresses) {
    writeAddress(buf, at, a);
    at += 16;
  }
  for (const { slot, code } of f.slots) {
    buf.writeUInt32BE(((code & 0xff) * 2 ** 24 + (slot & SLOT_MASK)) >>> 0, at);
    at += 4;
  }
  tag(key, buf.subarray(0, size)).copy(buf, size);
  return buf;
}

/**
 * The body of an authenticated Fallbacks datagram. Slot items are returned
 * as they came: whether a slot is in range and its code names an address
 * is the receiver's to check (and count), item by item.
 */
function decodeFallbacks(buf: Buffer, count: number): SyncFallbacks | undefined {
  const size = buf.length - TAG_BYTES;
  if (size < HEADER_BYTES + FALLBACKS_FIXED_BYTES) return undefined;
  let at = HEADER_BYTES;
  const family = buf.readUInt8(at);
  if (family !== 4 && family !== 6) return undefined;
  const naddr = buf.readUInt8(at + 2);
  if (size !== HEADER_BYTES + FALLBACKS_FIXED_BYTES + 16 * naddr + 4 * count) return undefined;
  const len = family === 4 ? 4 : 16;
  const head = {
    family,
    proto: buf.readUInt8(at + 1),
    vip: Buffer.from(buf.subarray(at + 4, at + 4 + len)),
    vport: buf.readUInt16BE(at + 20),
    ringSize: buf.readUInt32BE(at + 24),
    first: buf.readUInt32BE(at + 28),
    end: buf.readUInt32BE(at + 32),
  } as const;
  at += FALLBACKS_FIXED_BYTES;
  const addresses: Buffer[] = [];
  for (let i = 0; i < naddr; i++, at += 16) addresses.push(Buffer.from(buf.subarray(at, at + len)));
  const slots: { slot: number; code: number }[] = [];
  for (let i = 0; i < count; i++, at += 4) {
    const word = buf.readUInt32BE(at);
    slots.push({ slot: word & SLOT_MASK, code: word >>> 24 });
  }
  return { ...head, addresses, slots };
}

/** Checks the tag first: nothing of an unauthenticated datagram is parsed beyond its length. */
export function decodeMessage(buf: Buffer, key: Buffer): DecodeResult {
  if (buf.length < HEADER_BYTES + TAG_BYTES || buf.readUInt32BE(0) !== MAGIC) return { ok: false, reason: 'malformed' };
  const count = buf.readUInt16BE(6);
  const type = buf.readUInt8(4);
  if (type === MessageType.Fallbacks) {
    // The body's length depends on its address count: the tag covers all but the last TAG_BYTES.
    const size = buf.length - TAG_BYTES;
    if (!timingSafeEqual(tag(key, buf.subarray(0, size)), buf.subarray(size))) return { ok: false, reason: 'auth' };
    const fallbacks = decodeFallbacks(buf, count);
    if (!fallbacks) return { ok: false, reason: 'malformed' };
    return { ok: true, message: { ...decodeHeader(buf, type), entries: [], fallbacks } };
  }
  const size = HEADER_BYTES + count * ENTRY_BYTES;
  if (buf.length !== size + TAG_BYTES) return { ok: false, reason: 'malformed' };
  if (!timingSafeEqual(tag(key, buf.subarray(0, size)), buf.subarray(size))) return { ok: false, reason: 'auth' };
  if (type !== MessageType.Entries && type !== MessageType.Hello && type !== MessageType.BulkDone) return { ok: false, reason: 'malformed' };
  const entries: SyncEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = HEADER_BYTES + i * ENTRY_BYTES;
    const family = buf.readUInt8(at);
    if (family !== 4 && family !== 6) return { ok: false, reason: 'malformed' };
    const len = family === 4 ? 4 : 16;
    entries.push({
      family,
      proto: buf.readUInt8(at + 1),
      kind: buf.readUInt8(at + 2),
      client: Buffer.from(buf.subarray(at + 4, at + 4 + len)),
      vip: Buffer.from(buf.subarray(at + 20, at + 20 + len)),
      cport: buf.readUInt16BE(at + 36),
      vport: buf.readUInt16BE(at + 38),
      backend: Buffer.from(buf.subarray(at + 40, at + 40 + len)),
      idleMs: buf.readUInt32BE(at + 56),
      flags: buf.readUInt32BE(at + 60),
      hash: buf.readUInt32BE(at + 64),
    });
  }
  return { ok: true, message: { ...decodeHeader(buf, type), entries } };
}

function decodeHeader(buf: Buffer, type: MessageType): Omit<SyncMessage, 'entries'> {
  return {
    type,
    flags: buf.readUInt8(5),
    sender: buf.readUInt32BE(8),
    seq: buf.readUInt32BE(12),
    timeMs: Number(buf.readBigUInt64BE(16)),
    bulkId: buf.readUInt32BE(24),
    value: buf.readUInt32BE(28),
  };
}

/**
 * Replay guard per sender: the wall clock within MAX_CLOCK_SKEW_MS, and a
 * sequence number above the last accepted one from that sender id. A
 * reordered datagram is refused too; the entries it carried come again
 * with the next change or refresh.
 */
export class ReplayGuard {
  readonly #last = new Map<number, { seq: number; at: number }>();

  accept(m: Pick<SyncMessage, 'sender' | 'seq' | 'timeMs'>, nowMs: number): boolean {
    if (Math.abs(nowMs - m.timeMs) > MAX_CLOCK_SKEW_MS) return false;
    const last = this.#last.get(m.sender);
    if (last && m.seq <= last.seq) return false;
    this.#last.set(m.sender, { seq: m.seq, at: nowMs });
    // Senders that went quiet are forgotten after the skew window: their old datagrams are refused by the clock.
    if (this.#last.size > 64) for (const [k, v] of this.#last) if (nowMs - v.at > MAX_CLOCK_SKEW_MS) this.#last.delete(k);
    return true;
  }
}
