import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  encodeMessage,
  ENTRIES_PER_DATAGRAM,
  MAX_CLOCK_SKEW_MS,
  MAX_DATAGRAM,
  MessageType,
  ReplayGuard,
  type SyncEntry,
  type SyncMessage,
} from '../../../src/sync/wire.js';

const KEY = Buffer.from('0123456789abcdef-sync-key');

const entry = (i: number, family: 4 | 6 = 4): SyncEntry => {
  const len = family === 4 ? 4 : 16;
  const addr = (last: number) => Buffer.from(Array.from({ length: len }, (_, j) => (j === len - 1 ? last : 10 + j)));
  return { family, proto: 6, kind: 0, client: addr(i), vip: addr(100), cport: 40000 + i, vport: 8080, backend: addr(21 + (i % 4)), idleMs: 3 * i, flags: i & 1, hash: (0x9e3779b9 ^ i) >>> 0 };
};

const message = (entries: SyncEntry[], seq = 1): SyncMessage => ({
  type: MessageType.Entries,
  flags: 0,
  sender: 0xabcdef,
  seq,
  timeMs: Date.now(),
  bulkId: 0,
  value: 0,
  entries,
});

describe('connection sync datagrams', () => {
  it('round-trip IPv4 and IPv6 entries, and a full datagram fits the size limit', () => {
    const entries = Array.from({ length: ENTRIES_PER_DATAGRAM }, (_, i) => entry(i, i % 2 ? 6 : 4));
    const buf = encodeMessage(message(entries), KEY);
    expect(buf.length).toBeLessThanOrEqual(MAX_DATAGRAM);
    const r = decodeMessage(buf, KEY);
    expect(r.ok && r.message.entries).toEqual(entries);
  });

  it('refuses a datagram with another key, a flipped bit, or a cut tail', () => {
    const buf = encodeMessage(message([entry(1)]), KEY);
    expect(decodeMessage(buf, Buffer.from('another-key-of-16+bytes'))).toEqual({ ok: false, reason: 'auth' });
    const flipped = Buffer.from(buf);
    flipped[40] ^= 1;
    expect(decodeMessage(flipped, KEY)).toEqual({ ok: false, reason: 'auth' });
    expect(decodeMessage(buf.subarray(0, buf.length - 1), KEY)).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeMessage(Buffer.from('hello'), KEY)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('refuses more entries than a datagram holds', () => {
    expect(() => encodeMessage(message(Array.from({ length: ENTRIES_PER_DATAGRAM + 1 }, (_, i) => entry(i))), KEY)).toThrow(RangeError);
  });

  it('replay guard: a sequence number seen before, or a clock too far off, is refused', () => {
    const g = new ReplayGuard();
    const now = 1_000_000;
    expect(g.accept({ sender: 1, seq: 5, timeMs: now }, now)).toBe(true);
    expect(g.accept({ sender: 1, seq: 5, timeMs: now }, now)).toBe(false);
    expect(g.accept({ sender: 1, seq: 4, timeMs: now }, now)).toBe(false);
    expect(g.accept({ sender: 1, seq: 6, timeMs: now }, now)).toBe(true);
    // Another sender (a restarted daemon) starts its own sequence.
    expect(g.accept({ sender: 2, seq: 1, timeMs: now }, now)).toBe(true);
    expect(g.accept({ sender: 3, seq: 1, timeMs: now - MAX_CLOCK_SKEW_MS - 1 }, now)).toBe(false);
  });
});
