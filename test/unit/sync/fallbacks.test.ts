import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { REAL_NONE, SLOT_PREV_RING, SLOT_TRACKED } from '../../../src/dataplane/abi.js';
import { FallbackMirrors, ringToFallbacks } from '../../../src/sync/fallbacks.js';
import {
  decodeMessage,
  encodeMessage,
  MAX_DATAGRAM,
  MessageType,
  SLOT_KEEP,
  slotsPerDatagram,
  type SyncFallbacks,
  type SyncMessage,
} from '../../../src/sync/wire.js';

const KEY = Buffer.from('0123456789abcdef-sync-key');
const VIP = Buffer.from([10, 99, 0, 100]);
const SVC = { family: 4 as const, proto: 6, vip: VIP, vport: 8080 };

const message = (fallbacks: SyncFallbacks, seq = 1): SyncMessage => ({
  type: MessageType.Fallbacks,
  flags: 0,
  sender: 0xabcdef,
  seq,
  timeMs: Date.now(),
  bulkId: 7,
  value: 0,
  entries: [],
  fallbacks,
});

const body = (slots: { slot: number; code: number }[], addresses = [Buffer.from([10, 99, 0, 21])]): SyncFallbacks => ({
  ...SVC,
  ringSize: 509,
  first: 0,
  end: 509,
  addresses,
  slots,
});

/** Every body of a ring through the wire and back, as the receiver gets them. */
function overTheWire(bodies: SyncFallbacks[]): SyncFallbacks[] {
  return bodies.map((b, i) => {
    const buf = encodeMessage(message(b, i + 1), KEY);
    expect(buf.length).toBeLessThanOrEqual(MAX_DATAGRAM);
    const r = decodeMessage(buf, KEY);
    if (!r.ok || !r.message.fallbacks) throw new Error(`decode failed: ${JSON.stringify(r)}`);
    return r.message.fallbacks;
  });
}

