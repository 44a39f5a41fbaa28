import { isIPv4 } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseIp, parseIpv4, writeIpv4 } from '../../src/addr.js';

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
