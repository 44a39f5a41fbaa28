/** The instance's `bfd` key: defaults, peers from the VRRP unicast peers, and the multicast error. */
import { describe, expect, it } from 'vitest';
import { formatConfigError, parseConfig } from '../../../src/config/index.js';

function instance(extra: string): string {
  return `instances:
  - name: web
    interface: eth0
    vrid: 51
    vips: [203.0.113.42]
${extra}`;
}

function parsed(text: string) {
  const r = parseConfig(text, 'test.yaml');
  if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('\n'));
  return r.config.instances[0]!;
}

function errors(text: string): string[] {
  const r = parseConfig(text, 'test.yaml');
  if (r.ok) throw new Error('expected errors, config was accepted');
  return r.errors.map(formatConfigError);
}

describe('bfd', () => {
  it('empty peers: the unicast peers, with the defaults filled in', () => {
    const i = parsed(instance('    unicastPeers: [10.0.0.2, 10.0.0.3]\n    bfd: {}\n'));
    expect(i.bfd).toEqual({
      interval: 0.01,
      multiplier: 3,
      peers: [
        { address: '10.0.0.2', family: 4 },
        { address: '10.0.0.3', family: 4 },
      ],
    });
  });

  it('listed peers win; interval and multiplier as written', () => {
    const i = parsed(instance('    bfd: { interval: 0.003, multiplier: 5, peers: [fe80::2, 10.0.0.9] }\n'));
    expect(i.bfd).toEqual({
      interval: 0.003,
      multiplier: 5,
      peers: [
        { address: 'fe80::2', family: 6 },
        { address: '10.0.0.9', family: 4 },
      ],
    });
  });

  it('absent: no BFD', () => {
    expect(parsed(instance('')).bfd).toBeUndefined();
  });

  it('multicast VRRP with no peers: an error naming the key and its line', () => {
    const out = errors(instance('    bfd: { interval: 0.003, multiplier: 3, peers: [] }\n'));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/test\.yaml:6:.*instances\[0\]\.bfd\.peers.*multicast VRRP instance has no peer list/);
  });

  it('out-of-range interval and multiplier are errors', () => {
    const out = errors(instance('    unicastPeers: [10.0.0.2]\n    bfd: { interval: 0.0001, multiplier: 0 }\n'));
    expect(out.join('\n')).toMatch(/bfd\.interval/);
    expect(out.join('\n')).toMatch(/bfd\.multiplier/);
  });
});