describe('connection sync: slot fallbacks on the wire', () => {
  it('round-trip IPv4 and IPv6 bodies, and a full datagram fits the size limit', () => {
    const addresses = [Buffer.from([10, 99, 0, 21]), Buffer.from([10, 99, 0, 22])];
    const full = body(
      Array.from({ length: slotsPerDatagram(2) }, (_, i) => ({ slot: i * 3, code: i % 3 === 2 ? SLOT_KEEP : i % 2 })),
      addresses,
    );
    const buf = encodeMessage(message(full), KEY);
    expect(buf.length).toBeLessThanOrEqual(MAX_DATAGRAM);
    const r = decodeMessage(buf, KEY);
    expect(r.ok && r.message.type).toBe(MessageType.Fallbacks);
    expect(r.ok && r.message.bulkId).toBe(7);
    expect(r.ok && r.message.fallbacks).toEqual(full);

    const v6 = (last: number) => Buffer.from([0x20, 0x01, 0x0d, 0xb8, ...Array<number>(11).fill(0), last]);
    const six: SyncFallbacks = { family: 6, proto: 17, vip: v6(100), vport: 53, ringSize: 65537, first: 65000, end: 65537, addresses: [v6(21)], slots: [{ slot: 65536, code: 0 }] };
    const r6 = decodeMessage(encodeMessage(message(six), KEY), KEY);
    expect(r6.ok && r6.message.fallbacks).toEqual(six);
  });

  it('refuses a datagram with another key, a flipped bit, a cut tail, or an address count that does not match its length', () => {
    const buf = encodeMessage(message(body([{ slot: 1, code: 0 }])), KEY);
    expect(decodeMessage(buf, Buffer.from('another-key-of-16+bytes'))).toEqual({ ok: false, reason: 'auth' });
    const flipped = Buffer.from(buf);
    flipped[40] ^= 1;
    expect(decodeMessage(flipped, KEY)).toEqual({ ok: false, reason: 'auth' });
    expect(decodeMessage(buf.subarray(0, buf.length - 1), KEY)).toEqual({ ok: false, reason: 'auth' });
    // A well-tagged body that lies about its address count: malformed, not parsed.
    const lying = Buffer.from(buf.subarray(0, buf.length - 16));
    lying[32 + 2] = 3;
    const retagged = Buffer.concat([lying, createHmac('sha256', KEY).update(lying).digest().subarray(0, 16)]);
    expect(decodeMessage(retagged, KEY)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('refuses to encode more slots or addresses than a datagram holds', () => {
    expect(() => encodeMessage(message(body(Array.from({ length: slotsPerDatagram(1) + 1 }, (_, i) => ({ slot: i, code: 0 })))), KEY)).toThrow(RangeError);
    expect(() => encodeMessage(message(body([], Array.from({ length: 256 }, () => Buffer.from([10, 0, 0, 1])))), KEY)).toThrow(RangeError);
  });
});

describe('connection sync: the MASTER slot fallbacks on a host that does not serve the service', () => {
  // The MASTER: rs4 (index 7) joined, slots 1 and 3 changed hands (from rs1 = 0, rs2 = 1),
  // slot 5 is tracked, slot 6 asks the previous ring, slot 2 names a real without address.
  const masterAddr = new Map([
    [0, '10.99.0.21'],
    [1, '10.99.0.22'],
    [2, '10.99.0.23'],
    [7, '10.99.0.24'],
  ]);
  const masterRing = {
    real: Uint32Array.from([0, 7, 7, 7, 1, 2, 7, 2]),
    fallback: Uint32Array.from([0, 0, 40, 1, 1, (2 | SLOT_TRACKED) >>> 0, SLOT_PREV_RING, 2]),
  };
  // The receiver: other indexes for the same addresses (rs4 at its alternate index 1020).
  const here = new Map([
    ['10.99.0.21', 10],
    ['10.99.0.22', 11],
    ['10.99.0.23', 12],
    ['10.99.0.24', 1020],
  ]);
  const realOf = (a: string) => here.get(a);
  const ownReal = Uint32Array.from([10, 1020, 1020, 1020, 11, 12, 1020, 12]);

  it('a ring travels by address and is written with the receiver indexes', () => {
    const mirrors = new FallbackMirrors();
    for (const f of overTheWire(ringToFallbacks(SVC, masterRing, masterAddr))) expect(mirrors.apply('web', f)).toEqual({ applied: f.end - f.first, bad: 0 });
    // What the receiver computed itself (its health saw everything DOWN: all clean), and what it writes instead.
    const own = { real: ownReal, fallback: Uint32Array.from(ownReal) };
    own.fallback[6] = SLOT_PREV_RING;
    expect([...mirrors.fallbackWords('web', own, realOf)!]).toEqual([
      10, // clean
      10, // changed: rs1 here
      1020, // no address for real 40 on the MASTER: kept as computed here
      11, // changed: rs2 here
      11, // clean
      (12 | SLOT_TRACKED) >>> 0, // tracked
      SLOT_PREV_RING, // kept
      12, // clean
    ]);
  });

  it('a slot whose target is the real here is tracked; an address unknown here keeps the own fallback', () => {
    const mirrors = new FallbackMirrors();
    for (const f of ringToFallbacks(SVC, masterRing, masterAddr)) mirrors.apply('web', f);
    // Here slot 1 already has rs1 as its real (a backend is DOWN from here), and rs2 is not configured.
    const real = Uint32Array.from([10, 10, 1020, 1020, 11, 12, 1020, 12]);
    const words = mirrors.fallbackWords('web', { real, fallback: Uint32Array.from(real) }, (a) => (a === '10.99.0.22' ? undefined : realOf(a)))!;
    expect(words[1]).toBe((10 | SLOT_TRACKED) >>> 0);
    expect(words[3]).toBe(1020);
  });

  it('a ring larger than one datagram spans several, each covering its own range; a lost one leaves its range as computed here', () => {
    const size = 65537;
    const addr = new Map(Array.from({ length: 300 }, (_, i) => [i, `10.${(i >> 8) & 255}.${i & 255}.1`] as const));
    const ring = { real: new Uint32Array(size), fallback: new Uint32Array(size) };
    for (let i = 0; i < size; i++) {
      ring.real[i] = i % 300;
      ring.fallback[i] = i % 4 === 0 ? (i * 7) % 300 : i % 300;
    }
    const bodies = ringToFallbacks(SVC, ring, addr);
    expect(bodies.length).toBeGreaterThan(1);
    expect(bodies[0].first).toBe(0);
    expect(bodies.at(-1)!.end).toBe(size);
    for (let i = 1; i < bodies.length; i++) expect(bodies[i].first).toBe(bodies[i - 1].end);
    const wire = overTheWire(bodies);
    const ident = (a: string) => [...addr].find(([, x]) => x === a)?.[0];
    const mirrors = new FallbackMirrors();
    for (const f of wire.filter((_, i) => i !== 1)) mirrors.apply('big', f);
    const own = { real: ring.real, fallback: Uint32Array.from(ring.real) };
    const words = mirrors.fallbackWords('big', own, ident)!;
    const lost = wire[1];
    for (let i = 0; i < size; i++) {
      const want = i >= lost.first && i < lost.end ? own.fallback[i] : ring.fallback[i] === ring.real[i] ? ring.real[i] : ring.fallback[i];
      if (words[i] !== want) throw new Error(`slot ${i}: ${words[i]} != ${want}`);
    }
  });

  it('counts slots out of the range or naming no address, and takes the rest', () => {
    const mirrors = new FallbackMirrors();
    const f: SyncFallbacks = { ...body([]), first: 10, end: 20, slots: [{ slot: 12, code: 0 }, { slot: 25, code: 0 }, { slot: 13, code: 9 }] };
    expect(mirrors.apply('web', f)).toEqual({ applied: 8, bad: 2 });
    const real = new Uint32Array(509).fill(11);
    const words = mirrors.fallbackWords('web', { real, fallback: new Uint32Array(509).fill(REAL_NONE) }, () => 10)!;
    expect(words[12]).toBe(10);
    expect(words[13]).toBe(11); // clean: in the range, not listed
    expect(words[5]).toBe(REAL_NONE); // outside every range received: kept
    expect(mirrors.fallbackWords('web', { real: new Uint32Array(251), fallback: new Uint32Array(251) }, () => 10)).toBeUndefined();
  });
});
