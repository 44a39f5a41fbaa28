import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { virtualMac } from '../../../src/vrrp/index.js';

describe('virtualMac (RFC 9568 7.3)', () => {
  it('is 00:00:5e:00:01:VRID for IPv4 and 00:00:5e:00:02:VRID for IPv6, VRID in hex', () => {
    expect(virtualMac(51, 4)).toBe('00:00:5e:00:01:33');
    expect(virtualMac(1, 6)).toBe('00:00:5e:00:02:01');
    expect(virtualMac(255, 4)).toBe('00:00:5e:00:01:ff');
  });

  it('refuses a VRID outside 1..255', () => {
    expect(() => virtualMac(0, 4)).toThrow(RangeError);
    expect(() => virtualMac(256, 6)).toThrow(RangeError);
  });
});

describe('instances[].vmac', () => {
  const config = (extra: string): string => `instances:
  - name: web
    interface: eth0
    vrid: 51
    vips: [203.0.113.42]${extra}
`;
  const vmacOf = (extra: string): boolean | undefined => {
    const r = parseConfig(config(extra), 'test.yaml');
    if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('; '));
    return r.config.instances[0]?.vmac;
  };
  it('is off unless set, and reads a boolean', () => {
    expect(vmacOf('')).toBe(false);
    expect(vmacOf('\n    vmac: true')).toBe(true);
    const bad = parseConfig(config('\n    vmac: yes please'), 'test.yaml');
    expect(bad.ok ? [] : bad.errors.map((e) => e.keyPath)).toEqual(['instances[0].vmac']);
  });
});
