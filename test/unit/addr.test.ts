import { isIPv4, isIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseIp, parseIpv4, parseIpv6, writeIpv4, writeIpv6 } from '../../src/addr.js';

describe('parseIpv4 / writeIpv4', () => {
  // What node:net accepts is the rule (the parser before this one called isIPv4()).
  const texts = [
    '0.0.0.0',
    '10.0.0.1',
    '255.255.255.255',
    '192.168.1.10',
    '1.2.3.4',
    '256.0.0.1',
    '1.2.3.256',
    '01.2.3.4',
    '1.2.3.04',
    '1.2.3.00',
    '1.2.3',
    '1.2.3.4.5',
    '1..2.3',
    '.1.2.3',
    '1.2.3.',
    '1.2.3.4 ',
    ' 1.2.3.4',
    '1.2.3.4/24',
    '1.2.3.-4',
    '1.2.3.+4',
    '1.2.3.1000',
    '1234.2.3.4',
    'a.b.c.d',
    '1.2.3.4a',
    '::ffff:1.2.3.4',
    '',
    '١.٢.٣.٤',
  ];
  it.each(texts)('accepts %j exactly when node:net isIPv4() does, with its bytes', (text) => {
    const parsed = parseIpv4(text);
    expect(parsed !== null).toBe(isIPv4(text));
    if (parsed) expect([...parsed]).toEqual(text.split('.').map(Number));
  });

  it('writes at the offset and leaves the buffer alone when the text is not an address', () => {
    const buf = Buffer.alloc(8, 0xee);
    expect(writeIpv4('10.1.2.3', buf, 2)).toBe(true);
    expect([...buf]).toEqual([0xee, 0xee, 10, 1, 2, 3, 0xee, 0xee]);
    expect(writeIpv4('10.1.2.300', buf, 2)).toBe(false);
    expect([...buf]).toEqual([0xee, 0xee, 10, 1, 2, 3, 0xee, 0xee]);
  });

  it('still reads an IPv4 tail of an IPv6 address', () => {
    expect(parseIp('::ffff:192.0.2.1')?.bytes.toString('hex')).toBe('00000000000000000000ffffc0000201');
  });
});

describe('parseIpv6 / writeIpv6', () => {
  /** The parser before the hand-written path: node:net decides, the groups are split out. */
  function reference(text: string): Buffer | null {
    const bare = text.split('%')[0];
    if (!isIPv6(bare)) return null;
    const groups: number[] = [];
    const push = (part: string) => {
      if (part === '') return;
      for (const word of part.split(':')) {
        if (word.includes('.')) {
          const v4 = word.split('.').map(Number);
          groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
        } else groups.push(parseInt(word, 16));
      }
    };
    const [head, tail] = bare.split('::');
    push(head);
    const at = groups.length;
    if (tail !== undefined) {
      push(tail);
      groups.splice(at, 0, ...new Array<number>(8 - groups.length).fill(0));
    }
    const out = Buffer.alloc(16);
    groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
    return out;
  }

  const fixed = [
    '::',
    '::1',
    '1::',
    '2001:db8::1',
    '2001:DB8:0:0:8:800:200C:417A',
    '1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7::',
    '::2:3:4:5:6:7:8',
    '1::3:4:5:6:7:8',
    '1:2:3:4:5:6:7:8:9',
    '1::2:3:4:5:6:7:8',
    '1:::2',
    ':::',
    ':1::',
    '1:',
    ':1',
    '1::2::3',
    '12345::',
    'g::1',
    '::ffff:192.0.2.1',
    '64:ff9b::10.0.0.1',
    'fe80::1%eth0',
    '1.2.3.4',
    '',
    ' ::1',
    '::1 ',
    '0000:0000:0000:0000:0000:0000:0000:0001',
  ];
  it.each(fixed)('%j: accepted when node:net isIPv6() accepts it, with the bytes of the general parser', (text) => {
    expect(parseIpv6(text)?.toString('hex') ?? null).toBe(reference(text)?.toString('hex') ?? null);
  });

  it('agrees with the general parser on 20 000 generated texts, and writes at the offset', () => {
    // Deterministic generator (no Math.random: a failure reproduces).
    let seed = 12345;
    const next = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const pieces = ['', '0', '1', 'ab', 'FfFf', '12345', 'g', '0db8'];
    for (let k = 0; k < 20_000; k++) {
      const parts = Array.from({ length: 1 + next(10) }, () => pieces[next(pieces.length)]);
      let text = parts.join(':');
      if (next(4) === 0) text = text.replace(':', '::');
      const want = reference(text);
      expect(parseIpv6(text)?.toString('hex') ?? null, text).toBe(want?.toString('hex') ?? null);
      const buf = Buffer.alloc(20, 0xee);
      expect(writeIpv6(text, buf, 2), text).toBe(want !== null);
      if (want) expect(buf.subarray(2, 18).equals(want), text).toBe(true);
      else expect(buf.equals(Buffer.alloc(20, 0xee)), text).toBe(true);
    }
  });
});
